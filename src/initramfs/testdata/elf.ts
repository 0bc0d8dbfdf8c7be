import { EM_X86_64 } from '../elf/elf64.js';

export interface ElfSpec {
  /** e_machine; x86-64 by default. */
  machine?: number;
  interp?: string;
  needed?: string[];
  rpath?: string;
  runpath?: string;
}

export const BASE = 0x400000;

/** A minimal ELF64 little-endian executable: one PT_LOAD mapping the whole file, PT_INTERP, PT_DYNAMIC. */
export function makeElf(spec: ElfSpec): Buffer {
  const strings: string[] = [];
  const strOffset = (s: string): number => {
    const before = strings.join('\0');
    strings.push(s);
    return before.length + (strings.length > 1 ? 1 : 0);
  };
  const dyn: Array<[number, number]> = [];
  strOffset(''); // index 0 is the empty string
  for (const n of spec.needed ?? []) dyn.push([1, strOffset(n)]); //           DT_NEEDED
  if (spec.rpath !== undefined) dyn.push([15, strOffset(spec.rpath)]); //      DT_RPATH
  if (spec.runpath !== undefined) dyn.push([29, strOffset(spec.runpath)]); //  DT_RUNPATH
  const strtab = Buffer.from(strings.join('\0') + '\0', 'utf8');
  const interp = spec.interp === undefined ? Buffer.alloc(0) : Buffer.from(spec.interp + '\0');

  const phnum = spec.interp === undefined ? 2 : 3;
  const interpAt = 64 + phnum * 56;
  const strAt = interpAt + interp.length;
  const dynAt = Math.ceil((strAt + strtab.length) / 8) * 8;
  const entries: Array<[number, number]> = [[5, BASE + strAt], [10, strtab.length], ...dyn, [0, 0]]; // DT_STRTAB, DT_STRSZ, …, DT_NULL
  const size = dynAt + entries.length * 16;
  const b = Buffer.alloc(size);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT
  b.writeUInt16LE(2, 16); //           e_type ET_EXEC
  b.writeUInt16LE(spec.machine ?? EM_X86_64, 18); // e_machine
  b.writeBigUInt64LE(64n, 32); //      e_phoff
  b.writeUInt16LE(56, 54); //          e_phentsize
  b.writeUInt16LE(phnum, 56); //       e_phnum
  const ph = (i: number, type: number, offset: number, filesz: number): void => {
    const at = 64 + i * 56;
    b.writeUInt32LE(type, at); //                         p_type
    b.writeBigUInt64LE(BigInt(offset), at + 8); //        p_offset
    b.writeBigUInt64LE(BigInt(BASE + offset), at + 16); // p_vaddr
    b.writeBigUInt64LE(BigInt(filesz), at + 32); //       p_filesz
  };
  ph(0, 1, 0, size); //                       PT_LOAD
  ph(1, 2, dynAt, entries.length * 16); //    PT_DYNAMIC
  if (spec.interp !== undefined) ph(2, 3, interpAt, interp.length); // PT_INTERP
  interp.copy(b, interpAt);
  strtab.copy(b, strAt);
  entries.forEach(([tag, val], i) => {
    b.writeBigUInt64LE(BigInt(tag), dynAt + i * 16);
    b.writeBigUInt64LE(BigInt(val), dynAt + i * 16 + 8);
  });
  return b;
}

