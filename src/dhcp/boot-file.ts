import type { ClientArch, ClientClass } from './classify-client.js';
import type { DhcpSettings, LoaderChoice } from './settings.js';

export type DhcpBootKind = 'ipxe-script' | 'pxelinux' | 'bios' | 'efi64' | 'shim-x64' | 'shim-arm64' | 'http';

export type DhcpBootFile =
  | { ok: true; file: string; kind: DhcpBootKind; httpClient: boolean }
  | { ok: false; reason: string };

/**
 * Whether a UEFI machine gets the signed chain (shim → GRUB) instead of iPXE: its loader says
 * grub, or its profile asks for Secure Boot (iPXE is unsigned and such firmware refuses it),
 * or it is arm64, for which Debian ships no iPXE binary.
 */
export function usesSignedChain(arch: ClientArch, choice: LoaderChoice | undefined): boolean {
  if (arch === 'efi-arm64') return true;
  return arch === 'efi-x64' && (choice?.loader === 'grub' || choice?.secureBoot === true);
}

/**
 * What this client should load next, from what it runs now and the loader its node (or, for a
 * machine the inventory does not list, the default profile) asks for.
 */
export function chooseDhcpBootFile(client: ClientClass, choice: LoaderChoice | undefined, settings: DhcpSettings): DhcpBootFile {
  // pxelinux nodes get pxelinux.0 even from an iPXE ROM: iPXE provides the PXE API pxelinux
  // needs, and pxelinux reuses the cached DHCP reply instead of asking again, so nothing loops.
  if (choice?.loader === 'pxelinux' && client.arch === 'bios') {
    return { ok: true, file: settings.bootFiles.pxelinux, kind: 'pxelinux', httpClient: false };
  }
  // Already in iPXE (our binary, or a NIC's iPXE ROM): hand it the script, or it would load
  // the iPXE binary again and loop.
  if (client.isIpxe) return { ok: true, file: settings.ipxeScriptUrl(client.mac), kind: 'ipxe-script', httpClient: false };
  const signed = usesSignedChain(client.arch, choice);
  if (client.isHttpClient) {
    if (client.arch === 'efi-x64' || client.arch === 'efi-arm64') {
      return { ok: true, file: settings.httpBootUrl(client.arch, signed ? 'grub' : 'ipxe'), kind: 'http', httpClient: true };
    }
    return { ok: false, reason: `no HTTP boot binary for arch ${client.arch}` };
  }
  switch (client.arch) {
    case 'bios':
      // BIOS has no Secure Boot, and the signed chain is UEFI-only: grub machines get iPXE here.
      return { ok: true, file: settings.bootFiles.bios, kind: 'bios', httpClient: false };
    case 'efi-x64':
      return signed
        ? { ok: true, file: settings.bootFiles.shimX64, kind: 'shim-x64', httpClient: false }
        : { ok: true, file: settings.bootFiles.efi64, kind: 'efi64', httpClient: false };
    case 'efi-arm64':
      return { ok: true, file: settings.bootFiles.shimArm64, kind: 'shim-arm64', httpClient: false };
    default:
      return { ok: false, reason: `no boot file for arch ${client.arch}${client.archType === undefined ? '' : ` (type ${client.archType})`}` };
  }
}
