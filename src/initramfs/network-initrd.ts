import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultHelperCacheDir } from '../files/cache-dir.js';
import { hostArch, imageArch } from './arch.js';
import { archTools } from './arch-packages.js';
import { buildInitramfs, type BuildInitramfsOptions, type InitramfsSummary } from './build.js';
import { chooseKernelVersion } from './kernel-version.js';
import type { CpioEntry } from './cpio.js';
import { nbdKeeperEntries } from './nbd-keeper.js';

/** Diskless' /init and its stages (busy box sh), copied to the archive's root. */
export const INITRAMFS_DIR = fileURLToPath(new URL('../../../initramfs', import.meta.url));

/**
 * Tools /init needs that an image may not have; taken from this host with their libraries:
 * nbd-client attaches NBD roots, openssl fetches the node's secrets over TLS from the server
 * whose certificate the initrd carries (busybox's TLS client verifies no certificate); blkid
 * tells what a local disk carries (busybox has none) and mkfs.ext4 makes ext4 on it. Busybox sh
 * runs its own applet of a name before any file of that name on PATH, so a tool is called by a
 * name busybox does not have: mkfs.ext4 (e2fsprogs' link to mke2fs, carried with its target),
 * never mke2fs, whose busybox applet makes ext2 only and refuses `-t ext4`.
 */
export const HOST_TOOLS = ['/usr/sbin/nbd-client', '/usr/bin/openssl', '/sbin/blkid', '/sbin/mkfs.ext4'];

/** Where /init looks for the certificates of the servers it may hand its token to (identity.sh). */
export const SERVER_CERTS_PATH = '/etc/diskless/server-certs.pem';

/** Modules every image's booted system wants early, beyond what boots it (systemd mounts autofs). */
const EXTRA_MODULES = ['autofs4'];

export interface NetworkInitrdOptions {
  output: string;
  /** The image root whose kernel modules are used; "/" by default. */
  root?: string;
  kernelVersion?: string;
  /** PEM certificates of the boot servers (serverCertificatesPem); without them the node cannot fetch its secrets. */
  serverCerts?: string;
  drivers?: readonly string[] | undefined;
  extraModules?: readonly string[];
  /** Root modes whose modules must be there; the others' are carried when the kernel has them. */
  requireRootModes?: BuildInitramfsOptions['requireRootModes'];
  compression?: BuildInitramfsOptions['compression'];
  /**
   * Where the static NBD helper is built and, for an image of another architecture than this
   * host's, that architecture's tools are unpacked; both cached by their inputs.
   */
  helperCacheDir?: string;
  onProgress?: (done: number, total: number) => void;
}

/**
 * The network initrd Diskless boots every node with, built from an image's own kernel modules:
 * `/init`, nbd-client and the NBD reconnect helper, openssl, and the pinned server certificates.
 * `diskless image build`, `diskless initrd build` and the lab all build it here.
 *
 * The architecture is the kernel's (its modules' ELF machine), not this host's: for an arm64
 * image on an x86 server, busybox and the tools come from Debian's arm64 packages (archTools)
 * and the NBD helper is cross-compiled.
 */
export async function buildNetworkInitrd(o: NetworkInitrdOptions): Promise<InitramfsSummary> {
  const certs: CpioEntry[] = o.serverCerts === undefined
    ? []
    : [{ type: 'file', path: SERVER_CERTS_PATH.slice(1), mode: 0o644, data: new TextEncoder().encode(o.serverCerts) }];
  const root = resolve(o.root ?? '/');
  const kernelVersion = o.kernelVersion ?? (await chooseKernelVersion(root));
  const arch = await imageArch(root, kernelVersion);
  const tools = arch === hostArch() ? undefined : await archTools(arch, HOST_TOOLS, o.helperCacheDir ?? defaultHelperCacheDir());
  return buildInitramfs({
    output: o.output,
    initDir: INITRAMFS_DIR,
    hostBinaries: HOST_TOOLS,
    ...(tools ? { hostRoot: tools.root, busybox: tools.busybox } : {}),
    extraFiles: [...(await nbdKeeperEntries(o.helperCacheDir, arch)), ...certs],
    extraModules: [...EXTRA_MODULES, ...(o.extraModules ?? [])],
    root,
    kernelVersion,
    ...(o.drivers !== undefined ? { drivers: o.drivers } : {}),
    ...(o.requireRootModes !== undefined ? { requireRootModes: o.requireRootModes } : {}),
    ...(o.compression !== undefined ? { compression: o.compression } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
}
