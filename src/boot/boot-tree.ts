import { join } from 'node:path';
import type { DisklessConfig } from '../config/types.js';
import { normalizeMac } from '../net/mac.js';
import { diskFile, memoryFile, type BootFile } from '../files/boot-file.js';
import { confinedPath } from '../files/confine.js';
import { bootTargetFor, type BootTarget } from './boot-target.js';
import { DigestCache } from '../files/digest-cache.js';
import { imagePath, rootArgs } from './root-args.js';
import { renderIpxeScript, renderUnknownScript } from './ipxe-script.js';
import { pxelinuxConfigFor } from './pxelinux-config.js';

// Boot loaders taken from Debian's ipxe and pxelinux/syslinux-common packages, by the names
// DHCP hands out. Only these names are looked up in those directories.
const IPXE_FILES = new Set(['undionly.kpxe', 'undionly.kkpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi', 'ipxe-arm64.efi', 'snponly-arm64.efi']);
const SYSLINUX_FILE = /^(pxelinux\.0|lpxelinux\.0|[a-z0-9_-]+\.c32)$/;

/**
 * Everything served to booting machines, under one namespace shared by TFTP and HTTP:
 *   undionly.kpxe, ipxe.efi, …           iPXE binaries
 *   pxelinux.0, ldlinux.c32, *.c32       syslinux
 *   pxelinux.cfg/{01-MAC,HEXIP,default}  generated per node
 *   boot/MAC.ipxe                        generated per node
 *   profiles/NAME/{kernel,initrd-N}      the profile's files
 *   images/NAME/root.sqfs                the profile's root image (live roots fetch it)
 *   anything else                        server.tftp_root, confined to it
 */
export class BootTree {
  readonly #digests = new DigestCache();

  constructor(private readonly config: () => DisklessConfig, private readonly baseUrl: string) {}

  /** The target with its root= arguments in front of the profile's own command line. */
  async #withRoot(cfg: DisklessConfig, target: BootTarget): Promise<BootTarget> {
    const root = target.profile.root;
    if (!root) return target;
    const sha = root.mode === 'live' && root.image ? await this.#digests.sha256(root.image) : undefined;
    const args = rootArgs(target.profile, cfg.server, this.baseUrl, sha);
    return { ...target, cmdline: [args, target.cmdline].filter(Boolean).join(' ') };
  }

  async resolve(requested: string): Promise<BootFile | undefined> {
    const cfg = this.config();
    const path = requested.replace(/^\/+/, '');
    if (path.includes('\0') || path.split('/').includes('..')) return undefined;

    if (IPXE_FILES.has(path)) return diskFile(join(cfg.server.ipxeDir, path));
    if (SYSLINUX_FILE.test(path)) {
      for (const dir of cfg.server.syslinuxDirs) {
        const f = await diskFile(join(dir, path));
        if (f) return f;
      }
      return this.fromRoot(cfg, path);
    }
    const cfgName = /^pxelinux\.cfg\/([^/]+)$/.exec(path)?.[1];
    if (cfgName !== undefined) {
      const text = await pxelinuxConfigFor(cfg, cfgName, (t) => this.#withRoot(cfg, t));
      return text === undefined ? undefined : memoryFile(text);
    }
    const scriptMac = /^boot\/([^/]+)\.ipxe$/.exec(path)?.[1];
    if (scriptMac !== undefined) {
      const mac = normalizeMac(scriptMac);
      if (!mac) return undefined;
      const target = bootTargetFor(cfg, mac);
      return memoryFile(target ? renderIpxeScript(await this.#withRoot(cfg, target), this.baseUrl) : renderUnknownScript(mac));
    }
    const prof = /^profiles\/([^/]+)\/(kernel|initrd-(\d+))$/.exec(path);
    if (prof) {
      const profile = cfg.profiles.get(prof[1]!);
      if (!profile) return undefined;
      const file = prof[2] === 'kernel' ? profile.kernel : profile.initrds[Number(prof[3])];
      return file === undefined ? undefined : diskFile(file);
    }
    const img = /^images\/([^/]+)\/root\.sqfs$/.exec(path);
    if (img) {
      const profile = cfg.profiles.get(img[1]!);
      return profile?.root?.image && imagePath(profile) === path ? diskFile(profile.root.image) : undefined;
    }
    return this.fromRoot(cfg, path);
  }

  private async fromRoot(cfg: DisklessConfig, path: string): Promise<BootFile | undefined> {
    if (!cfg.server.tftpRoot) return undefined;
    const real = await confinedPath(cfg.server.tftpRoot, path);
    return real ? diskFile(real) : undefined;
  }
}
