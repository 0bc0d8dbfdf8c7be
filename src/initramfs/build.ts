import { createHash } from 'node:crypto';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Logger, nullLogger } from '../log/logger.js';
import { addBinary, addEntry, addInitDir, addRootFiles, hostFile } from './add-files.js';
import { ArchiveLayout } from './archive-layout.js';
import { archOfElfMachine } from './arch.js';
import { busyboxApplets } from './busybox.js';
import { type Compression, compress, gzip, zstd } from './compress.js';
import { type CpioEntry, writeCpio } from './cpio.js';
import { parseElf64 } from './elf/elf64.js';
import { resolveSharedLibraries } from './elf/shared-libraries.js';
import { findFirmware } from './firmware.js';
import { chooseKernelVersion, findKernels } from './kernel-version.js';
import { type InitrdManifest, MANIFEST_PATH, encodeManifest } from './manifest.js';
import { modprobeConfig } from './modprobe-conf.js';
import { moduleFirmware, readModuleFile } from './modules/module-file.js';
import { moduleCompression, plainModulePath } from './modules/names.js';
import { selectBootModules, supportedRootModes } from './modules/select.js';
import type { RootMode } from '../config/types.js';
import { loadModuleTree } from './modules/tree.js';
import { moduleIndexFiles } from './modules/write-index.js';
import { resolveInRoot } from './root-path.js';
import { writeFileAtomic } from '../files/atomic-write.js';

export interface BuildInitramfsOptions {
  /** Where the archive goes; written atomically. */
  output: string;
  /** The image root whose kernel modules and binaries are used; "/" by default. */
  root?: string;
  /** Default: the image's only kernel, the one its /vmlinuz names, or the newest (see chooseKernelVersion). */
  kernelVersion?: string;
  /** NIC drivers to carry; undefined = every network driver of the kernel. */
  drivers?: readonly string[] | undefined;
  extraModules?: readonly string[] | undefined;
  /** Root modes whose modules must be there; the others' are carried when the kernel has them. */
  requireRootModes?: readonly RootMode[] | undefined;
  /** A busybox on the host; static (busybox-static) so it runs whatever the image's libc. */
  busybox?: string;
  /** Absolute paths inside `root`, copied with the shared libraries they need from `root`. */
  binaries?: readonly string[];
  /**
   * Tools /init needs that an image may lack (nbd-client), copied from `hostRoot` with its
   * libraries. A library the image also provides must then be the same file.
   */
  hostBinaries?: readonly string[];
  /**
   * Where `hostBinaries` come from: this host ("/", the default), or for an image of another
   * architecture a tree of that architecture's packages (archTools in arch-packages.ts).
   */
  hostRoot?: string;
  /** A host directory copied to the archive's "/" (init and its stages); its "init" must be executable. */
  initDir?: string;
  extraFiles?: readonly CpioEntry[];
  compression?: Compression;
  /** gzip 1–9 (default 6), zstd 1–19 (default 9); see DEFAULT_LEVELS. */
  compressionLevel?: number;
  /** Seconds written as every entry's mtime; default SOURCE_DATE_EPOCH, else 0. */
  mtime?: number;
  logger?: Logger;
  /** Archive bytes written so far of about `total` (file contents; headers make it a little more). */
  onProgress?: (done: number, total: number) => void;
}

export interface InitramfsSummary {
  path: string;
  /** Size of the written file (= compressedBytes). */
  size: number;
  kernelVersion: string;
  /** Module names in load order. */
  modules: string[];
  moduleCount: number;
  /** Requested modules the kernel has built in. */
  builtin: string[];
  /** Archive entries (files, directories, symlinks, devices). */
  files: number;
  compressedBytes: number;
  uncompressedBytes: number;
  /** Root modes this initramfs can attach: live always, nbd and nfs when it has their modules. */
  rootModes: RootMode[];
  /** Firmware files carried (names as the drivers ask for them). */
  firmware: string[];
  /** Firmware files the carried drivers name that the image does not have (most drivers name files for chips not present). */
  firmwareMissing: number;
  /** The image's modprobe.d files carried, as found in the image. */
  modprobeConfig: string[];
  /** Optional modules the kernel lacks, soft dependencies not found, a dynamic busybox. */
  warnings: string[];
}

