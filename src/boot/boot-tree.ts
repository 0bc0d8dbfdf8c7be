import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { DisklessConfig } from '../config/types.js';
import { diskFile, memoryFile, type BootFile } from '../files/boot-file.js';
import { normalizeRequestedPath, resolveInsideRoot, type PathRefusal } from '../files/confine.js';
import type { SizedReader } from '../files/sized-reader.js';
import { bootTargetFor, nodeByMac, type BootTarget } from './boot-target.js';
import { DigestCache } from '../files/digest-cache.js';
import { diskArgs, networkArgs, rootArgs } from './root-args.js';
import { parseBootPath, storedFilePath, versionExport } from './urls.js';
import type { ImageStore } from '../images/store/image-store.js';
import { renderProblemScript } from './ipxe-script.js';
import { renderDiscoveredScript, renderIpxeScript, renderUnknownScript } from './ipxe-script.js';
import { pxelinuxConfigFor } from './pxelinux-config.js';
import { KERNEL_CMDLINE_MAX, kernelArgsProblem } from '../config/kernel-args.js';

// Boot loaders taken from Debian's ipxe and pxelinux/syslinux-common packages, by the names
// DHCP hands out. Only these names are looked up in those directories.
const IPXE_FILES = new Set(['undionly.kpxe', 'undionly.kkpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi', 'ipxe-arm64.efi', 'snponly-arm64.efi']);
const SYSLINUX_FILE = /^(pxelinux\.0|lpxelinux\.0|[a-z0-9_-]+\.c32)$/;
/** How long a boot script waits for a version's NFS tree to be unpacked before it says "later". */
const TREE_WAIT_MS = 20_000;

/** Gives a boot script its node's one-time secrets token, when the machine asking is that node. */
export type TokenForScript = (mac: string, peer: string | undefined) => Promise<string | undefined>;

/** Told which stored version a machine was just given, for "who runs what". */
export type OnPinned = (mac: string, image: string, version: string) => void;

/** What the boot tree tells, and asks, the rest of the server while rendering scripts. */
export interface BootTreeHooks {
  tokenFor?: TokenForScript;
  /** Where /init redeems a token: the HTTPS listener (https://ADDRESS:PORT), given with every token. */
  secretsUrl?: string;
  onPinned?: OnPinned;
  /** A MAC the inventory does not list fetched its script (discovered machines). */
  onUnknownMac?: (mac: string, peer: string | undefined) => void;
}

/**
 * Everything served to booting machines, under one namespace shared by TFTP and HTTP:
 *   undionly.kpxe, ipxe.efi, …           iPXE binaries
 *   pxelinux.0, ldlinux.c32, *.c32       syslinux
 *   the generated and profile paths      named in urls.ts (boot/MAC.ipxe, pxelinux.cfg/…, profiles/…, images/…, store/…)
 *   anything else                        server.tftp_root, confined to it
 */
export class BootTree {
  readonly #digests = new DigestCache();

  constructor(
    private readonly config: () => DisklessConfig,
    private readonly baseUrl: string,
    private readonly store?: ImageStore,
    private readonly opts: BootTreeHooks = {},
  ) {}

