import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { DisklessConfig, NodeConfig } from '../config/types.js';
import { diskFile, memoryFile, type BootFile } from '../files/boot-file.js';
import { normalizeRequestedPath, resolveInsideRoot, type PathRefusal } from '../files/confine.js';
import type { SizedReader } from '../files/sized-reader.js';
import { bootTargetFor, nodeByMac, profileFiles, type BootTarget } from './boot-target.js';
import { defaultLabel, menuOf, RESCUE_ARGS, type BootMenu, type MenuChoice } from './boot-menu.js';
import { failureArgs } from './failure-args.js';
import { DigestCache } from '../files/digest-cache.js';
import { diskArgs, networkArgs, rootArgs } from './root-args.js';
import { httpBaseUrl, parseBootPath, peerBaseUrl, secretsBaseUrl, storedFilePath, versionExport } from './urls.js';
import type { ImageStore } from '../images/store/image-store.js';
import { renderProblemScript } from './ipxe-script.js';
import { renderDiscoveredScript, renderIpxeScript, renderUnknownScript } from './ipxe-script.js';
import { pxelinuxConfigFor } from './pxelinux-config.js';
import { KERNEL_CMDLINE_MAX, kernelArgsProblem } from '../config/kernel-args.js';
import { bootServerAddress, peerBootAddress } from '../config/subnets.js';
import type { RootMode } from '../config/types.js';
import { ROOT_MODE_MODULES } from '../initramfs/modules/select.js';

/**
 * A profile whose root mode its image's initrd cannot attach (a Red Hat kernel has no nbd.ko):
 * said on the node's screen, instead of a boot that fails in the initramfs.
 */
export function rootModeRefusal(profile: string, mode: RootMode, image: string, version: string, kernelVersion: string, modes: readonly RootMode[]): string {
  const modules = mode === 'live' ? [] : ROOT_MODE_MODULES[mode];
  return `Cannot boot profile ${profile} with root mode ${mode}: image ${image}@${version} has kernel ${kernelVersion}, which has no ${modules.join('/')} module (` +
    `use root mode ${modes.join(' or ')}, or an image whose kernel has it)`;
}
import { GRUB_ARM64, GRUB_X64, grubServerDevice, type FetchedBy, macFromPxelinuxName, SHIM_ARM64, SHIM_X64 } from './urls.js';
import { renderGrubBootstrapConfig, renderGrubConfig, renderGrubDiscoveredConfig, renderGrubProblemConfig, renderGrubUnknownConfig } from './grub-config.js';
import { kernelFileSignature, type KernelSignature } from '../config/kernel-signature.js';
import { fileIdentity } from '../files/file-identity.js';
import { ipv4ToHex } from '../net/ipv4.js';

// Boot loaders taken from Debian's ipxe and pxelinux/syslinux-common packages, by the names
// DHCP hands out. Only these names are looked up in those directories.
const IPXE_FILES = new Set(['undionly.kpxe', 'undionly.kkpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi', 'ipxe-arm64.efi', 'snponly-arm64.efi']);
const SYSLINUX_FILE = /^(pxelinux\.0|lpxelinux\.0|[a-z0-9_-]+\.c32)$/;
/** How long a boot script waits for a version's NFS tree to be unpacked before it says "later". */
const TREE_WAIT_MS = 20_000;
// The signed chain, by the names DHCP and shim use, from server.signed_boot.
const SIGNED_CHAIN: ReadonlyMap<string, (c: DisklessConfig) => string> = new Map([
  [SHIM_X64, (c) => c.server.signedBoot.x64.shim],
  [GRUB_X64, (c) => c.server.signedBoot.x64.grub],
  [SHIM_ARM64, (c) => c.server.signedBoot.arm64.shim],
  [GRUB_ARM64, (c) => c.server.signedBoot.arm64.grub],
]);

/** Gives a boot script its node's one-time secrets token, when the machine asking is that node. */
export type TokenForScript = (mac: string, peer: string | undefined) => Promise<string | undefined>;

