import { type CpioEntry, writeCpio } from '../initramfs/cpio.js';
import type { NodeFile, SecretSource } from './secret-store.js';

/**
 * Where the node finds root's password hash. It is not shipped as /etc/shadow because that would
 * replace the image's shadow (other accounts); the node's /init applies it with `usermod -p` or sed.
 */
export const ROOT_PASSWORD_HASH_PATH = '/etc/diskless/root-password-hash';

// Parents are listed explicitly, with their modes, so `cpio -i` works without -d and /root/.ssh
// gets 0700 (sshd's StrictModes refuses authorized_keys under a group-writable directory).
const DIRS: ReadonlyArray<[string, number]> = [
  ['/etc', 0o755],
  ['/etc/ssh', 0o755],
  ['/etc/diskless', 0o755],
  ['/root', 0o700],
  ['/root/.ssh', 0o700],
];

/** Every file the node should receive: host keys, authorized_keys and the root password hash. */
export async function nodeSecretFiles(store: SecretSource, mac: string, hostname: string): Promise<NodeFile[]> {
  const { files } = await store.hostKeys(mac, hostname);
  const out = [...files];
  const keys = await store.authorizedKeys(mac);
  if (keys !== undefined) out.push({ path: '/root/.ssh/authorized_keys', mode: 0o600, content: Buffer.from(keys, 'utf8') });
  const hash = await store.rootPasswordHash(mac);
  if (hash !== undefined) out.push({ path: ROOT_PASSWORD_HASH_PATH, mode: 0o600, content: Buffer.from(hash + '\n', 'utf8') });
  return out;
}

/**
 * A node's files as one cpio newc archive: busybox in the initramfs has `cpio -i`, and cpio,
 * unlike a line-based format, carries modes and arbitrary bytes without any shell quoting.
 * Parents named in DIRS are listed with their modes; other parents are left to `cpio -d`, so
 * an image's own directory modes are never changed.
 */
export async function bundleFiles(files: readonly NodeFile[]): Promise<Buffer> {
  const used = new Set(files.map((f) => f.path.split('/').slice(0, -1).join('/')));
  const entries: CpioEntry[] = [];
  for (const [path, mode] of DIRS) {
    if ([...used].some((d) => d === path || d.startsWith(path + '/'))) entries.push({ type: 'dir', path, mode });
  }
  for (const f of files) entries.push({ type: 'file', path: f.path, mode: f.mode, data: f.content });
  const chunks: Uint8Array[] = [];
  for await (const chunk of writeCpio(entries)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
