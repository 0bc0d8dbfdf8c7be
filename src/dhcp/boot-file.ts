import type { ClientClass } from './classify-client.js';
import type { DhcpNode, DhcpSettings } from './settings.js';

export type DhcpBootFile =
  | { ok: true; file: string; kind: 'ipxe-script' | 'pxelinux' | 'bios' | 'efi64' | 'efi-arm64' | 'http'; httpClient: boolean }
  | { ok: false; reason: string };

/** What this client should load next, from what it runs now and the node's loader. */
export function chooseDhcpBootFile(client: ClientClass, node: DhcpNode | undefined, settings: DhcpSettings): DhcpBootFile {
  // pxelinux nodes get pxelinux.0 even from an iPXE ROM: iPXE provides the PXE API pxelinux
  // needs, and pxelinux reuses the cached DHCP reply instead of asking again, so nothing loops.
  if (node?.loader === 'pxelinux' && client.arch === 'bios') {
    return { ok: true, file: settings.bootFiles.pxelinux, kind: 'pxelinux', httpClient: false };
  }
  // Already in iPXE (our binary, or a NIC's iPXE ROM): hand it the script, or it would load
  // the iPXE binary again and loop.
  if (client.isIpxe) return { ok: true, file: settings.ipxeScriptUrl(client.mac), kind: 'ipxe-script', httpClient: false };
  if (client.isHttpClient) {
    if (client.arch === 'efi-x64' || client.arch === 'efi-arm64') {
      return { ok: true, file: settings.httpBootUrl(client.arch), kind: 'http', httpClient: true };
    }
    return { ok: false, reason: `no HTTP boot binary for arch ${client.arch}` };
  }
  switch (client.arch) {
    case 'bios':
      return { ok: true, file: settings.bootFiles.bios, kind: 'bios', httpClient: false };
    case 'efi-x64':
      return { ok: true, file: settings.bootFiles.efi64, kind: 'efi64', httpClient: false };
    case 'efi-arm64':
      return { ok: true, file: settings.bootFiles.efiArm64, kind: 'efi-arm64', httpClient: false };
    default:
      return { ok: false, reason: `no boot file for arch ${client.arch}${client.archType === undefined ? '' : ` (type ${client.archType})`}` };
  }
}
