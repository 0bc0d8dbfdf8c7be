import { lstat, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, nullLogger } from '../log/logger.js';
import { DisklessError } from '../errors/diskless-error.js';
import { macToHyphens, normalizeMac } from '../net/mac.js';
import { CommandError } from '../process/command.js';
import { run } from '../process/run.js';
import { checkSecretDir, checkSecretPath, defaultRandomBytes, ensureSecretDir, writeSecretFile } from './secret-files.js';
import { isCode } from '../files/error-code.js';

export type HostKeyType = 'ed25519' | 'rsa' | 'ecdsa';
export const HOST_KEY_TYPES: readonly HostKeyType[] = ['ed25519', 'rsa', 'ecdsa'];

/** A file to be placed on the node: absolute path inside the node's root, mode, bytes. */
export interface NodeFile {
  path: string;
  mode: number;
  content: Buffer;
}

export interface SecretStoreOptions {
  stateDir: string;
  /** Path or name of ssh-keygen (Debian: openssh-client). */
  sshKeygen?: string;
  logger?: Logger;
}

/** A node's key (its MAC, or "host:NAME" for a node without one), or `'*'`: every node without a value of its own. */
export type NodeSelector = string;

/**
 * Where per-node secrets are kept: STATE/secrets (SecretStore, one server) or, sealed, the
 * state database several servers share (the postgres room), so a node gets the same host keys
 * from every server.
 */
export interface SecretSource {
  hostKeys(mac: string, hostname: string): Promise<{ files: NodeFile[] }>;
  setRootPassword(selector: NodeSelector, hash: string): Promise<void>;
  rootPasswordHash(mac: string): Promise<string | undefined>;
  setAuthorizedKeys(selector: NodeSelector, keys: string | readonly string[]): Promise<void>;
  authorizedKeys(mac: string): Promise<string | undefined>;
  /**
   * The server-wide secret node report keys are derived from (src/identity/report-proof.ts):
   * the same on every server that shares the state, and kept across restarts.
   */
  reportSecret(): Promise<Buffer>;
}

/** The hostname check every store applies before putting it in a key's comment. */
export function checkHostname(hostname: string): void {
  if (!HOSTNAME.test(hostname)) throw new Error(`Invalid hostname "${hostname}"`);
}

/**
 * One SSH host key pair made by ssh-keygen in a private scratch directory under `parent`
 * (removed after), as bytes: the caller stores them with its own atomic writes, so a crash
 * mid-generation never leaves half a pair under the final names.
 */
