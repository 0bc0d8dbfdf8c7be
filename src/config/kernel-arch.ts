import { closeSync, openSync, readSync } from 'node:fs';
import { constants, gunzipSync } from 'node:zlib';

/**
 * Which machines a kernel image runs on, from its header, by Debian's architecture names (what
 * an image's modules say in `imageArch`, src/initramfs/arch.ts):
 * - a PE (EFI stub) image: the COFF header's Machine (PE/COFF spec §3.3.1): 0x8664 x86-64,
 *   0xaa64 arm64. Debian's x86-64 bzImage and arm64 Image are both PE images;
 * - an x86 bzImage without an EFI stub: "HdrS" at 0x202 (the boot protocol, Documentation/arch/
 *   x86/boot.rst), 64-bit when xloadflags (0x236) has XLF_KERNEL_64;
 * - an arm64 Image without one: the magic "ARM\x64" at 0x38 (Documentation/arch/arm64/booting.rst);
 * - gzip (Debian's arm64 vmlinuz): the same, read from the start of what it unpacks to.
 */
export type KernelArch = 'amd64' | 'arm64' | 'i386';

export type KernelArchResult = { ok: true; arch: KernelArch } | { ok: false; why: string };

/** Enough of any kernel for its headers: a PE header sits in the first 4 KiB, "HdrS" at 0x202. */
const HEAD_BYTES = 64 * 1024;

const PE_MACHINES: ReadonlyMap<number, KernelArch> = new Map([[0x8664, 'amd64'], [0xaa64, 'arm64'], [0x14c, 'i386']]);

/** The architecture in a kernel's first bytes (at least the first 4 KiB; gzip: its first 64 KiB). */
export function kernelArch(head: Uint8Array): KernelArchResult {
  let image = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (image.length >= 2 && image[0] === 0x1f && image[1] === 0x8b) {
    try {
      // A cut stream: Z_SYNC_FLUSH gives what its first bytes unpack to instead of an error.
      image = gunzipSync(image, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: HEAD_BYTES * 64 });
    } catch (e) {
      return { ok: false, why: `it is gzip-compressed and does not unpack (${e instanceof Error ? e.message : String(e)})` };
    }
  }
  if (image.length >= 0x40 && image.readUInt16LE(0) === 0x5a4d) {
    const pe = image.readUInt32LE(0x3c);
    if (pe + 6 <= image.length && image.readUInt32LE(pe) === 0x00004550) {
      const machine = image.readUInt16LE(pe + 4);
      const arch = PE_MACHINES.get(machine);
      return arch ? { ok: true, arch } : { ok: false, why: `it is a PE image for machine 0x${machine.toString(16)}, neither x86 nor arm64` };
    }
  }
  if (image.length >= 0x238 && image.toString('latin1', 0x202, 0x206) === 'HdrS') {
    // xloadflags exists from boot protocol 2.12 (0x020c); older kernels predate x86-64 bzImages with it.
    const version = image.readUInt16LE(0x206);
    const kernel64 = version >= 0x020c && (image.readUInt16LE(0x236) & 1) === 1;
    return { ok: true, arch: kernel64 ? 'amd64' : 'i386' };
  }
  if (image.length >= 0x40 && image.readUInt32LE(0x38) === 0x644d5241) return { ok: true, arch: 'arm64' };
  return { ok: false, why: 'it is neither a PE (EFI) image, an x86 bzImage nor an arm64 Image' };
}

/** kernelArch of a file, reading its first 64 KiB; a file that cannot be read is the reason. */
export function kernelFileArch(path: string): KernelArchResult {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return { ok: false, why: `it cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
  }
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return kernelArch(buf.subarray(0, done));
  } finally {
    closeSync(fd);
  }
}

export const KERNEL_ARCH_NAMES: Readonly<Record<KernelArch, string>> = { amd64: 'x86-64', arm64: 'arm64', i386: 'x86 (32-bit)' };
