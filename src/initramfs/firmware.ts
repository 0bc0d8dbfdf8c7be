import { resolveInRoot } from './root-path.js';

/**
 * Firmware files a driver asks the kernel for, found in an image the way the kernel's firmware
 * loader searches (drivers/base/firmware_loader/main.c: fw_path, then the ".zst" and ".xz"
 * suffixes when the kernel was built to decompress them, CONFIG_FW_LOADER_COMPRESS_*). An image
 * built for its own kernel ships firmware in the compression that kernel reads, so a file is
 * carried as it is. /usr/lib/firmware is looked at too, for trees whose /lib is not a link to
 * usr/lib; in the archive everything goes under /lib/firmware, where the kernel looks.
 */

export interface FoundFirmware {
  /** As the driver names it: "tigon/tg3_tso5.bin". */
  name: string;
  /** Where it goes in the archive: "lib/firmware/tigon/tg3_tso5.bin" (with its suffix, if compressed). */
  archivePath: string;
  /** The file on the host, every symlink of the image resolved inside the root. */
  hostPath: string;
  size: number;
}

const SUFFIXES = ['', '.zst', '.xz'] as const;
const BASES = ['/lib/firmware', '/usr/lib/firmware'] as const;

/** A firmware name is a relative path inside the firmware directory; anything else is not looked up. */
function safeName(name: string): boolean {
  return name !== '' && name.length <= 255 && !name.startsWith('/') && !name.split('/').some((p) => p === '' || p === '.' || p === '..') && !/[\0*?[]/.test(name);
}

/** The file the kernel would load for `name`, or undefined when the image has none. */
export async function findFirmware(root: string, kernelVersion: string, name: string): Promise<FoundFirmware | undefined> {
  if (!safeName(name)) return undefined;
  const subdirs = [`updates/${kernelVersion}/`, 'updates/', `${kernelVersion}/`, ''];
  for (const suffix of SUFFIXES) {
    for (const sub of subdirs) {
      for (const base of BASES) {
        const r = await resolveInRoot(root, `${base}/${sub}${name}${suffix}`);
        if (r.ok && r.stats.isFile()) return { name, archivePath: `lib/firmware/${sub}${name}${suffix}`, hostPath: r.hostPath, size: r.stats.size };
      }
    }
  }
  return undefined;
}
