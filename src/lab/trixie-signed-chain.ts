import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir } from '../files/cache-dir.js';
import { pathExists } from '../files/path-exists.js';
import { run } from '../process/run.js';
import { unpackedPackages } from '../initramfs/arch-packages.js';

/** Debian trixie's x86-64 signed chain: Microsoft-signed shim 16 and Debian-signed GRUB 2.12. */
export interface SignedChain {
  shim: string;
  grub: string;
  /** "name:arch=version" of the packages they came from. */
  versions: string[];
}

/** Lists older than this are fetched again (a new shim or GRUB then gives a new cache entry). */
const LISTS_MAX_AGE_MS = 7 * 24 * 3600_000;

/**
 * Debian trixie's shim-signed and grub-efi-amd64-signed for this bookworm host, whose own GRUB
 * network image (2.06) has no http module: trixie's (2.12) has one, and fetches its config,
 * kernel and initrd over HTTP after the firmware's HTTP boot. Downloaded with apt-get from a
 * private source list and lists directory under CACHE/apt-trixie (the host's apt sources stay
 * as they are), and unpacked once per exact version pair (unpackedPackages).
 */
export async function trixieSignedChain(cacheDir: string): Promise<SignedChain> {
  const aptDir = join(await ensurePrivateDir(cacheDir), 'apt-trixie');
  const lists = join(aptDir, 'lists');
  await mkdir(join(lists, 'partial'), { recursive: true });
  await mkdir(join(aptDir, 'cache', 'archives', 'partial'), { recursive: true });
  const sources = join(aptDir, 'sources.list');
  await writeFile(sources, 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n');
  const aptOptions = [
    '-o', `Dir::Etc::SourceList=${sources}`,
    '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${lists}`,
    '-o', `Dir::Cache=${join(aptDir, 'cache')}`,
    '-o', 'APT::Architectures=amd64',
  ];
  const stamp = join(aptDir, 'updated');
  const fresh = await stat(stamp).then((s) => Date.now() - s.mtimeMs < LISTS_MAX_AGE_MS, () => false);
  if (!fresh) {
    await run(['apt-get', ...aptOptions, 'update', '-q'], { timeoutMs: 300_000 });
    await writeFile(stamp, `${new Date().toISOString()}\n`);
  }
  const u = await unpackedPackages({ packages: ['shim-signed:amd64', 'grub-efi-amd64-signed:amd64'], cacheDir, prefix: 'trixie-signed', aptOptions });
  const chain: SignedChain = {
    shim: join(u.root, 'usr/lib/shim/shimx64.efi.signed'),
    grub: join(u.root, 'usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'),
    versions: u.versions,
  };
  for (const f of [chain.shim, chain.grub]) {
    if (!(await pathExists(f))) throw new Error(`Cannot find ${f} in trixie's packages (${u.versions.join(', ')})`);
  }
  return chain;
}
