/**
 * A streaming writer for the cpio "newc" format (magic 070701), the only format the Linux
 * kernel unpacks into its initramfs. The writer never touches the disk: entries in, bytes out,
 * so the result can be piped through gzip or zstd, hashed, or served while it is produced.
 *
 * Archives are reproducible: uid/gid are 0, mtime is fixed and inode numbers follow entry order,
 * so the same entries always give the same bytes (and the same content hash for caching).
 */

export type FileData = Uint8Array | { size: number; stream: () => AsyncIterable<Uint8Array> };

export type CpioEntry =
  | { type: 'file'; path: string; mode: number; data: FileData }
  | { type: 'dir'; path: string; mode: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'device'; path: string; mode: number; kind: 'char' | 'block'; major: number; minor: number };

export interface CpioOptions {
  /** Seconds since the epoch written into every entry; 0 keeps archives reproducible. */
  mtime?: number;
}

const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

const HEADER_SIZE = 110;
const MAGIC = '070701';
const TRAILER = 'TRAILER!!!';
// c_filesize is 8 hex digits: newc cannot describe a file of 4 GiB or more.
const MAX_FIELD = 0xffffffff;

interface Header {
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  fileSize: number;
  rdevMajor: number;
  rdevMinor: number;
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

function hex8(v: number, field: string, path: string): string {
  if (!Number.isInteger(v) || v < 0 || v > MAX_FIELD) {
    throw new RangeError(`Cannot write cpio entry ${path}: ${field} ${v} does not fit 8 hex digits`);
  }
  return v.toString(16).padStart(8, '0');
}

/** Header, name, NUL and padding as one chunk; what follows (data) starts 4-byte aligned. */
function encodeHeader(name: string, h: Header): Uint8Array {
  const nameBytes = Buffer.from(name, 'utf8');
  const nameSize = nameBytes.length + 1;
  const out = Buffer.alloc(HEADER_SIZE + nameSize + pad4(HEADER_SIZE + nameSize));
  const put = (offset: number, field: string, v: number): void => {
    out.write(hex8(v, field, name), offset, 'ascii');
  };
  out.write(MAGIC, 0, 'ascii'); //        0  c_magic
  put(6, 'ino', h.ino); //                6  c_ino
  put(14, 'mode', h.mode); //            14  c_mode: file type bits | permissions
  put(22, 'uid', 0); //                  22  c_uid
  put(30, 'gid', 0); //                  30  c_gid
  put(38, 'nlink', h.nlink); //          38  c_nlink
  put(46, 'mtime', h.mtime); //          46  c_mtime
  put(54, 'size', h.fileSize); //        54  c_filesize
  put(62, 'devmajor', 0); //             62  c_devmajor: device holding the file, meaningless here
  put(70, 'devminor', 0); //             70  c_devminor
  put(78, 'rdevmajor', h.rdevMajor); //  78  c_rdevmajor: for device nodes
  put(86, 'rdevminor', h.rdevMinor); //  86  c_rdevminor
  put(94, 'namesize', nameSize); //      94  c_namesize, counting the NUL
  put(102, 'check', 0); //              102  c_check: only used by the 070702 "crc" variant
  nameBytes.copy(out, HEADER_SIZE); //  110  name, NUL, zero padding (Buffer.alloc zeroed it)
  return out;
}

/**
 * Archive names are relative ("bin/sh"): the kernel and cpio -i both accept that, and a leading
 * "/" would make `cpio -i` refuse or strip it with a warning.
 */
export function archiveName(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new Error(`Cannot write cpio entry "${path}": empty path`);
  if (parts.includes('..')) throw new Error(`Cannot write cpio entry "${path}": ".." is not allowed`);
  if (path.includes('\0')) throw new Error(`Cannot write cpio entry "${path}": NUL in path`);
  return parts.join('/');
}

async function* fileBody(name: string, data: FileData): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    if (data.length > 0) yield data;
    return;
  }
  let seen = 0;
  for await (const chunk of data.stream()) {
    seen += chunk.length;
    if (seen > data.size) break;
    if (chunk.length > 0) yield chunk;
  }
  // A size mismatch would shift every later header and corrupt the rest of the archive.
  if (seen !== data.size) {
    throw new Error(`Cannot write cpio entry ${name}: declared size ${data.size}, stream gave ${seen > data.size ? 'more' : seen}`);
  }
}

const ZEROS = new Uint8Array(4);

/** Streams `entries` as a newc archive, ending with the TRAILER!!! entry. */
export async function* writeCpio(
  entries: AsyncIterable<CpioEntry> | Iterable<CpioEntry>,
  options: CpioOptions = {},
): AsyncGenerator<Uint8Array> {
  const mtime = options.mtime ?? 0;
  let ino = 0;
  for await (const entry of entries) {
    const name = archiveName(entry.path);
    ino += 1;
    const base = { ino, mtime, rdevMajor: 0, rdevMinor: 0 };
    switch (entry.type) {
      case 'file': {
        const size = entry.data instanceof Uint8Array ? entry.data.length : entry.data.size;
        yield encodeHeader(name, { ...base, mode: S_IFREG | (entry.mode & 0o7777), nlink: 1, fileSize: size });
        yield* fileBody(name, entry.data);
        if (pad4(size) > 0) yield ZEROS.subarray(0, pad4(size));
        break;
      }
      case 'dir':
        // 2 links: its own name and its "."; the kernel ignores it, cpio -i uses it to match hard links.
        yield encodeHeader(name, { ...base, mode: S_IFDIR | (entry.mode & 0o7777), nlink: 2, fileSize: 0 });
        break;
      case 'symlink': {
        // newc stores a symlink's target as its data, without a NUL.
        const target = Buffer.from(entry.target, 'utf8');
        if (target.length === 0) throw new Error(`Cannot write cpio entry ${name}: empty symlink target`);
        yield encodeHeader(name, { ...base, mode: S_IFLNK | 0o777, nlink: 1, fileSize: target.length });
        yield target;
        if (pad4(target.length) > 0) yield ZEROS.subarray(0, pad4(target.length));
        break;
      }
      case 'device': {
        const type = entry.kind === 'char' ? S_IFCHR : S_IFBLK;
        yield encodeHeader(name, {
          ...base,
          mode: type | (entry.mode & 0o7777),
          nlink: 1,
          fileSize: 0,
          rdevMajor: entry.major,
          rdevMinor: entry.minor,
        });
        break;
      }
    }
  }
  yield encodeHeader(TRAILER, { ino: 0, mode: 0, nlink: 1, mtime: 0, fileSize: 0, rdevMajor: 0, rdevMinor: 0 });
}
