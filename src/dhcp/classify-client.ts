import { macOf, type DhcpPacket } from '../protocols/dhcp/packet.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { ClientArchType } from '../protocols/dhcp/arch-types.js';

export type ClientArch = 'bios' | 'efi-x64' | 'efi-ia32' | 'efi-arm64' | 'unknown';

export interface ClientClass {
  /** Lowercase aa:bb:cc:dd:ee:ff from chaddr. */
  mac: string;
  arch: ClientArch;
  /** Option 93's raw value (or the one parsed from option 60), for logs. */
  archType?: number;
  /** Option 60 starts with "PXEClient". */
  isPxe: boolean;
  /** Option 77 names iPXE: the client is already running iPXE and wants a script, not a binary. */
  isIpxe: boolean;
  /** Option 60 starts with "HTTPClient" (UEFI HTTP boot). */
  isHttpClient: boolean;
  /** Option 97's 16-byte GUID. */
  uuid?: Buffer;
}

const ARCH_BY_TYPE: ReadonlyMap<number, ClientArch> = new Map([
  [ClientArchType.BiosX86, 'bios'],
  [ClientArchType.EfiIa32, 'efi-ia32'],
  [ClientArchType.EfiIa32Http, 'efi-ia32'],
  [ClientArchType.EfiX64, 'efi-x64'],
  [ClientArchType.EfiX64Alt, 'efi-x64'],
  [ClientArchType.EfiX64Http, 'efi-x64'],
  [ClientArchType.EfiArm64, 'efi-arm64'],
  [ClientArchType.EfiArm64Http, 'efi-arm64'],
]);

export function classifyClient(packet: DhcpPacket): ClientClass {
  const vendorClass = getOption(packet, DhcpOption.vendorClassIdentifier) ?? '';
  const userClasses = getOption(packet, DhcpOption.userClass) ?? [];
  const archType = getOption(packet, DhcpOption.clientArchitectures)?.[0] ?? archFromVendorClass(vendorClass);
  const uuid = getOption(packet, DhcpOption.clientMachineId)?.guid;
  const result: ClientClass = {
    mac: macOf(packet),
    arch: archType === undefined ? 'unknown' : ARCH_BY_TYPE.get(archType) ?? 'unknown',
    isPxe: vendorClass.startsWith('PXEClient'),
    isIpxe: userClasses.some((c) => c.includes('iPXE')),
    isHttpClient: vendorClass.startsWith('HTTPClient'),
  };
  if (archType !== undefined) result.archType = archType;
  if (uuid !== undefined) result.uuid = uuid;
  return result;
}

/**
 * PXE 2.1 and UEFI clients also spell the arch in option 60 ("PXEClient:Arch:00007:…");
 * used only when option 93 is missing, which some older ROMs get wrong.
 */
function archFromVendorClass(vendorClass: string): number | undefined {
  const match = /^(?:PXEClient|HTTPClient):Arch:(\d{5})/.exec(vendorClass);
  return match ? Number(match[1]) : undefined;
}

export { macOf } from '../protocols/dhcp/packet.js';