export const DEFAULT_BUSYBOX = '/bin/busybox';

function machineOf(elf: Uint8Array): number | undefined {
  const parsed = parseElf64(elf);
  return parsed.ok ? parsed.elf.machine : undefined;
}

function machineName(machine: number): string {
  return archOfElfMachine(machine) ?? `ELF machine ${machine}`;
}

/** Directories /init and its stages rely on before anything is mounted. */
const STANDARD_DIRS: ReadonlyArray<readonly [string, number]> = [
  ['bin', 0o755], ['dev', 0o755], ['etc', 0o755], ['lib', 0o755], ['mnt', 0o755], ['newroot', 0o755],
  ['proc', 0o755], ['root', 0o700], ['run', 0o755], ['sbin', 0o755], ['sys', 0o755], ['tmp', 0o1777],
  ['usr/bin', 0o755], ['usr/lib', 0o755], ['usr/sbin', 0o755], ['var', 0o755],
];

/** Top-level links of a merged-/usr image, mirrored so the archive's paths match the image's. */
const MERGED_USR_LINKS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

function defaultMtime(): number {
  const epoch = process.env['SOURCE_DATE_EPOCH'];
  return epoch !== undefined && /^\d+$/.test(epoch) ? Number(epoch) : 0;
}

async function* counted(source: AsyncIterable<Uint8Array>, count: { bytes: number }, onChunk?: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    count.bytes += chunk.length;
    onChunk?.(count.bytes);
    yield chunk;
  }
}

/**
 * Modules read (and decompressed: one xz or zstd process each) at once. Two CPUs are the least
 * a build host has; a few more in flight hide the process start-up.
 */
const MODULE_READERS = 4;

/** `fn` over `items`, at most `limit` at once; results in the items' order. */
async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Measured on the all-NIC archive of Debian's 6.1 (52 MB of cpio): zstd -9 gives 11.7 MB in
 * 1.7 s, -19 gives 10.4 MB in 29 s; gzip -6 gives 14.2 MB in 1.7 s, -9 saves 0.5% in 20 s. A
 * megabyte more per boot costs milliseconds over HTTP; half a minute per image build is felt.
 * zstd -9 is also what Debian's mkinitramfs uses.
 */
export const DEFAULT_LEVELS = { gzip: 6, zstd: 9 } as const;

function compressed(source: AsyncIterable<Uint8Array>, format: Compression, level: number | undefined): AsyncIterable<Uint8Array> {
  if (format === 'none') return compress(source, format);
  return format === 'gzip' ? gzip(source, level ?? DEFAULT_LEVELS.gzip) : zstd(source, level ?? DEFAULT_LEVELS.zstd);
}

/**
 * Builds a network-boot initramfs from an image's own kernel modules (never the host's unless
 * root is "/"), a static busybox, the init files and any extra binaries, and writes it
 * atomically. The same inputs give the same bytes: entries are sorted, owners are root, and
 * every mtime is `mtime`.
 */
