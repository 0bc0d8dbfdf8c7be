/**
 * The names of everything the boot listeners serve, built and parsed here only: the URLs DHCP
 * hands out, the paths boot scripts, pxelinux configs and kernel command lines name, the paths
 * the boot tree answers and the ones the event converters read a machine or an image version
 * from. The same names work over TFTP and HTTP.
 *
 *   boot/MAC.ipxe                        a machine's iPXE script (MAC as 52-54-00-12-34-56)
 *   pxelinux.cfg/NAME                    a pxelinux config (01-MAC, the address in hex, default)
 *   shimx64.efi, grubx64.efi             the signed chain, x64 (shim loads grub*.efi beside itself)
 *   shimaa64.efi, grubaa64.efi           the signed chain, arm64
 *   grub/grub.cfg[-NAME]                 GRUB configs (NAME: 01-MAC, the address in hex)
 *   profiles/NAME/{kernel,initrd-N}      a profile's own kernel and initrds
 *   images/NAME/root.sqfs                a profile's root image (live roots fetch it)
 *   store/NAME/VERSION/FILE              a stored image version's root.sqfs, vmlinuz, initrd.img
 *   objects/sha256/HEX                   a file of any stored version, by its content hash (peers copy versions by it)
 *
 * and the NFS paths nodes mount: /PROFILE (a profile's dir) and /images/NAME/VERSION (the
 * unpacked tree of a stored version).
 *
 * Pure, and importing nothing above src/net: events, dhcp, the lab and the benchmarks use it.
 */
import { macToHyphens, normalizeMac } from '../net/mac.js';

/** The boot listener (plain HTTP, as firmware needs): http://ADDRESS, with :PORT unless it is 80. */
export function httpBaseUrl(server: { readonly address: string; readonly httpPort: number }): string {
  const { address, httpPort } = server;
  return httpPort === 80 ? `http://${address}` : `http://${address}:${httpPort}`;
}

/**
 * Another boot server's boot listener at `address` (its address for the asking machine's
 * subnet), on the port of its own boot URL as the state database records it. Undefined when
 * that URL is not http://HOST[:PORT] or the address not a dotted quad: a row of the database is
 * data, and only a plain address and port ever reach a script or a kernel command line.
 */
