import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/**
 * Whether a kernel carries an Authenticode signature, as Secure Boot needs: a signed PE image
 * has a certificate table (data directory 4 of the PE optional header, PE/COFF spec §3.4.3 and
 * §4.7) holding a WIN_CERTIFICATE of type PKCS_SIGNED_DATA. Debian signs its x86-64 and arm64
 * vmlinuz this way; an unsigned EFI-stub kernel has the same header with an empty table.
 *
 * This tells signed from unsigned, not who signed: the firmware's db or the shim's MOK list
 * decides whether the signer is trusted, and a site with its own keys signs its own kernels.
 */
export type KernelSignature =
  | { signed: true; machine: PeMachine }
  | { signed: false; machine?: PeMachine; why: string };

/** The PE machine types of the kernels Diskless boots through GRUB. */
export type PeMachine = 'x86-64' | 'arm64' | 'other';

const MACHINES: ReadonlyMap<number, PeMachine> = new Map([[0x8664, 'x86-64'], [0xaa64, 'arm64']]);

const WIN_CERT_REVISION_2_0 = 0x0200;
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;
/** Debian's arm64 vmlinuz is a gzip of the PE Image; unpacking stops here (kernels are ~40 MB). */
const MAX_UNPACKED = 256 * 1024 * 1024;
const MAX_KERNEL = 512 * 1024 * 1024;

/** Reads the signature state from a kernel image's bytes (gzip-compressed arm64 Images included). */
export function kernelSignature(bytes: Uint8Array): KernelSignature {
  let image = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (image.length >= 2 && image[0] === 0x1f && image[1] === 0x8b) {
    try {
      image = gunzipSync(image, { maxOutputLength: MAX_UNPACKED });
    } catch (e) {
      return { signed: false, why: `it is gzip-compressed and does not unpack (${e instanceof Error ? e.message : String(e)})` };
    }
  }
  if (image.length < 0x40 || image.readUInt16LE(0) !== 0x5a4d) return { signed: false, why: 'it is not a PE (EFI) image: no "MZ" header, so no firmware can check a signature on it' };
  const pe = image.readUInt32LE(0x3c);
  if (pe + 24 > image.length || image.readUInt32LE(pe) !== 0x00004550) return { signed: false, why: 'it is not a PE (EFI) image: no "PE" signature where the DOS header points' };
  const machine = MACHINES.get(image.readUInt16LE(pe + 4)) ?? 'other';
  const optionalSize = image.readUInt16LE(pe + 20);
  const optional = pe + 24;
  if (optional + optionalSize > image.length || optionalSize < 2) return { signed: false, machine, why: 'its PE optional header is cut short' };
  const magic = image.readUInt16LE(optional);
  // PE32 has its data directories at offset 96 of the optional header, PE32+ at 112.
  const dirs = magic === 0x10b ? 96 : magic === 0x20b ? 112 : undefined;
  if (dirs === undefined) return { signed: false, machine, why: `its PE optional header has an unknown magic 0x${magic.toString(16)}` };
  const count = optionalSize >= dirs ? image.readUInt32LE(optional + dirs - 4) : 0;
  const certDir = optional + dirs + 4 * 8;
  if (count < 5 || certDir + 8 > optional + optionalSize) return { signed: false, machine, why: 'its PE header has no certificate table entry: it is not signed' };
  const offset = image.readUInt32LE(certDir);
  const size = image.readUInt32LE(certDir + 4);
  if (size === 0) return { signed: false, machine, why: 'its PE certificate table is empty: it is not signed' };
  if (offset + size > image.length || size < 8) return { signed: false, machine, why: 'its PE certificate table points outside the file' };
  const revision = image.readUInt16LE(offset + 4);
  const type = image.readUInt16LE(offset + 6);
  if (revision !== WIN_CERT_REVISION_2_0 || type !== WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
    return { signed: false, machine, why: `its certificate table holds no Authenticode signature (revision 0x${revision.toString(16)}, type 0x${type.toString(16)})` };
  }
  return { signed: true, machine };
}

/** kernelSignature of a file; a file that cannot be read is reported as the reason. */
export function kernelFileSignature(path: string): KernelSignature {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return { signed: false, why: `it cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_KERNEL) return { signed: false, why: `it is ${size} bytes, too large for a kernel` };
    const buf = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return kernelSignature(buf.subarray(0, done));
  } finally {
    closeSync(fd);
  }
}
