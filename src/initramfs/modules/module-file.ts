import { readFile } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { collect } from '../compress.js';
import { elfSection } from '../elf/elf64.js';
import { pipeThrough } from '../../process/pipe-through.js';
import { type ModuleCompression, moduleCompression } from './names.js';

/**
 * A module file as the initramfs carries it: always a plain ELF ".ko". Distributions compress
 * their modules (.ko.xz: Fedora, RHEL 9, Debian 13; .ko.zst: Ubuntu ≥ 23.10, Arch, openSUSE;
 * .ko.gz), and the initramfs' loader is busybox modprobe, whose init_module reads the file as it
 * is and which has no zstd at all. Decompressing here makes every kernel's modules loadable by
 * it, whatever compression the kernel itself was built to accept. A signed module keeps its
 * signature: it is appended to the ELF before compression.
 */

const gunzipAsync = promisify(gunzip);

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** The decompressed bytes of a module compressed as `how`; xz and zstd through their own tools (xz-utils, zstd). */
export async function decompressModule(bytes: Uint8Array, how: ModuleCompression): Promise<Buffer> {
  switch (how) {
    case 'gzip':
      return gunzipAsync(bytes);
    case 'xz':
      return collect(pipeThrough(['xz', '-dc', '-T1'], once(bytes)));
    case 'zstd':
      return collect(pipeThrough(['zstd', '-dcq'], once(bytes)));
  }
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** A module's ELF bytes from its file on the host, decompressed when its name says it is compressed. */
export async function readModuleFile(hostPath: string, path: string): Promise<Buffer> {
  const raw = await readFile(hostPath);
  const how = moduleCompression(path);
  let bytes: Buffer;
  try {
    bytes = how === undefined ? raw : await decompressModule(raw, how);
  } catch (e) {
    throw new Error(`Cannot decompress module ${path} (${how}): ${(e as Error).message}`, { cause: e });
  }
  if (!bytes.subarray(0, 4).equals(ELF_MAGIC)) throw new Error(`Cannot use module ${path}: ${how === undefined ? 'it' : `decompressed (${how}), it`} is not an ELF file`);
  return bytes;
}

/**
 * "key=value" strings of a module's .modinfo section (what `modinfo` prints): license, alias,
 * depends, firmware, … A module without the section gives an empty map.
 */
export function moduleInfo(elf: Uint8Array): Map<string, string[]> {
  const s = elfSection(elf, '.modinfo');
  if (!s.ok) throw new Error(`Cannot read .modinfo: ${s.error}`);
  const out = new Map<string, string[]>();
  if (s.data === undefined) return out;
  for (const record of Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength).toString('utf8').split('\0')) {
    const eq = record.indexOf('=');
    if (eq <= 0) continue;
    const key = record.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), record.slice(eq + 1)]);
  }
  return out;
}

/** Firmware files a module may ask the kernel for (MODULE_FIRMWARE; `modinfo -F firmware`). */
export function moduleFirmware(elf: Uint8Array): string[] {
  return moduleInfo(elf).get('firmware') ?? [];
}
