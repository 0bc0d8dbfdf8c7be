import type { ClientArch, ClientClass } from './classify-client.js';
import type { DhcpSettings, LoaderChoice } from './settings.js';
import { KERNEL_ARCH_NAMES, type KernelArch } from '../config/kernel-arch.js';

export type DhcpBootKind = 'ipxe-script' | 'pxelinux' | 'bios' | 'efi64' | 'shim-x64' | 'shim-arm64' | 'http';

export type DhcpBootFile =
  | { ok: true; file: string; kind: DhcpBootKind; httpClient: boolean }
  /** `refused`: the machine's own boot cannot work as configured (the reason says why and what to change). */
  | { ok: false; reason: string; refused?: true };

/** The machines each client architecture is, as people name them. */
const MACHINE: Readonly<Record<Exclude<ClientArch, 'unknown'>, { name: string; runs: readonly KernelArch[] }>> = {
  // A BIOS machine is x86, 32- or 64-bit: it says no more.
  'bios': { name: 'x86 BIOS', runs: ['amd64', 'i386'] },
  'efi-ia32': { name: 'x86 (32-bit) UEFI', runs: ['i386'] },
  'efi-x64': { name: 'x86-64 UEFI', runs: ['amd64'] },
  'efi-arm64': { name: 'arm64 UEFI', runs: ['arm64'] },
};

/**
 * Why this machine cannot run its profile's kernel (option 93 against the kernel file's
 * header), or undefined when it can or either is unknown. Handing it a loader would only end
 * in a kernel its CPU or firmware cannot start, far from the cause.
 */
export function kernelArchProblem(client: ClientClass, choice: LoaderChoice | undefined): string | undefined {
  const kernel = choice?.kernelArch;
  if (kernel === undefined || client.arch === 'unknown') return undefined;
  const machine = MACHINE[client.arch];
  if (machine.runs.includes(kernel)) return undefined;
  const asked = `${machine.name}${client.isHttpClient ? ' HTTP boot' : ''}${client.archType === undefined ? '' : `, DHCP architecture ${client.archType}`}`;
  const profile = choice?.profile === undefined ? 'its profile' : `profile ${choice.profile}`;
  return `kernel architecture mismatch: ${profile}'s kernel is ${KERNEL_ARCH_NAMES[kernel]}, but this machine asked as ${asked}; give the node a profile with an ${machine.runs.map((a) => KERNEL_ARCH_NAMES[a]).join(' or ')} kernel`;
}

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
  const mismatch = kernelArchProblem(client, choice);
  if (mismatch !== undefined) return { ok: false, reason: mismatch, refused: true };
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
