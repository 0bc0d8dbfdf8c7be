import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { pipeThrough } from '../process/pipe-through.js';
import { CpioStreamParser, type ListedEntry } from './cpio-reader.js';

export type { ListedEntry, ListedType } from './cpio-reader.js';

type Format = 'gzip' | 'zstd' | 'xz' | 'lz4' | 'bzip2';

/** Magic numbers of the formats Linux can unpack an initramfs from (and we can list). */
function detect(head: Buffer): Format | undefined {
  if (head[0] === 0x1f && (head[1] === 0x8b || head[1] === 0x9e)) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.readUInt32LE(0) === 0x184c2102 || head.readUInt32LE(0) === 0x184d2204) return 'lz4';
  if (head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  return undefined;
}

const TOOLS: Record<Exclude<Format, 'gzip'>, string[]> = {
  zstd: ['zstd', '-dcq'],
  xz: ['xz', '-dc'],
  lz4: ['lz4', '-dc'],
  bzip2: ['bzip2', '-dc'],
};

/** Decompressed bytes of `source`: zlib for gzip, the Debian tool of that name for the rest. */
async function* decompress(source: Readable, format: Format): AsyncGenerator<Uint8Array> {
  if (format === 'gzip') {
    // Trailing padding after the gzip member is ignored by zlib, as by the kernel.
    yield* pipeline(source, createGunzip(), () => {}) as AsyncIterable<Uint8Array>;
    return;
  }
  try {
    yield* pipeThrough(TOOLS[format], source);
  } finally {
    // zstd stops reading at the end of its frame: the rest of the file is never read.
    source.destroy();
  }
}

/**
 * The entries of an initramfs file: a plain cpio, a compressed one (gzip, zstd, xz, lz4,
 * bzip2), or the layout Debian's mkinitramfs writes when it has microcode: uncompressed cpio
 * archives first, then one compressed archive holding the rest.
 */
export async function listInitramfs(path: string): Promise<ListedEntry[]> {
  const entries: ListedEntry[] = [];
  const raw = new CpioStreamParser();
  for await (const chunk of createReadStream(path)) {
    entries.push(...raw.push(chunk as Buffer));
    if (raw.stoppedAt !== undefined) break;
  }
  const at = raw.stoppedAt;
  if (at === undefined) {
    raw.finish();
    return entries;
  }

  const head = Buffer.alloc(8);
  const fh = await open(path, 'r');
  try {
    await fh.read(head, 0, head.length, at);
  } finally {
    await fh.close();
  }
  const format = detect(head);
  if (format === undefined) {
    throw new Error(`Cannot list ${path}: unknown data at offset ${at} (${head.toString('hex')}); not cpio or a compression Linux unpacks`);
  }
  const inner = new CpioStreamParser();
  for await (const chunk of decompress(createReadStream(path, { start: at }), format)) {
    entries.push(...inner.push(chunk));
    if (inner.stoppedAt !== undefined) {
      throw new Error(`Cannot list ${path}: the ${format} data holds something other than cpio at offset ${inner.stoppedAt}`);
    }
  }
  try {
    inner.finish();
  } catch (e) {
    throw new Error(`Cannot list ${path}: the ${format} data at offset ${at}: ${(e as Error).message}`);
  }
  return entries;
}
