/**
 * Client system architecture types, option 93 (RFC 4578 §2.1 and the IANA "Processor
 * Architecture Types" registry that superseded its table).
 */
export const ClientArchType = {
  BiosX86: 0,
  NecPc98: 1,
  EfiItanium: 2,
  DecAlpha: 3,
  ArcX86: 4,
  IntelLeanClient: 5,
  EfiIa32: 6,
  /**
   * RFC 4578 printed 7 as "EFI BC" and 9 as "EFI x86-64"; the IANA registry swapped them after
   * an erratum (7 = x64 UEFI, 9 = EBC). Firmware in the field sends both for x64 (OVMF and
   * most vendors 7, older iPXE builds 9), so both classify as x64.
   */
  EfiX64: 7,
  EfiXscale: 8,
  EfiX64Alt: 9,
  EfiArm32: 10,
  EfiArm64: 11,
  PowerPcOpenFirmware: 12,
  PowerPcEpapr: 13,
  PowerOpalV3: 14,
  EfiIa32Http: 15,
  EfiX64Http: 16,
  EfiEbcHttp: 17,
  EfiArm32Http: 18,
  EfiArm64Http: 19,
  BiosHttp: 20,
  UbootArm32: 21,
  UbootArm64: 22,
  UbootArm32Http: 23,
  UbootArm64Http: 24,
  EfiRiscv32: 25,
  EfiRiscv32Http: 26,
  EfiRiscv64: 27,
  EfiRiscv64Http: 28,
  EfiRiscv128: 29,
  EfiRiscv128Http: 30,
  S390Basic: 31,
  S390Extended: 32,
} as const;

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(ClientArchType).map(([name, value]) => [value, name]),
);

/** "BiosX86", "EfiArm64Http", … or "Arch<n>" for values outside this table. */
export function archTypeName(value: number): string {
  return NAMES.get(value) ?? `Arch${value}`;
}
