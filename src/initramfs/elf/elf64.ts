/**
 * The little an initramfs builder needs from an ELF64 file: its program interpreter and the
 * dynamic section's DT_NEEDED, DT_RPATH and DT_RUNPATH. Every offset and count comes from the
 * file, so each is checked against the buffer before use; a malformed file gives an error
 * result, never an exception or an allocation sized by the file's own claims.
 *
 * Layouts: the System V gABI, "ELF Header", "Program Header" and "Dynamic Section".
 */

export interface ElfDynamicInfo {
  /** ET_EXEC, ET_DYN, … (e_type). */
  type: number;
  /** EM_X86_64 = 62, EM_AARCH64 = 183, … (e_machine). */
  machine: number;
  /** PT_INTERP: "/lib64/ld-linux-x86-64.so.2"; undefined for static binaries and most libraries. */
  interpreter?: string;
  /** False when there is no PT_DYNAMIC: a static binary, which needs nothing. */
  dynamic: boolean;
  needed: string[];
  /** DT_RPATH entries, split on ":". */
  rpath: string[];
  /** DT_RUNPATH entries, split on ":". */
  runpath: string[];
  soname?: string;
}

export type ElfParseResult = { ok: true; elf: ElfDynamicInfo } | { ok: false; error: string };

export const EM_X86_64 = 62;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;

const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const DYN_SIZE = 16;