  /**
   * The target with its root= arguments in front of the profile's own command line. A profile
   * on a stored image is pinned here to the version published right now: kernel, initrd and
   * root all name that version, so a publish during the boot cannot mix two.
   */
  async #withRoot(cfg: DisklessConfig, target: BootTarget, peer: string | undefined): Promise<BootTarget> {
    // The renderers refuse it too; refusing here first spends no token on a script never sent.
    const unsafe = kernelArgsProblem(target.cmdline, KERNEL_CMDLINE_MAX);
    if (unsafe) throw new Error(`Cannot boot ${target.mac}: the profile and node cmdline ${unsafe}`);
    let t = target;
    let pinned;
    if (target.profile.image !== undefined) {
      if (!this.store) throw new Error(`Cannot boot profile ${target.profile.name}: no image store`);
      const img = await this.store.resolve(target.profile.image);
      t = { ...t, kernel: storedFilePath(img.name, img.version, 'vmlinuz'), initrds: [storedFilePath(img.name, img.version, 'initrd.img')] };
      pinned = { path: storedFilePath(img.name, img.version, 'root.sqfs'), sha256: img.manifest.files['root.sqfs'].sha256, exportName: versionExport(img.name, img.version), image: img.name, version: img.version };
      if (target.node) this.opts.onPinned?.(target.mac, img.name, img.version);
      if (t.profile.root?.mode === 'nfs' && t.profile.root.nfsServer === undefined) await this.#treeReady(img.name, img.version);
    }
    const root = t.profile.root;
    // Only inventory nodes have secrets; the token rides on the command line, which /init
    // reads once and the node's users can see only after it has been spent.
    const token = target.node && this.opts.tokenFor ? await this.opts.tokenFor(target.mac, peer) : undefined;
    const tokenArg = token === undefined ? '' : [`rd.diskless.token=${token}`, this.opts.secretsUrl ? `diskless.secrets=${this.opts.secretsUrl}` : ''].filter(Boolean).join(' ');
    // A node's own network: replaces its profile's (which NICs a bond takes is per machine).
    const disk = [networkArgs(target.node?.network ?? t.profile.network), diskArgs(t.profile.disk)].filter(Boolean).join(' ');
    if (!root) return { ...t, cmdline: [disk, t.cmdline, tokenArg].filter(Boolean).join(' ') };
    const sha = !pinned && root.mode === 'live' && root.image ? await this.#digests.sha256(root.image) : undefined;
    const args = rootArgs(t.profile, cfg.server, this.baseUrl, sha, pinned);
    return { ...t, cmdline: [args, disk, t.cmdline, tokenArg].filter(Boolean).join(' ') };
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

  /** `peer` is the asking machine's address: only its own boot script gets it a token. */
  async resolve(requested: string, peer?: string): Promise<BootFile | undefined> {
    const found = await this.#find(requested, peer);
    return 'ok' in found ? undefined : found;
  }

  /**
   * `resolve`, then the file opened once: for TFTP, which reads a file block by block over
   * seconds, so every block comes from the descriptor opened here and not from the name.
   * A name refused by the confinement rule comes back as that refusal (TFTP answers it with
   * "Access violation"). The caller closes what it gets.
   */
  async open(requested: string, peer?: string): Promise<SizedReader | PathRefusal> {
    const found = await this.#find(requested, peer);
    if ('ok' in found) return found;
    return (await found.open()) ?? { ok: false, reason: 'not-found', error: `Cannot open ${requested}: gone, not a regular file, or moved out of its root since it was looked up` };
  }

  async #find(requested: string, peer: string | undefined): Promise<BootFile | PathRefusal> {
    const normalized = normalizeRequestedPath(requested);
    if (!normalized.ok) return normalized;
    const cfg = this.config();
    const found = (await this.#lookup(cfg, normalized.path, peer)) ?? (await this.#fromRoot(cfg, normalized.path));
    return found ?? { ok: false, reason: 'not-found', error: `Cannot find ${normalized.path}` };
  }

  /** The generated and configured names; undefined when the name is none of them (then tftp_root's). */
  async #lookup(cfg: DisklessConfig, path: string, peer: string | undefined): Promise<BootFile | undefined> {
    if (IPXE_FILES.has(path)) return diskFile(join(cfg.server.ipxeDir, path));
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
        const text = await pxelinuxConfigFor(cfg, named.name, (t) => this.#withRoot(cfg, t, peer)).catch(() => undefined);
        return text === undefined ? undefined : memoryFile(text);
      }
      case 'script': {
        const { mac } = named;
        if (!mac) return undefined;
        const known = nodeByMac(cfg, mac) !== undefined;
        if (!known) this.opts.onUnknownMac?.(mac, peer);
        const target = bootTargetFor(cfg, mac);
        if (!target && !known && cfg.dhcp.unknownClients === 'register') return memoryFile(renderDiscoveredScript(mac, this.baseUrl));
        if (!target) return memoryFile(renderUnknownScript(mac));
        try {
          return memoryFile(renderIpxeScript(await this.#withRoot(cfg, target, peer), this.baseUrl));
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
