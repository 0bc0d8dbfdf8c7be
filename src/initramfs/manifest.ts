import type { Compression } from './compress.js';
import type { RootMode } from '../config/types.js';

export const MANIFEST_PATH = 'etc/diskless-initrd.json';

/**
 * /etc/diskless-initrd.json: what this initramfs was built from, for /init (which kernel its
 * modules are for) and for people reading an initrd later. No timestamps and no host paths, so
 * the same inputs give the same bytes.
 */
export interface InitrdManifest {
  format: 'diskless-initrd/1';
  kernelVersion: string;
  /** In load order: each after the modules it needs; paths of the plain (decompressed) files. */
  modules: Array<{ name: string; path: string }>;
  /** Names the kernel has built in, asked for or reached as dependencies. */
  builtin: string[];
  /** Root modes the modules allow: live, and nbd and nfs when their modules are there. */
  rootModes: RootMode[];
  /** Firmware files carried for the drivers, as they name them. */
  firmware: string[];
  /** The image's modprobe.d files carried into /etc/modprobe.d, where they were found. */
  modprobeConfig: string[];
  options: {
    /** "all" = every network driver of the kernel. */
    drivers: 'all' | string[];
    extraModules: string[];
    binaries: string[];
    hostBinaries: string[];
    compression: Compression;
    busyboxSha256: string;
  };
}

export function encodeManifest(m: InitrdManifest): Buffer {
  return Buffer.from(JSON.stringify(m, null, 2) + '\n', 'utf8');
}