/** Told which stored version a machine was just given, for "who runs what". */
export type OnPinned = (mac: string, image: string, version: string) => void;

/** What the boot tree tells, and asks, the rest of the server while rendering scripts. */
export interface BootTreeHooks {
  tokenFor?: TokenForScript;
  /**
   * Where /init redeems a token: the HTTPS listener (https://ADDRESS:PORT), given with every
   * token; a function gives each asking address its own (its subnet's server address).
   */
  secretsUrl?: string | ((peer: string | undefined) => string);
  onPinned?: OnPinned;
  /**
   * The stored version of `image` an inventory node boots instead of the published one (a
   * rollout's pin, STATE/version-pins.json), or undefined to boot the published one.
   */
  versionPin?: (mac: string, image: string) => string | undefined;
  /** A MAC the inventory does not list fetched its script (discovered machines). */
  onUnknownMac?: (mac: string, peer: string | undefined) => void;
  /**
   * The inventory node the machine `mac` is: by default the node listing that MAC; in service
   * also the node listing the switch port a trusted relay last reported the machine on.
   */
  nodeOf?: NodeOfMachine;
  /**
   * The other live boot servers a machine at `peer` can fall back to, in the order it should
   * try them (shared state only; none by default): their base URL and address for its subnet.
   */
  peersFor?: (peer: string | undefined) => readonly BootPeer[];
}

/** Another boot server, as a machine on one subnet reaches it. */
export interface BootPeer {
  /** http://ADDRESS[:PORT], its boot listener. */
  readonly baseUrl: string;
  readonly address: string;
}

/** Which inventory node a machine (by its MAC) is, in a given config. */
export type NodeOfMachine = (config: DisklessConfig, mac: string) => NodeConfig | undefined;

/**
 * The boot listener's URL for a machine asking from `peer`: one for all, or (with DHCP subnets
 * that name their own server address) the one of the asking machine's subnet.
 */
export type BaseUrlFor = string | ((peer: string | undefined) => string);

/**
 * The boot listener's base URL for a machine at `peer`: its DHCP subnet's server address
 * (server.address outside every subnet). What BootTree is given in service.
 */
export function subnetBaseUrl(config: () => DisklessConfig): (peer: string | undefined) => string {
  return (peer) => {
    const cfg = config();
    return httpBaseUrl({ address: bootServerAddress(cfg, peer), httpPort: cfg.server.httpPort });
  };
}

/** Where a machine at `peer` redeems its secrets token: HTTPS on its subnet's server address. */
export function subnetSecretsUrl(config: () => DisklessConfig): (peer: string | undefined) => string {
  return (peer) => {
    const cfg = config();
    return secretsBaseUrl({ address: bootServerAddress(cfg, peer), httpsPort: cfg.server.httpsPort });
  };
}

/**
 * The other live boot servers a machine at `peer` falls back to, for BootTree's `peersFor`:
 * each peer's address on that machine's network (peerBootAddress) and boot listener there, in
 * the order `live` lists them; a peer with no address there, or a record that is not a plain
 * http://ADDRESS[:PORT] (peerBaseUrl), is left out.
 */
export function bootPeersFor(config: () => DisklessConfig, live: () => ReadonlyArray<{ readonly addresses: readonly string[]; readonly bootUrl: string }>): (peer: string | undefined) => BootPeer[] {
  return (peer) => {
    const cfg = config();
    const ours = bootServerAddress(cfg, peer);
    return live().flatMap((r) => {
      const address = peerBootAddress(cfg, peer, r.addresses);
      const baseUrl = address === undefined || address === ours ? undefined : peerBaseUrl(r.bootUrl, address);
      return baseUrl === undefined || address === undefined ? [] : [{ address, baseUrl }];
    });
  };
}