export function peerBaseUrl(bootUrl: string, address: string): string | undefined {
  const m = /^http:\/\/[^/:?#\s]+(?::(\d{1,5}))?\/?$/.exec(bootUrl);
  if (!m || !/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(address)) return undefined;
  const port = m[1] === undefined ? 80 : Number(m[1]);
  if (port < 1 || port > 65535) return undefined;
  return httpBaseUrl({ address, httpPort: port });
}

/** The HTTPS listener, where /init redeems its secrets token: https://ADDRESS:PORT. */
export function secretsBaseUrl(server: { readonly address: string; readonly httpsPort: number }): string {
  return `https://${server.address}:${server.httpsPort}`;
}

/** A boot path under a base URL. */
export function bootUrl(baseUrl: string, path: string): string {
  return `${baseUrl}/${path}`;
}

/** A requested path as the boot tree names it: HTTP sends a leading "/", TFTP clients may. */
export function treePath(requested: string): string {
  return requested.replace(/^\/+/, '');
}

/** The iPXE binary DHCP hands x64 UEFI machines (Debian's ipxe package). */
export const IPXE_EFI_X64 = 'ipxe.efi';

/**
 * The signed chain's names. The firmware loads the shim by the name DHCP gives; shim then
 * fetches "grubx64.efi" (arm64: "grubaa64.efi") from the same server and directory, by TFTP or
 * HTTP as it was itself loaded (shim's netboot.c and httpboot.c), so those names are fixed.
 */
export const SHIM_X64 = 'shimx64.efi';
export const GRUB_X64 = 'grubx64.efi';
export const SHIM_ARM64 = 'shimaa64.efi';
export const GRUB_ARM64 = 'grubaa64.efi';

/**
 * Where GRUB's network image looks for its config: its prefix is "/grub" on the server it was
 * loaded from (Debian builds grubnetx64.efi with `grub-mkimage -p /grub`), and it reads
 * PREFIX/grub.cfg. GRUB builds that search first (upstream's grub_net_search_config_file) try
 * PREFIX/grub.cfg-01-MAC, then the address in hex, shorter and shorter, then grub.cfg.
 */
export const GRUB_CONFIG_DIR = 'grub';

/** How a file was asked for: over HTTP or TFTP. */
export type FetchedBy = 'http' | 'tftp';

/**
 * The GRUB device a machine's GRUB loads kernels and initrds from: HTTP on port 80 when it
 * fetched its config over HTTP (a GRUB with HTTP, under the firmware's HTTP boot, where it may
 * have no TFTP at all: Debian trixie's signed image, 2.12, through the firmware's HTTP
 * protocol); else TFTP when the TFTP listener is on port 69, else HTTP on port 80. TFTP first because Debian's signed network image
 * (grubnetx64.efi.signed, 2.06-13) is built without GRUB's http module: seen in the lab, it
 * answers `(http,SERVER)` with "disk `http,SERVER' not found", and under Secure Boot no module
 * can be added to it. GRUB 2.06 can name no port in `(tftp,SERVER)` or `(http,SERVER)`: it
 * always uses 69 and 80. Undefined when neither is on its usual port.
 */
export function grubServerDevice(server: { readonly address: string; readonly httpPort: number; readonly tftpPort: number }, via?: FetchedBy): string | undefined {
  if (via === 'http' && server.httpPort === 80) return `(http,${server.address})`;
  if (server.tftpPort === 69) return `(tftp,${server.address})`;
  if (server.httpPort === 80) return `(http,${server.address})`;
  return undefined;
}

/** grub/grub.cfg, or grub/grub.cfg-NAME. */
export function grubConfigPath(name?: string): string {
  return name === undefined ? `${GRUB_CONFIG_DIR}/grub.cfg` : `${GRUB_CONFIG_DIR}/grub.cfg-${name}`;
}

/** The files of a stored image version that are served, by their names in the URL. */
export const STORED_FILES = ['root.sqfs', 'vmlinuz', 'initrd.img'] as const;
export type StoredFile = (typeof STORED_FILES)[number];

/** What a boot path names; `parseBootPath` reads it, the builders below write it. */
export type BootPath =
  /** boot/X.ipxe: `mac` is undefined when X is not a MAC (no script then). */
  | { readonly kind: 'script'; readonly mac: string | undefined }
  | { readonly kind: 'pxelinux-config'; readonly name: string }
  /** grub/grub.cfg (`name` undefined) or grub/grub.cfg-NAME. */
  | { readonly kind: 'grub-config'; readonly name: string | undefined }
  | { readonly kind: 'profile-kernel'; readonly profile: string }
  | { readonly kind: 'profile-initrd'; readonly profile: string; readonly index: number }
  | { readonly kind: 'profile-image'; readonly profile: string }
  | { readonly kind: 'stored'; readonly image: string; readonly version: string; readonly file: StoredFile }
  | { readonly kind: 'object'; readonly sha256: string };

export function bootScriptPath(mac: string): string {
  return `boot/${macToHyphens(mac)}.ipxe`;
}

export function pxelinuxConfigPath(name: string): string {
  return `pxelinux.cfg/${name}`;
}

/** "01-52-54-00-12-34-56": the pxelinux.cfg name pxelinux tries for a MAC (01 is Ethernet). */
export function pxelinuxMacName(mac: string): string {
  return `01-${macToHyphens(mac)}`;
}

/**
 * BOOTIF=01-MAC, the kernel argument pxelinux's "IPAPPEND 2" adds and the iPXE script and a
 * handed-over kernel add too: /init brings up the interface the machine booted from.
 */
export function bootIfArg(mac: string): string {
  return `BOOTIF=${pxelinuxMacName(mac)}`;
}

/** The MAC of a pxelinux.cfg name of the 01-MAC form; undefined for any other name. */
export function macFromPxelinuxName(name: string): string | undefined {
  return /^01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i.test(name) ? normalizeMac(name.slice(3)) : undefined;
}

export function profileKernelPath(profile: string): string {
  return `profiles/${profile}/kernel`;
}

export function profileInitrdPath(profile: string, index: number): string {
  return `profiles/${profile}/initrd-${index}`;
}

/** The profile's squashfs (live roots fetch it). */
export function profileImagePath(profile: string): string {
  return `images/${profile}/root.sqfs`;
}

export function storedFilePath(image: string, version: string, file: StoredFile): string {
  return `store/${image}/${version}/${file}`;
}

/** A stored file by its SHA-256 (64 lowercase hex digits): what one boot server fetches from another. */
export function objectPath(sha256: string): string {
  return `objects/sha256/${sha256}`;
}

/** Which of the forms above `path` has (a leading "/" is allowed); undefined for any other path. */
export function parseBootPath(path: string): BootPath | undefined {
  const p = treePath(path);
  const script = /^boot\/([^/]+)\.ipxe$/.exec(p);
  if (script) return { kind: 'script', mac: normalizeMac(script[1]!) };
  const pxelinux = /^pxelinux\.cfg\/([^/]+)$/.exec(p);
  if (pxelinux) return { kind: 'pxelinux-config', name: pxelinux[1]! };
  const grub = /^grub\/grub\.cfg(?:-([^/]+))?$/.exec(p);
  if (grub) return { kind: 'grub-config', name: grub[1] };
  const profile = /^profiles\/([^/]+)\/(?:kernel|initrd-(\d+))$/.exec(p);
  if (profile) {
    return profile[2] === undefined ? { kind: 'profile-kernel', profile: profile[1]! } : { kind: 'profile-initrd', profile: profile[1]!, index: Number(profile[2]) };
  }
  const stored = /^store\/([^/]+)\/([0-9a-f]{16})\/(root\.sqfs|vmlinuz|initrd\.img)$/.exec(p);
  if (stored) return { kind: 'stored', image: stored[1]!, version: stored[2]!, file: stored[3] as StoredFile };
  const object = /^objects\/sha256\/([0-9a-f]{64})$/.exec(p);
  if (object) return { kind: 'object', sha256: object[1]! };
  const image = /^images\/([^/]+)\/root\.sqfs$/.exec(p);
  if (image) return { kind: 'profile-image', profile: image[1]! };
  return undefined;
}

/** The machine a boot path is for: boot/MAC.ipxe, pxelinux.cfg/01-MAC and grub/grub.cfg-01-MAC name the machine asking. */
export function macFromBootPath(path: string): string | undefined {
  const parsed = parseBootPath(path);
  if (parsed?.kind === 'script') return parsed.mac;
  if (parsed?.kind === 'pxelinux-config') return macFromPxelinuxName(parsed.name);
  if (parsed?.kind === 'grub-config' && parsed.name !== undefined) return macFromPxelinuxName(parsed.name);
  return undefined;
}

/** The NBD export of one stored image version: NAME@VERSION. */
export function versionExport(image: string, version: string): string {
  return `${image}@${version}`;
}

/** The image and version a NAME@VERSION export names; undefined for a profile's own export. */
export function parseVersionExport(exportName: string): { image: string; version: string } | undefined {
  const m = /^([^@]+)@([0-9a-f]{16})$/.exec(exportName);
  return m ? { image: m[1]!, version: m[2]! } : undefined;
}

/** The NFS path a profile's root directory is exported at (root=nfs4:ADDRESS:PATH); v3 mounts the same path. */
export function nfsExportPath(profile: string): string {
  return `/${profile}`;
}

/** The NFS export holding the unpacked trees of an image's stored versions, one directory each. */
export function nfsImageExportPath(image: string): string {
  return `/images/${image}`;
}

/** The NFS path of one stored version's tree: what a node booting that version mounts. */
export function nfsVersionPath(image: string, version: string): string {
  return `${nfsImageExportPath(image)}/${version}`;
}