export async function generateHostKey(sshKeygen: string, parent: string, type: HostKeyType, hostname: string): Promise<{ priv: Buffer; pub: Buffer }> {
  const scratch = await mkdtemp(join(parent, '.keygen-'));
  try {
    const out = join(scratch, 'key');
    await run([sshKeygen, '-q', ...KEYGEN_ARGS[type], '-N', '', '-C', `root@${hostname}`, '-f', out]);
    const [priv, pub] = await Promise.all([readFile(out), readFile(`${out}.pub`)]);
    return { priv, pub };
  } catch (e) {
    if (e instanceof CommandError && e.failure === 'not-found') {
      throw new DisklessError('DL_TOOL', `Cannot generate SSH host keys: ${sshKeygen} not found (Debian: apt-get install openssh-client)`);
    }
    throw e;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const DEFAULT_DIR = 'default';
const ROOT_PASSWORD_FILE = 'root_password_hash';
const AUTHORIZED_KEYS_FILE = 'authorized_keys';
const REPORT_SECRET_FILE = 'report-secret';

const KEYGEN_ARGS: Record<HostKeyType, string[]> = {
  ed25519: ['-t', 'ed25519'],
  // 3072 bits: OpenSSH's own default since 8.x, and what NIST rates good past 2030.
  rsa: ['-t', 'rsa', '-b', '3072'],
  ecdsa: ['-t', 'ecdsa', '-b', '256'],
};

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const B64CRYPT = '[./0-9A-Za-z]';
const CRYPT_HASHES: ReadonlyArray<[string, RegExp]> = [
  ['yescrypt', new RegExp(`^\\$y\\$${B64CRYPT}+\\$${B64CRYPT}+\\$${B64CRYPT}{43}$`)],
  ['gost-yescrypt', new RegExp(`^\\$gy\\$${B64CRYPT}+\\$${B64CRYPT}+\\$${B64CRYPT}{43}$`)],
  ['scrypt', new RegExp(`^\\$7\\$${B64CRYPT}{14,}\\$${B64CRYPT}{43}$`)],
  ['sha512crypt', new RegExp(`^\\$6\\$(?:rounds=[0-9]+\\$)?${B64CRYPT}{1,16}\\$${B64CRYPT}{86}$`)],
  ['sha256crypt', new RegExp(`^\\$5\\$(?:rounds=[0-9]+\\$)?${B64CRYPT}{1,16}\\$${B64CRYPT}{43}$`)],
  ['bcrypt', new RegExp(`^\\$2[aby]\\$[0-9]{2}\\$${B64CRYPT}{53}$`)],
];

/**
 * Accepts only a crypt(3) hash of a scheme still considered sound, so a plaintext password
 * pasted by mistake is never stored, and MD5/DES hashes (crackable in hours) are not shipped.
 */
export function validateCryptHash(hash: string): string {
  const h = hash.trim();
  if (CRYPT_HASHES.some(([, re]) => re.test(h))) return h;
  const hint = 'generate one with `mkpasswd -m yescrypt` (Debian: whois) or `openssl passwd -6`';
  if (/^\$1\$/.test(h) || /^[./0-9A-Za-z]{13}$/.test(h)) {
    throw new DisklessError('DL_INVALID', `Refusing root password hash: MD5/DES crypt is too weak; ${hint}`);
  }
  throw new DisklessError('DL_INVALID', `Refusing root password: not a crypt(3) hash ($y$, $gy$, $7$, $6$, $5$, $2b$); ${hint}`);
}

const KEY_TYPE = /^(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)(?:-cert-v01@openssh\.com)?$/;

/** Each non-blank, non-comment line must carry a public key (options before it are allowed). */
export function validateAuthorizedKeys(keys: string | readonly string[]): string {
  const lines = (typeof keys === 'string' ? keys.split('\n') : keys.flatMap((k) => k.split('\n'))).map((l) => l.trim());
  const kept: string[] = [];
  lines.forEach((line, i) => {
    if (line === '' || line.startsWith('#')) return;
    if (line.includes('PRIVATE KEY')) {
      throw new DisklessError('DL_INVALID', `Refusing authorized_keys line ${i + 1}: it is a private key; give the .pub file`);
    }
    const words = line.split(/\s+/);
    const at = words.findIndex((w) => KEY_TYPE.test(w));
    const blob = at >= 0 ? words[at + 1] : undefined;
    if (blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
      throw new DisklessError('DL_INVALID', `Refusing authorized_keys line ${i + 1}: no "TYPE BASE64" public key found`);
    }
    kept.push(line);
  });
  return kept.length === 0 ? '' : kept.join('\n') + '\n';
}

const exists = async (p: string): Promise<boolean> => {
  try {
    await lstat(p);
    return true;
  } catch (e) {
    if (isCode(e, 'ENOENT')) return false;
    throw e;
  }
};

/**
 * Per-node secrets under STATE/secrets/<mac-with-hyphens>/ (0700, files 0600). Hyphens rather than
 * colons because rsync/scp read "a:b" as host:path, and admins back this directory up.
 */
export class SecretStore implements SecretSource {
  readonly root: string;
  private readonly sshKeygen: string;
  private readonly logger: Logger;
  // Serialises work per node: two boots racing must not generate two different host keys.
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(options: SecretStoreOptions) {
    this.root = join(options.stateDir, 'secrets');
    this.sshKeygen = options.sshKeygen ?? 'ssh-keygen';
    this.logger = options.logger ?? nullLogger;
  }

  /** Creates STATE/secrets if needed and refuses to start if any stored secret is exposed. */
  static async open(options: SecretStoreOptions): Promise<SecretStore> {
    const store = new SecretStore(options);
    await ensureSecretDir(store.root);
    await store.verify();
    return store;
  }

  /** Checks the modes of every secret directory and file. */
  async verify(): Promise<void> {
    await checkSecretPath(this.root, 'dir');
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      const p = join(this.root, entry.name);
      if (entry.isDirectory()) await checkSecretDir(p);
      else await checkSecretPath(p, 'file');
    }
  }

  /**
   * The directory holding one node's secrets, or the defaults for `'*'`. A node is named by
   * its MAC, or, without one (a node known by its switch port), by "host:NAME".
   */
  nodeDir(selector: NodeSelector): string {
    if (selector === '*') return join(this.root, DEFAULT_DIR);
    if (selector.startsWith('host:')) {
      const name = selector.slice(5);
      if (!HOSTNAME.test(name)) throw new Error(`Invalid node host name "${name}"`);
      return join(this.root, `host-${name.toLowerCase()}`);
    }
    const mac = normalizeMac(selector);
    if (mac === undefined) throw new Error(`Invalid MAC address "${selector}"`);
    return join(this.root, macToHyphens(mac));
  }

  /**
   * The node's SSH host keys, generated on first use and then kept, so the node presents the
   * same identity at every boot (keys made anew at each boot would break known_hosts).
   */
  async hostKeys(mac: string, hostname: string): Promise<{ files: NodeFile[] }> {
    checkHostname(hostname);
    const dir = this.nodeDir(mac);
    if (dir === this.nodeDir('*')) throw new Error('Host keys belong to one node, not to "*"');
    return this.withLock(dir, async () => {
      await this.ensureNodeDir(dir);
      await checkSecretDir(dir);
      const files: NodeFile[] = [];
      for (const type of HOST_KEY_TYPES) {
        const name = `ssh_host_${type}_key`;
        const priv = join(dir, name);
        const pub = `${priv}.pub`;
        // The private key is written last, so its presence means the pair is complete.
        if (!(await exists(priv))) await this.generate(dir, type, hostname, priv, pub);
        else if (!(await exists(pub))) await this.derivePublic(priv, pub);
        await checkSecretPath(priv, 'file');
        await checkSecretPath(pub, 'file');
        files.push({ path: `/etc/ssh/${name}`, mode: 0o600, content: await readFile(priv) });
        files.push({ path: `/etc/ssh/${name}.pub`, mode: 0o644, content: await readFile(pub) });
      }
      return { files };
    });
  }

  /** Stores root's password as a crypt hash only; `'*'` sets the default for all nodes. */
  async setRootPassword(selector: NodeSelector, hash: string): Promise<void> {
    const valid = validateCryptHash(hash);
    await this.writeNodeFile(selector, ROOT_PASSWORD_FILE, valid + '\n');
  }

  /** The node's own hash, else the `'*'` default, else undefined. */
  async rootPasswordHash(mac: string): Promise<string | undefined> {
    const v = await this.readWithDefault(mac, ROOT_PASSWORD_FILE);
    return v === undefined ? undefined : v.trim();
  }

  /** An empty list stores an empty file, which overrides a `'*'` default with "no keys". */
  async setAuthorizedKeys(selector: NodeSelector, keys: string | readonly string[]): Promise<void> {
    await this.writeNodeFile(selector, AUTHORIZED_KEYS_FILE, validateAuthorizedKeys(keys));
  }

  async authorizedKeys(mac: string): Promise<string | undefined> {
    return this.readWithDefault(mac, AUTHORIZED_KEYS_FILE);
  }

  /** STATE/secrets/report-secret (0600): 32 random bytes, made on first use, then read once per process. */
  reportSecret(): Promise<Buffer> {
    this.reportSecretRead ??= this.readReportSecret().catch((e: unknown) => {
      this.reportSecretRead = undefined;
      throw e;
    });
    return this.reportSecretRead;
  }

  private reportSecretRead: Promise<Buffer> | undefined;

  private async readReportSecret(): Promise<Buffer> {
    const file = join(this.root, REPORT_SECRET_FILE);
    return this.withLock(file, async () => {
      if (!(await exists(file))) {
        await ensureSecretDir(this.root);
        await writeSecretFile(file, defaultRandomBytes(32));
      }
      await checkSecretPath(file, 'file');
      const secret = await readFile(file);
      if (secret.length !== 32) throw new DisklessError('DL_SECRET', `Cannot use ${file}: expected 32 bytes, found ${secret.length} (remove it: a new one is made, and nodes booting now lose the proof of their reports until they boot again)`);
      return secret;
    });
  }

  private async writeNodeFile(selector: NodeSelector, name: string, content: string): Promise<void> {
    const dir = this.nodeDir(selector);
    await this.withLock(dir, async () => {
      await this.ensureNodeDir(dir);
      await writeSecretFile(join(dir, name), content);
    });
    this.logger.log('info', 'secret stored', { service: 'secrets', node: selector, file: name });
  }

  // The root first: otherwise mkdir -p would create STATE/secrets with the default 0755.
  private async ensureNodeDir(dir: string): Promise<void> {
    await ensureSecretDir(this.root);
    await ensureSecretDir(dir);
  }

  private async readWithDefault(mac: string, name: string): Promise<string | undefined> {
    for (const dir of [this.nodeDir(mac), this.nodeDir('*')]) {
      const p = join(dir, name);
      if (!(await exists(p))) continue;
      await checkSecretPath(dir, 'dir');
      await checkSecretPath(p, 'file');
      return readFile(p, 'utf8');
    }
    return undefined;
  }

  private async generate(dir: string, type: HostKeyType, hostname: string, priv: string, pub: string): Promise<void> {
    const pair = await generateHostKey(this.sshKeygen, dir, type, hostname);
    // The private key is written last: its presence means the pair is complete.
    await writeSecretFile(pub, pair.pub);
    await writeSecretFile(priv, pair.priv);
    this.logger.log('info', 'ssh host key generated', { service: 'secrets', file: priv, keyType: type });
  }

  private async derivePublic(priv: string, pub: string): Promise<void> {
    const { stdout } = await run([this.sshKeygen, '-y', '-f', priv]);
    await writeSecretFile(pub, stdout);
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const mine = prev.then(fn, fn);
    const tail = mine.catch(() => {});
    this.locks.set(key, tail);
    try {
      return await mine;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}