/**
 * Everything served to booting machines, under one namespace shared by TFTP and HTTP:
 *   undionly.kpxe, ipxe.efi, …           iPXE binaries
 *   pxelinux.0, ldlinux.c32, *.c32       syslinux
 *   shimx64.efi, grubx64.efi, …          the signed chain (server.signed_boot)
 *   the generated and profile paths      named in urls.ts (boot/MAC.ipxe, pxelinux.cfg/…, profiles/…, images/…, store/…)
 *   anything else                        server.tftp_root, confined to it
 */
export class BootTree {
  readonly #digests = new DigestCache();
  readonly #signatures = new Map<string, { key: string; signature: KernelSignature }>();

  constructor(
    private readonly config: () => DisklessConfig,
    private readonly baseUrl: BaseUrlFor,
    private readonly store?: ImageStore,
    private readonly opts: BootTreeHooks = {},
  ) {}

  /**
   * What a machine's script or config boots: its target completed (#withRoot), and, when its
   * node or profile lists a menu, every entry completed the same way. The one-time token is
   * asked for once and goes on every entry but the rescue one (which stops before the identity
   * stage); only the default entry counts as the version the machine was given (onPinned).
   */
  async #prepare(cfg: DisklessConfig, target: BootTarget, peer: string | undefined): Promise<{ target: BootTarget; menu?: BootMenu }> {
    // The renderers refuse it too; refusing here first spends no token on a script never sent.
    const unsafe = kernelArgsProblem(target.cmdline, KERNEL_CMDLINE_MAX);
    if (unsafe) throw new Error(`Cannot boot ${target.mac}: the profile and node cmdline ${unsafe}`);
    const menu = menuOf(target);
    // Only inventory nodes have secrets; the token rides on the command line, which /init
    // reads once and the node's users can see only after it has been spent.
    const token = target.node && this.opts.tokenFor ? await this.opts.tokenFor(target.mac, peer) : undefined;
    if (!menu) return { target: await this.#withRoot(cfg, target, peer, { token, pin: true }) };
    const choices: MenuChoice[] = [];
    for (const e of menu.entries) {
      const pin = e.name === menu.default;
      let t: BootTarget;
      if (e.kind === 'profile') {
        const profile = cfg.profiles.get(e.profile);
        if (!profile) continue; // the config check names it; a reload may have removed it since
        t = await this.#withRoot(cfg, { ...target, profile, cmdline: [profile.cmdline, target.node?.cmdline].filter((x) => x && x.trim()).join(' '), ...profileFiles(profile) }, peer, { token, pin });
      } else if (e.kind === 'version') {
        // A version removed from the store since is left out of the menu.
        const v = await this.#withRoot(cfg, target, peer, { token, pin, version: e.version }).catch(() => undefined);
        if (v === undefined) continue;
        t = v;
      } else {
        t = await this.#withRoot(cfg, target, peer, { token: undefined, pin: false, extra: RESCUE_ARGS });
      }
      choices.push({ name: e.name, label: e.label ?? defaultLabel(e, target.profile), ...(e.key !== undefined ? { key: e.key } : {}), target: t });
    }
    if (choices.length === 0) return { target: await this.#withRoot(cfg, target, peer, { token, pin: true }) };
    const def = choices.some((c) => c.name === menu.default) ? menu.default : choices[0]!.name;
    return { target, menu: { timeoutSec: menu.timeoutSec, default: def, choices } };
  }

  /**
   * The target with its root= arguments in front of the profile's own command line. A profile
   * on a stored image is pinned here to the version published right now: kernel, initrd and
   * root all name that version (or `version`), so a publish during the boot cannot mix two.
   */
  async #withRoot(cfg: DisklessConfig, target: BootTarget, peer: string | undefined, o: { token: string | undefined; pin: boolean; version?: string; extra?: string }): Promise<BootTarget> {
    let t = target;
    let pinned;
    if (target.profile.image !== undefined) {
      if (!this.store) throw new Error(`Cannot boot profile ${target.profile.name}: no image store`);
      // A menu's version entry names its version; otherwise a node's pin, else the published one.
      const version = o.version ?? (target.node ? this.opts.versionPin?.(target.mac, target.profile.image) : undefined);
      const img = version === undefined ? await this.store.resolve(target.profile.image) : await this.store.show(target.profile.image, version);
      const mode = target.profile.root?.mode;
      if (mode !== undefined && img.manifest.rootModes !== undefined && !img.manifest.rootModes.includes(mode)) {
        throw new Error(rootModeRefusal(target.profile.name, mode, img.name, img.version, img.manifest.kernelVersion, img.manifest.rootModes));
      }
      t = { ...t, kernel: storedFilePath(img.name, img.version, 'vmlinuz'), initrds: [storedFilePath(img.name, img.version, 'initrd.img')], kernelFile: this.store.paths(img.name, img.version).kernel };
      pinned = { path: storedFilePath(img.name, img.version, 'root.sqfs'), sha256: img.manifest.files['root.sqfs'].sha256, exportName: versionExport(img.name, img.version), image: img.name, version: img.version };
      if (target.node && o.pin) this.opts.onPinned?.(target.mac, img.name, img.version);
      if (t.profile.root?.mode === 'nfs' && t.profile.root.nfsServer === undefined) await this.#treeReady(img.name, img.version);
    }
    const root = t.profile.root;
    const secretsUrl = typeof this.opts.secretsUrl === 'function' ? this.opts.secretsUrl(peer) : this.opts.secretsUrl;
    const tokenArg = o.token === undefined ? '' : [`rd.diskless.token=${o.token}`, secretsUrl ? `diskless.secrets=${secretsUrl}` : ''].filter(Boolean).join(' ');
    const failure = failureArgs(t.profile);
    // A node's own network: replaces its profile's (which NICs a bond takes is per machine).
    const disk = [networkArgs(target.node?.network ?? t.profile.network), diskArgs(t.profile.disk)].filter(Boolean).join(' ');
    if (!root) return { ...t, cmdline: [disk, failure, t.cmdline, o.extra, tokenArg].filter(Boolean).join(' ') };
    const sha = !pinned && root.mode === 'live' && root.image ? await this.#digests.sha256(root.image) : undefined;
    const server = { address: bootServerAddress(cfg, peer), nbdPort: cfg.server.nbdPort };
    const args = rootArgs(t.profile, server, this.#base(peer), sha, pinned, this.#peers(peer).map((p) => p.baseUrl));
    return { ...t, cmdline: [args, disk, failure, t.cmdline, o.extra, tokenArg].filter(Boolean).join(' ') };
  }

  /**
   * An NFS root of a stored version mounts that version's unpacked tree: made on the first boot
   * that pins it (a publish made elsewhere), shared by every boot waiting for it. A boot waits
   * TREE_WAIT_MS at most; after that its script says so and asks again later.
   */
  async #treeReady(image: string, version: string): Promise<void> {
    const unpacking = this.store!.ensureTree(image, version);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), TREE_WAIT_MS); });
    try {
      if ((await Promise.race([unpacking, late])) === 'late') {
        unpacking.catch(() => {});
        throw new Error(`the NFS tree of ${image}@${version} is still being unpacked`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  #nodeOf(cfg: DisklessConfig, mac: string): NodeConfig | undefined {
    return (this.opts.nodeOf ?? nodeByMac)(cfg, mac);
  }

  #peers(peer: string | undefined): readonly BootPeer[] {
    return this.opts.peersFor?.(peer) ?? [];
  }

  #base(peer: string | undefined): string {
    return typeof this.baseUrl === 'function' ? this.baseUrl(peer) : this.baseUrl;
  }

  /** Refuses a Secure Boot profile's kernel that carries no signature (cached per file version). */
  async #checkSigned(target: BootTarget): Promise<void> {
    if (!target.profile.secureBoot) return;
    const file = target.kernelFile;
    if (file === undefined) throw new Error(`Cannot boot profile ${target.profile.name} with Secure Boot: it has no kernel`);
    const key = (await fileIdentity(file)) ?? 'missing';
    let hit = this.#signatures.get(file);
    if (hit?.key !== key) {
      hit = { key, signature: kernelFileSignature(file) };
      this.#signatures.set(file, hit);
    }
    const sig = hit.signature;
    if (!sig.signed) throw new Error(`profile ${target.profile.name} asks for Secure Boot but its kernel ${file} is not signed: ${sig.why}`);
  }

  /** GRUB's configs: the bootstrap every machine reads, then its own by MAC or address. */
  async #grubConfig(cfg: DisklessConfig, name: string | undefined, peer: string | undefined, via: FetchedBy | undefined): Promise<BootFile | undefined> {
    if (name === undefined) return memoryFile(renderGrubBootstrapConfig());
    const byMac = macFromPxelinuxName(name);
    let mac: string;
    let node: NodeConfig | undefined;
    if (byMac !== undefined) {
      mac = byMac;
      node = this.#nodeOf(cfg, mac);
      if (!node) this.opts.onUnknownMac?.(mac, peer);
      if (!node && cfg.dhcp.unknownClients === 'register') return memoryFile(renderGrubDiscoveredConfig(mac));
    } else if (/^[0-9A-Fa-f]{8}$/.test(name)) {
      // Only nodes with a fixed address (and a MAC) have one; any other address is a miss (GRUB goes on).
      node = cfg.nodes.find((n) => n.address && ipv4ToHex(n.address) === name.toUpperCase());
      if (node?.mac === undefined) return undefined;
      mac = node.mac;
    } else {
      return undefined;
    }
    const target = bootTargetFor(cfg, mac, node);
    if (!target) return memoryFile(renderGrubUnknownConfig(mac));
    try {
      const device = grubServerDevice(cfg.server, via);
      // The other servers, on the same ports (GRUB 2.06 can name none but 69 and 80 anyway).
      const peerDevices = this.#peers(peer).flatMap((p) => grubServerDevice({ ...cfg.server, address: p.address }, via) ?? []);
      if (device === undefined) {
        throw new Error(`GRUB fetches files only from HTTP port 80 or TFTP port 69, and server.http_port is ${cfg.server.httpPort}, server.tftp_port ${cfg.server.tftpPort}`);
      }
      // GRUB shows no menu: it boots what the menu's default (or the only entry) would.
      const prepared = await this.#prepare(cfg, target, peer);
      const complete = prepared.menu?.choices.find((c) => c.name === prepared.menu?.default)?.target ?? prepared.target;
      await this.#checkSigned(complete);
      return memoryFile(renderGrubConfig(complete, device, peerDevices));
    } catch (e) {
      return memoryFile(renderGrubProblemConfig(mac, e instanceof Error ? e.message : String(e)));
    }
  }

  /** `peer` is the asking machine's address: only its own boot script gets it a token. */
  async resolve(requested: string, peer?: string, via?: FetchedBy): Promise<BootFile | undefined> {
    const found = await this.#find(requested, peer, via);
    return 'ok' in found ? undefined : found;
  }

  /**
   * `resolve`, then the file opened once: for TFTP, which reads a file block by block over
   * seconds, so every block comes from the descriptor opened here and not from the name.
   * A name refused by the confinement rule comes back as that refusal (TFTP answers it with
   * "Access violation"). The caller closes what it gets.
   */
  async open(requested: string, peer?: string): Promise<SizedReader | PathRefusal> {
    const found = await this.#find(requested, peer, 'tftp');
    if ('ok' in found) return found;
    return (await found.open()) ?? { ok: false, reason: 'not-found', error: `Cannot open ${requested}: gone, not a regular file, or moved out of its root since it was looked up` };
  }

  async #find(requested: string, peer: string | undefined, via?: FetchedBy): Promise<BootFile | PathRefusal> {
    const normalized = normalizeRequestedPath(requested);
    if (!normalized.ok) return normalized;
    const cfg = this.config();
    const found = (await this.#lookup(cfg, normalized.path, peer, via)) ?? (await this.#fromRoot(cfg, normalized.path));
    return found ?? { ok: false, reason: 'not-found', error: `Cannot find ${normalized.path}` };
  }

  /** The generated and configured names; undefined when the name is none of them (then tftp_root's). */
  async #lookup(cfg: DisklessConfig, path: string, peer: string | undefined, via: FetchedBy | undefined): Promise<BootFile | undefined> {
    if (IPXE_FILES.has(path)) return diskFile(join(cfg.server.ipxeDir, path));
    const signed = SIGNED_CHAIN.get(path);
    if (signed) return diskFile(signed(cfg));
    if (SYSLINUX_FILE.test(path)) {
      for (const dir of cfg.server.syslinuxDirs) {
        const f = await diskFile(join(dir, path));
        if (f) return f;
      }
      return undefined;
    }
    const named = parseBootPath(path);
    switch (named?.kind) {
      case 'pxelinux-config': {
        // A config that cannot be completed (image not published) is a miss: pxelinux moves on.
        const text = await pxelinuxConfigFor(cfg, named.name, (t) => this.#prepare(cfg, t, peer), (c, mac) => this.#nodeOf(c, mac)).catch(() => undefined);
        return text === undefined ? undefined : memoryFile(text);
      }
      case 'grub-config':
        return this.#grubConfig(cfg, named.name, peer, via);
      case 'script': {
        const { mac } = named;
        if (!mac) return undefined;
        const node = this.#nodeOf(cfg, mac);
        const known = node !== undefined;
        if (!known) this.opts.onUnknownMac?.(mac, peer);
        const target = bootTargetFor(cfg, mac, node);
        if (!target && !known && cfg.dhcp.unknownClients === 'register') return memoryFile(renderDiscoveredScript(mac, this.#base(peer), this.#peers(peer).map((p) => p.baseUrl)));
        if (!target) return memoryFile(renderUnknownScript(mac));
        try {
          const prepared = await this.#prepare(cfg, target, peer);
          return memoryFile(renderIpxeScript(prepared.target, this.#base(peer), prepared.menu, this.#peers(peer).map((p) => p.baseUrl)));
        } catch (e) {
          // e.g. the profile's image has no published version yet: say so on the node's screen.
          return memoryFile(renderProblemScript(mac, e instanceof Error ? e.message : String(e)));
        }
      }
      case 'profile-kernel':
      case 'profile-initrd': {
        const profile = cfg.profiles.get(named.profile);
        if (!profile) return undefined;
        const file = named.kind === 'profile-kernel' ? profile.kernel : profile.initrds[named.index];
        return file === undefined ? undefined : diskFile(file);
      }
      case 'stored': {
        // Without an image store these names are tftp_root's, like any other.
        if (!this.store) return undefined;
        let paths;
        try {
          paths = this.store.paths(named.image, named.version);
        } catch {
          return undefined; // not a valid image name
        }
        return diskFile(named.file === 'root.sqfs' ? paths.rootSqfs : named.file === 'vmlinuz' ? paths.kernel : paths.initrd);
      }
      case 'object': {
        // Boot servers copy versions from each other by content hash; the files are the same public ones store/… serves.
        const file = await this.store?.objectFile(named.sha256);
        return file === undefined ? undefined : diskFile(file);
      }
      case 'profile-image': {
        const profile = cfg.profiles.get(named.profile);
        return profile?.root?.image ? diskFile(profile.root.image) : undefined;
      }
    }
    return undefined;
  }

  /** `path` (normalized) inside server.tftp_root, by the confinement rule. */
  async #fromRoot(cfg: DisklessConfig, path: string): Promise<BootFile | PathRefusal | undefined> {
    if (!cfg.server.tftpRoot) return undefined;
    let realRoot: string;
    try {
      realRoot = await realpath(cfg.server.tftpRoot);
    } catch {
      return undefined;
    }
    const real = await resolveInsideRoot(realRoot, path);
    if (!real.ok) return real;
    return diskFile(real.path, undefined, { confinedTo: realRoot });
  }
}
