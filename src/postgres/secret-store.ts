import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { DisklessError } from '../errors/diskless-error.js';
import { isCode } from '../files/error-code.js';
import { type Logger, nullLogger } from '../log/logger.js';
import { normalizeMac } from '../net/mac.js';
import { checkSecretPath, writeSecretFile } from '../secrets/secret-files.js';
import {
  checkHostname, generateHostKey, HOST_KEY_TYPES, validateAuthorizedKeys, validateCryptHash,
  type NodeFile, type NodeSelector, type SecretSource,
} from '../secrets/secret-store.js';
import type { Database, Queryable } from './database.js';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CHECK_LABEL = 'diskless secrets key check v1';

const ROOT_PASSWORD = 'root_password_hash';
const AUTHORIZED_KEYS = 'authorized_keys';

/**
 * The key file's directory, made 0700 when missing. One that exists may let its group read it
 * (the default is state_dir, which serve makes 0750): the key file itself is 0600. Nobody but
 * its owner may write it, or the key could be replaced.
 */
async function ensureKeyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory() || (st.mode & 0o022) !== 0) {
    throw new DisklessError('DL_SECRET', `Cannot make the secrets key in ${dir}: ${st.isDirectory() ? `its mode 0${(st.mode & 0o777).toString(8)} lets group or other write it` : 'it is not a directory'}; run chmod go-w ${dir}, or set state.secrets_key_file elsewhere`);
  }
}

/**
 * The key that seals secrets in the database, from its file (base64 of 32 bytes, mode 0600).
 * The database keeps only an HMAC of a fixed label under the key, so every server can tell it
 * holds the same key without the key being there. A missing file is made (random) only while
 * the database has no secrets key yet; otherwise this server must be given the others' file.
 */