export async function buildInitramfs(options: BuildInitramfsOptions): Promise<InitramfsSummary> {
  const log = (options.logger ?? nullLogger).child({ service: 'initramfs' });
  const root = resolve(options.root ?? '/');
  const compression = options.compression ?? 'zstd';
  const kernelVersion = options.kernelVersion ?? (await chooseKernelVersion(root));
  const warnings: string[] = [];

  const tree = await loadModuleTree(root, kernelVersion);
  if (!(await findKernels(root)).kernels.some((k) => k.version === kernelVersion)) {
    // A kernel loads only the modules built for it: a node must boot the kernel these modules are for.
    warnings.push(`the image has no kernel file for ${kernelVersion}: boot it only with kernel ${kernelVersion}, the one these modules are for`);
  }
  const selected = selectBootModules(tree, { drivers: options.drivers, extraModules: options.extraModules, requireRootModes: options.requireRootModes });
  if (selected.errors.length > 0) throw new Error(selected.errors.join('\n'));
  warnings.push(...selected.warnings);
  const carried = new Set([...selected.modules.map((m) => m.name), ...selected.builtin, ...tree.builtin]);
  const rootModes = supportedRootModes((n) => carried.has(n));

  const layout = new ArchiveLayout();
  for (const name of MERGED_USR_LINKS) {
    const st = await lstat(join(root, name)).catch(() => undefined);
    if (st?.isSymbolicLink()) layout.addSymlink(name, await readlink(join(root, name)));
  }

  // Modules keep their paths under /lib/modules/VERSION, decompressed: modprobe finds them
  // through modules.dep, which names them as plain ".ko" files.
  for (const link of tree.dirLinks) layout.addSymlink(link.path, link.target);
  const modulesDir = `lib/modules/${kernelVersion}`;
  const read = await inParallel(selected.modules, MODULE_READERS, async (m) => {
    const host = await resolveInRoot(root, `${tree.dir}/${m.path}`);
    if (!host.ok || !host.stats.isFile()) {
      throw new Error(`Cannot add module ${m.name} for kernel ${kernelVersion}: ${host.ok ? 'not a regular file' : host.error} (modules.dep is stale; run depmod)`);
    }
    const elf = await readModuleFile(host.hostPath, m.path);
    let firmware: string[] = [];
    try {
      firmware = moduleFirmware(elf);
    } catch (e) {
      warnings.push(`module ${m.name}: ${(e as Error).message}; its firmware, if any, is not added`);
    }
    // A plain module streams from its file when the archive is written; a decompressed one is kept.
    const data = moduleCompression(m.path) === undefined ? hostFile(host.hostPath, host.stats.size) : elf;
    return { m, data, source: host.hostPath, firmware, machine: machineOf(elf) };
  });
  for (const { m, data, source } of read) layout.addFile(`${modulesDir}/${plainModulePath(m.path)}`, 0o644, data, source);
  for (const f of moduleIndexFiles(tree, selected.modules)) {
    layout.addFile(`${modulesDir}/${f.name}`, 0o644, Buffer.from(f.content, 'utf8'), `generated:${f.name}`);
  }

  // Firmware the drivers name, when the image has it: a NIC that needs it (bnx2, tg3 variants,
  // many 10/25 GbE cards) has no link without it, and the root comes over that link.
  const firmwareNames = [...new Set(read.flatMap((r) => r.firmware))].sort();
  const firmware: string[] = [];
  for (const name of firmwareNames) {
    const found = await findFirmware(root, kernelVersion, name);
    if (found === undefined) continue;
    layout.addFile(found.archivePath, 0o644, hostFile(found.hostPath, found.size), found.hostPath);
    firmware.push(name);
  }

  const modprobeConf = await modprobeConfig(root);
  for (const c of modprobeConf) layout.addFile(`etc/modprobe.d/${c.name}`, 0o644, c.content, `image:${c.from}`);

  for (const binary of options.binaries ?? []) await addBinary(layout, root, binary);
  for (const binary of options.hostBinaries ?? []) await addBinary(layout, options.hostRoot ?? '/', binary);

  const busybox = options.busybox ?? DEFAULT_BUSYBOX;
  const busyboxBytes = await readFile(busybox);
  const busyboxElf = parseElf64(busyboxBytes);
  if (!busyboxElf.ok) throw new Error(`Cannot use ${busybox} as busybox: ${busyboxElf.error}`);
  // The kernel runs /init with the busybox it finds: one built for another machine fails with
  // "exec format error" and a panic, long after the build.
  const moduleMachine = read[0]?.machine;
  if (moduleMachine !== undefined && busyboxElf.elf.machine !== moduleMachine) {
    throw new Error(`Cannot use ${busybox} as busybox: it is for ${machineName(busyboxElf.elf.machine)}, the kernel's modules for ${machineName(moduleMachine)}`);
  }
  const busyboxArch = archOfElfMachine(busyboxElf.elf.machine);
  if (busyboxArch === undefined) throw new Error(`Cannot use ${busybox} as busybox: it is for ${machineName(busyboxElf.elf.machine)}`);
  if (busyboxElf.elf.dynamic) {
    // Its libraries come from the host then, since that is where this busybox was built for.
    warnings.push(`${busybox} is dynamically linked; its libraries are taken from the host (install busybox-static)`);
    const libs = await resolveSharedLibraries('/', busybox);
    if (libs.missing.length > 0 || libs.errors.length > 0) throw new Error(`Cannot use ${busybox} as busybox: its libraries are not all on this host`);
    await addRootFiles(layout, libs.files);
  }
  layout.addFile('bin/busybox', 0o755, busyboxBytes, busybox);

  for (const [dir, mode] of STANDARD_DIRS) layout.addDir(dir, mode);
  // The kernel opens /dev/console for init's stdio before /init could mount devtmpfs.
  if (!layout.has('dev/console')) layout.addDevice('dev/console', 0o600, 'char', 5, 1);
  if (!layout.has('dev/null')) layout.addDevice('dev/null', 0o666, 'char', 1, 3);

  if (options.initDir !== undefined) await addInitDir(layout, options.initDir);
  else warnings.push('no init directory: the archive has no /init');
  for (const e of options.extraFiles ?? []) addEntry(layout, e);

  // Applets last: an init file or image binary at the same path wins over the busybox link.
  for (const applet of await busyboxApplets(busybox, busyboxArch)) {
    if (!layout.has(applet)) layout.addSymlink(applet, '/bin/busybox');
  }

  const manifest: InitrdManifest = {
    format: 'diskless-initrd/1',
    kernelVersion,
    modules: selected.modules.map((m) => ({ name: m.name, path: plainModulePath(m.path) })),
    builtin: [...selected.builtin].sort(),
    rootModes,
    firmware,
    modprobeConfig: modprobeConf.map((c) => c.from),
    options: {
      drivers: options.drivers === undefined ? 'all' : [...options.drivers],
      extraModules: [...(options.extraModules ?? [])],
      binaries: [...(options.binaries ?? [])],
      hostBinaries: [...(options.hostBinaries ?? [])],
      compression,
      busyboxSha256: createHash('sha256').update(busyboxBytes).digest('hex'),
    },
  };
  layout.addFile(MANIFEST_PATH, 0o644, encodeManifest(manifest), 'generated:manifest');

  const entries = layout.entries();
  const raw = { bytes: 0 };
  const total = entries.reduce((n, e) => n + (e.type === 'file' ? (e.data instanceof Uint8Array ? e.data.length : e.data.size) : 0), 0);
  const onProgress = options.onProgress;
  const cpio = counted(writeCpio(entries, { mtime: options.mtime ?? defaultMtime() }), raw, onProgress && ((done) => onProgress(Math.min(done, total), total)));
  const written = await writeFileAtomic(options.output, compressed(cpio, compression, options.compressionLevel));
  for (const w of warnings) log.log('warn', w, { kernelVersion });
  const summary: InitramfsSummary = {
    path: options.output,
    size: written,
    kernelVersion,
    modules: selected.modules.map((m) => m.name),
    moduleCount: selected.modules.length,
    builtin: [...selected.builtin].sort(),
    rootModes,
    firmware,
    firmwareMissing: firmwareNames.length - firmware.length,
    modprobeConfig: modprobeConf.map((c) => c.from),
    files: entries.length,
    compressedBytes: written,
    uncompressedBytes: raw.bytes,
    warnings,
  };
  log.log('info', 'initramfs built', {
    file: options.output,
    kernelVersion,
    modules: summary.moduleCount,
    firmware: firmware.length,
    rootModes: rootModes.join(','),
    bytes: written,
    uncompressedBytes: raw.bytes,
  });
  return summary;
}
