import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type CpioEntry, writeCpio } from '../initramfs/cpio.js';
import { type Compression, compress } from '../initramfs/compress.js';
import { pathExists } from '../files/path-exists.js';

/** The line /init prints; tests match it with `markerPattern`. */
export const MARKER_PREFIX = 'DISKLESS-MARKER';

export interface TinyInitramfsOptions {
  /** Printed after MARKER_PREFIX so a test knows the boot it sees is its own. */
  markerId: string;
  /** Built archives are kept here under a name derived from their content. */
  cacheDir: string;
  /** A static busybox; a dynamic one would need its libraries in the archive. */
  busyboxPath?: string;
  /** Shell run by /init after the mounts and before the marker (e.g. bring up a NIC). */
  extraInit?: string;
  /** Power the machine off after the marker (default) so QEMU exits; otherwise start a shell. */
  poweroff?: boolean;
  /** gzip by default; every Debian kernel unpacks it. */
  compression?: Exclude<Compression, 'none'>;
}

export interface TinyInitramfs {
  path: string;
  fromCache: boolean;
}

// Bump when the layout below changes, so cached archives built by older code are not reused.
const LAYOUT_VERSION = 2;

const MARKER_ID = /^[A-Za-z0-9._-]{1,64}$/;

// Installed as real symlinks so /init works before `busybox --install` runs.
const CORE_APPLETS = ['sh', 'mount', 'cat', 'echo', 'sleep', 'mkdir', 'poweroff'];

export function markerPattern(markerId: string): RegExp {
  // The line's end is part of the match: the console arrives in pieces, and a pattern that
  // matched a line still being written would capture only its beginning.
  return new RegExp(`${MARKER_PREFIX} ${markerId.replace(/[.]/g, '\\.')} cmdline=([^\\r\\n]*)\\r?\\n`);
}

export function initScript(options: Pick<TinyInitramfsOptions, 'markerId' | 'extraInit' | 'poweroff'>): string {
  if (!MARKER_ID.test(options.markerId)) {
    throw new Error(`Cannot build tiny initramfs: marker id "${options.markerId}" must match ${MARKER_ID}`);
  }
  const end = options.poweroff === false
    ? '# cttyhack gives the shell job control on the console\nexec setsid cttyhack sh'
    : // -f: there is no init daemon to ask; the kernel powers off and QEMU (-no-reboot) exits.
      'poweroff -f';
  return [
    '#!/bin/sh',
    'export PATH=/bin:/sbin:/usr/bin:/usr/sbin',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t devtmpfs devtmpfs /dev',
    '/bin/busybox --install -s',
    // Kernel messages (e.g. the late TSC calibration) would otherwise land in the middle of the
    // marker line on the serial console; only emergencies still reach it.
    'echo 1 > /proc/sys/kernel/printk',
    options.extraInit ?? '',
    `echo "${MARKER_PREFIX} ${options.markerId} cmdline=$(cat /proc/cmdline)" > /dev/console`,
    end,
    '',
  ].join('\n');
}

function entries(busybox: Buffer, init: string): CpioEntry[] {
  const dirs = ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'run', 'etc', 'root'];
  return [
    ...dirs.map((path): CpioEntry => ({ type: 'dir', path, mode: path === 'tmp' ? 0o1777 : 0o755 })),
    // The kernel opens /dev/console for init's stdio before init runs, so devtmpfs comes too late.
    { type: 'device', path: 'dev/console', mode: 0o600, kind: 'char', major: 5, minor: 1 },
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: busybox },
    ...CORE_APPLETS.map((a): CpioEntry => ({ type: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    { type: 'file', path: 'init', mode: 0o755, data: Buffer.from(init) },
  ];
}

/** Builds (or finds in the cache) a compressed initramfs that prints a marker and powers off. */
export async function buildTinyInitramfs(options: TinyInitramfsOptions): Promise<TinyInitramfs> {
  const init = initScript(options);
  const compression = options.compression ?? 'gzip';
  const busybox = await readFile(options.busyboxPath ?? '/bin/busybox');
  const key = createHash('sha256')
    .update(`tiny-initramfs v${LAYOUT_VERSION}\0`)
    .update(createHash('sha256').update(busybox).digest('hex'))
    .update('\0')
    .update(init)
    .update(`\0${compression}`)
    .digest('hex');
  const suffix = compression === 'gzip' ? 'gz' : 'zst';
  const path = join(options.cacheDir, `tiny-initramfs-${key.slice(0, 24)}.cpio.${suffix}`);
  if (await pathExists(path)) return { path, fromCache: true };

  await mkdir(options.cacheDir, { recursive: true });
  // Written aside then renamed: a concurrent builder or a crash never leaves a half file under `path`.
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await pipeline(Readable.from(compress(writeCpio(entries(busybox, init)), compression)), createWriteStream(tmp));
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
  return { path, fromCache: false };
}