export async function openSecretsKey(db: Queryable, file: string, logger: Logger = nullLogger): Promise<Buffer> {
  const rows = await db.query<{ mac: Buffer }>('SELECT mac FROM secrets_key_check WHERE id = 1');
  const known = rows[0]?.mac;
  let key: Buffer;
  try {
    await checkSecretPath(file, 'file');
    const text = (await readFile(file, 'utf8')).trim();
    key = Buffer.from(text, 'base64');
    if (key.length !== KEY_BYTES || key.toString('base64') !== text) {
      throw new DisklessError('DL_SECRET', `Cannot use the secrets key ${file}: expected the base64 of ${KEY_BYTES} bytes (make one with: head -c 32 /dev/urandom | base64 > ${file}; chmod 600 ${file})`);
    }
  } catch (e) {
    if (!isCode(e, 'ENOENT')) throw e;
    if (known !== undefined) {
      throw new DisklessError('DL_SECRET', `Cannot read the secrets kept in the state database: the key file ${file} is missing. Copy it from another boot server (mode 0600), or set state.secrets_key_file`);
    }
    key = randomBytes(KEY_BYTES);
    await ensureKeyDir(dirname(file));
    await writeSecretFile(file, key.toString('base64') + '\n');
    logger.log('warn', 'secrets key made: copy it to every other boot server before starting them', { service: 'secrets', file });
  }
  const mine = createHmac('sha256', key).update(CHECK_LABEL).digest();
  if (known === undefined) {
    await db.query('INSERT INTO secrets_key_check (id, mac) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [mine]);
    const now = await db.query<{ mac: Buffer }>('SELECT mac FROM secrets_key_check WHERE id = 1');
    if (now[0] !== undefined && timingSafeEqual(now[0].mac, mine)) return key;
  } else if (known.length === mine.length && timingSafeEqual(known, mine)) {
    return key;
  }
  throw new DisklessError('DL_SECRET', `Cannot read the secrets kept in the state database: ${file} is not the key they are sealed with. Copy the key file from another boot server (mode 0600)`);
}

/**
 * Per-node secrets in the state database, each sealed with AES-256-GCM under the secrets key
 * (kept in a file on each server, never in the database), bound to its node and name (the
 * additional data), so a row copied to another node's key does not open. Host keys are made
 * by the first server that needs them: a pair is inserted in one transaction, and a server
 * that loses the race takes the winner's pair, so every server hands a node the same keys.
 */
export class PgSecretStore implements SecretSource {
  readonly #db: Database;
  readonly #key: Buffer;
  readonly #sshKeygen: string;
  readonly #log: Logger;

  private constructor(db: Database, key: Buffer, sshKeygen: string, log: Logger) {
    this.#db = db;
    this.#key = key;
    this.#sshKeygen = sshKeygen;
    this.#log = log;
  }

  static async open(db: Database, o: { keyFile: string; sshKeygen?: string; logger?: Logger }): Promise<PgSecretStore> {
    const log = (o.logger ?? nullLogger).child({ service: 'secrets' });
    return new PgSecretStore(db, await openSecretsKey(db, o.keyFile, log), o.sshKeygen ?? 'ssh-keygen', log);
  }

  /** Derived from the secrets key, which every server sharing the database holds (never stored). */
  async reportSecret(): Promise<Buffer> {
    return createHmac('sha256', this.#key).update('diskless node report secret').digest();
  }

  async hostKeys(mac: string, hostname: string): Promise<{ files: NodeFile[] }> {
    checkHostname(hostname);
    const node = selectorOf(mac);
    if (node === '*') throw new Error('Host keys belong to one node, not to "*"');
    let have = await this.#read(node, HOST_KEY_TYPES.flatMap((t) => [`ssh_host_${t}_key`, `ssh_host_${t}_key.pub`]));
    const missing = HOST_KEY_TYPES.filter((t) => !have.has(`ssh_host_${t}_key`) || !have.has(`ssh_host_${t}_key.pub`));
    if (missing.length > 0) {
      const made = await Promise.all(missing.map(async (t) => ({ type: t, pair: await generateHostKey(this.#sshKeygen, tmpdir(), t, hostname) })));
      await this.#db.transaction(async (q) => {
        for (const { type, pair } of made) {
          const name = `ssh_host_${type}_key`;
          // Another server's pair, if it won the race, stays; ours is dropped whole below.
          const won = await q.query('INSERT INTO node_secrets (node, name, sealed) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING name', [node, name, this.#seal(node, name, pair.priv)]);
          if (won.length === 1) {
            await q.query('INSERT INTO node_secrets (node, name, sealed) VALUES ($1, $2, $3) ON CONFLICT (node, name) DO UPDATE SET sealed = EXCLUDED.sealed', [node, `${name}.pub`, this.#seal(node, `${name}.pub`, pair.pub)]);
            this.#log.log('info', 'ssh host key generated', { mac: node, keyType: type });
          }
        }
      });
      have = await this.#read(node, HOST_KEY_TYPES.flatMap((t) => [`ssh_host_${t}_key`, `ssh_host_${t}_key.pub`]));
    }
    const files: NodeFile[] = [];
    for (const type of HOST_KEY_TYPES) {
      const name = `ssh_host_${type}_key`;
      const priv = have.get(name);
      const pub = have.get(`${name}.pub`);
      if (priv === undefined || pub === undefined) throw new DisklessError('DL_SECRET', `The ${type} host key of ${node} is incomplete in the state database`);
      files.push({ path: `/etc/ssh/${name}`, mode: 0o600, content: priv });
      files.push({ path: `/etc/ssh/${name}.pub`, mode: 0o644, content: pub });
    }
    return { files };
  }

  async setRootPassword(selector: NodeSelector, hash: string): Promise<void> {
    await this.#write(selector, ROOT_PASSWORD, validateCryptHash(hash) + '\n');
  }

  async rootPasswordHash(mac: string): Promise<string | undefined> {
    return (await this.#withDefault(mac, ROOT_PASSWORD))?.trim();
  }

  async setAuthorizedKeys(selector: NodeSelector, keys: string | readonly string[]): Promise<void> {
    await this.#write(selector, AUTHORIZED_KEYS, validateAuthorizedKeys(keys));
  }

  async authorizedKeys(mac: string): Promise<string | undefined> {
    return this.#withDefault(mac, AUTHORIZED_KEYS);
  }

  async #write(selector: NodeSelector, name: string, content: string): Promise<void> {
    const node = selectorOf(selector);
    await this.#db.query('INSERT INTO node_secrets (node, name, sealed) VALUES ($1, $2, $3) ON CONFLICT (node, name) DO UPDATE SET sealed = EXCLUDED.sealed',
      [node, name, this.#seal(node, name, Buffer.from(content, 'utf8'))]);
    this.#log.log('info', 'secret stored', { node: selector, file: name });
  }

  async #withDefault(mac: string, name: string): Promise<string | undefined> {
    const node = selectorOf(mac);
    const mine = (await this.#read(node, [name])).get(name);
    if (mine !== undefined) return mine.toString('utf8');
    return (await this.#read('*', [name])).get(name)?.toString('utf8');
  }

  async #read(node: string, names: string[]): Promise<Map<string, Buffer>> {
    const rows = await this.#db.query<{ name: string; sealed: Buffer }>('SELECT name, sealed FROM node_secrets WHERE node = $1 AND name = ANY($2)', [node, names]);
    return new Map(rows.map((r) => [r.name, this.#open(node, r.name, r.sealed)]));
  }

  #seal(node: string, name: string, plain: Buffer): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const c = createCipheriv('aes-256-gcm', this.#key, nonce);
    c.setAAD(Buffer.from(`${node}\0${name}`));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([nonce, c.getAuthTag(), body]);
  }

  #open(node: string, name: string, sealed: Buffer): Buffer {
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, sealed.subarray(0, NONCE_BYTES));
      d.setAAD(Buffer.from(`${node}\0${name}`));
      d.setAuthTag(sealed.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
      return Buffer.concat([d.update(sealed.subarray(NONCE_BYTES + TAG_BYTES)), d.final()]);
    } catch {
      throw new DisklessError('DL_SECRET', `The secret ${name} of ${node} in the state database does not open with this server's key: it was altered or sealed for another node`);
    }
  }
}

function selectorOf(selector: NodeSelector): string {
  if (selector === '*') return '*';
  const mac = normalizeMac(selector);
  if (mac === undefined) throw new Error(`Invalid MAC address "${selector}"`);
  return mac;
}