class ElfError extends Error {}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/** Bounds-checked little/big-endian reads; a miss throws ElfError, caught by parseElf64. */
function reader(bytes: Uint8Array, littleEndian: boolean) {
  // The Buffer-pool trap: a Buffer's bytes start at byteOffset within its ArrayBuffer.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const check = (at: number, n: number, what: string): void => {
    if (!Number.isSafeInteger(at) || at < 0 || at + n > bytes.length) {
      throw new ElfError(`${what} at offset ${at} is outside the file (${bytes.length} bytes)`);
    }
  };
  return {
    u16(at: number, what: string): number {
      check(at, 2, what);
      return view.getUint16(at, littleEndian);
    },
    u32(at: number, what: string): number {
      check(at, 4, what);
      return view.getUint32(at, littleEndian);
    },
    /** u64 as a number; values past 2^53 cannot be offsets or sizes of a real file. */
    u64(at: number, what: string): number {
      check(at, 8, what);
      const v = view.getBigUint64(at, littleEndian);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what} ${v} is too large`);
      return Number(v);
    },
    /** u64 as it is, for fields such as d_tag whose large values are legitimate. */
    u64big(at: number, what: string): bigint {
      check(at, 8, what);
      return view.getBigUint64(at, littleEndian);
    },
    /** A NUL-terminated string starting at `at`, not reading past `end`. */
    cstring(at: number, end: number, what: string): string {
      check(at, 0, what);
      const limit = Math.min(end, bytes.length);
      let nul = at;
      while (nul < limit && bytes[nul] !== 0) nul++;
      if (nul >= limit) throw new ElfError(`${what} at offset ${at} has no terminating NUL`);
      return Buffer.from(bytes.buffer, bytes.byteOffset + at, nul - at).toString('utf8');
    },
  };
}

/** File offset of virtual address `vaddr`, through the PT_LOAD segment that maps it. */
function fileOffset(loads: readonly Segment[], vaddr: number, what: string): number {
  for (const s of loads) {
    if (vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) return s.offset + (vaddr - s.vaddr);
  }
  throw new ElfError(`${what} address 0x${vaddr.toString(16)} is in no PT_LOAD segment`);
}

const splitPath = (s: string): string[] => s.split(':').filter((p) => p !== '');

export function parseElf64(bytes: Uint8Array): ElfParseResult {
  try {
    return { ok: true, elf: parse(bytes) };
  } catch (e) {
    if (e instanceof ElfError) return { ok: false, error: e.message };
    throw e;
  }
}

function parse(bytes: Uint8Array): ElfDynamicInfo {
  if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('not an ELF file (bad magic)');
  }
  if (bytes[4] !== 2) throw new ElfError(`not ELF64 (EI_CLASS ${bytes[4]})`);
  if (bytes[5] !== 1 && bytes[5] !== 2) throw new ElfError(`unknown byte order (EI_DATA ${bytes[5]})`);
  if (bytes.length < EHDR_SIZE) throw new ElfError(`ELF header truncated: ${bytes.length} of ${EHDR_SIZE} bytes`);
  const r = reader(bytes, bytes[5] === 1);

  const type = r.u16(16, 'e_type');
  const machine = r.u16(18, 'e_machine');
  const phoff = r.u64(32, 'e_phoff');
  const phentsize = r.u16(54, 'e_phentsize');
  const phnum = r.u16(56, 'e_phnum');
  if (phnum > 0 && phentsize < PHDR_SIZE) throw new ElfError(`e_phentsize ${phentsize} is smaller than ${PHDR_SIZE}`);
  // 0xffff (PN_XNUM) moves the count into section 0; no real program needs that many headers.
  if (phnum === 0xffff) throw new ElfError('e_phnum PN_XNUM is not supported');
  if (phoff + phnum * phentsize > bytes.length) {
    throw new ElfError(`program headers (${phnum} × ${phentsize} at ${phoff}) run past the end of the file (${bytes.length} bytes)`);
  }

  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    segments.push({
      type: r.u32(at, 'p_type'),
      offset: r.u64(at + 8, 'p_offset'),
      vaddr: r.u64(at + 16, 'p_vaddr'),
      filesz: r.u64(at + 32, 'p_filesz'),
    });
  }

  const info: ElfDynamicInfo = { type, machine, dynamic: false, needed: [], rpath: [], runpath: [] };
  const interp = segments.find((s) => s.type === PT_INTERP);
  if (interp !== undefined) info.interpreter = r.cstring(interp.offset, interp.offset + interp.filesz, 'PT_INTERP');

  const dyn = segments.find((s) => s.type === PT_DYNAMIC);
  if (dyn === undefined) return info;
  info.dynamic = true;
  if (dyn.offset + dyn.filesz > bytes.length) {
    throw new ElfError(`PT_DYNAMIC (${dyn.filesz} bytes at ${dyn.offset}) runs past the end of the file`);
  }

  // The count is bounded by the segment, which is bounded by the file: no unchecked loop.
  const tags: Array<{ tag: number; value: number }> = [];
  let strtab: number | undefined;
  let strsz: number | undefined;
  for (let at = dyn.offset; at + DYN_SIZE <= dyn.offset + dyn.filesz; at += DYN_SIZE) {
    const big = r.u64big(at, 'd_tag');
    // Processor- and OS-specific tags go up to 0x7fffffff; none of them matters here.
    if (big > 0xffffn) continue;
    const tag = Number(big);
    if (tag === DT_NULL) break;
    if (tag !== DT_STRTAB && tag !== DT_STRSZ && tag !== DT_NEEDED && tag !== DT_RPATH && tag !== DT_RUNPATH && tag !== DT_SONAME) continue;
    const value = r.u64(at + 8, 'd_val');
    if (tag === DT_STRTAB) strtab = value;
    else if (tag === DT_STRSZ) strsz = value;
    else tags.push({ tag, value });
  }
  if (tags.length === 0) return info;
  if (strtab === undefined) throw new ElfError('dynamic section has strings but no DT_STRTAB');

  const loads = segments.filter((s) => s.type === PT_LOAD);
  const strOffset = fileOffset(loads, strtab, 'DT_STRTAB');
  const strEnd = strsz === undefined ? bytes.length : strOffset + strsz;
  if (strEnd > bytes.length) throw new ElfError(`string table (${strsz} bytes at ${strOffset}) runs past the end of the file`);
  for (const { tag, value } of tags) {
    if (value >= strEnd - strOffset) throw new ElfError(`dynamic string offset ${value} is outside the string table`);
    const s = r.cstring(strOffset + value, strEnd, 'dynamic string');
    if (tag === DT_NEEDED) info.needed.push(s);
    else if (tag === DT_RPATH) info.rpath.push(...splitPath(s));
    else if (tag === DT_RUNPATH) info.runpath.push(...splitPath(s));
    else info.soname = s;
  }
  return info;
}

const SHDR_SIZE = 64;
const SHT_NOBITS = 8;

export type ElfSectionResult = { ok: true; data: Uint8Array | undefined } | { ok: false; error: string };

/**
 * The bytes of the section named `name` (a kernel module's ".modinfo"), or undefined when the
 * file has none. Layout: the gABI's "Sections": e_shoff, e_shentsize, e_shnum and e_shstrndx in
 * the header; sh_name, sh_type, sh_offset and sh_size in each entry.
 */
export function elfSection(bytes: Uint8Array, name: string): ElfSectionResult {
  try {
    return { ok: true, data: section(bytes, name) };
  } catch (e) {
    if (e instanceof ElfError) return { ok: false, error: e.message };
    throw e;
  }
}

function section(bytes: Uint8Array, name: string): Uint8Array | undefined {
  if (bytes.length < EHDR_SIZE || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('not an ELF file (bad magic)');
  }
  if (bytes[4] !== 2) throw new ElfError(`not ELF64 (EI_CLASS ${bytes[4]})`);
  if (bytes[5] !== 1 && bytes[5] !== 2) throw new ElfError(`unknown byte order (EI_DATA ${bytes[5]})`);
  const r = reader(bytes, bytes[5] === 1);
  const shoff = r.u64(0x28, 'e_shoff');
  const shentsize = r.u16(0x3a, 'e_shentsize');
  const shnum = r.u16(0x3c, 'e_shnum');
  const shstrndx = r.u16(0x3e, 'e_shstrndx');
  if (shnum === 0) return undefined;
  if (shentsize < SHDR_SIZE) throw new ElfError(`e_shentsize ${shentsize} is smaller than ${SHDR_SIZE}`);
  if (shoff + shnum * shentsize > bytes.length) {
    throw new ElfError(`section headers (${shnum} × ${shentsize} at ${shoff}) run past the end of the file (${bytes.length} bytes)`);
  }
  if (shstrndx >= shnum) throw new ElfError(`e_shstrndx ${shstrndx} is not a section (${shnum})`);
  const header = (i: number) => {
    const at = shoff + i * shentsize;
    const h = { name: r.u32(at, 'sh_name'), type: r.u32(at + 4, 'sh_type'), offset: r.u64(at + 0x18, 'sh_offset'), size: r.u64(at + 0x20, 'sh_size') };
    if (h.type !== SHT_NOBITS && h.offset + h.size > bytes.length) throw new ElfError(`section ${i} (${h.size} bytes at ${h.offset}) runs past the end of the file`);
    return h;
  };
  const names = header(shstrndx);
  const namesEnd = names.offset + names.size;
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    if (h.name >= names.size) continue;
    if (r.cstring(names.offset + h.name, namesEnd, 'section name') !== name) continue;
    if (h.type === SHT_NOBITS) return new Uint8Array(0);
    return bytes.subarray(h.offset, h.offset + h.size);
  }
  return undefined;
}
