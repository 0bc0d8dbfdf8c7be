import { isScalar } from 'yaml';
import { join } from 'node:path';
import type { DisklessConfig, PostgresStateConfig, StateConfig } from './types.js';
import type { Fields } from './yaml-fields.js';

const TLS_MODES = ['verify-full', 'require', 'off'] as const;

/** The loopback names and addresses, over which TLS adds nothing by default. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === '[::1]';
}

/**
 * `state:` — absent or `files`: JSON files under server.state_dir. A `postgres://USER@HOST[:PORT]/DB`
 * URL, or a mapping with `url` and the connection's other settings:
 *
 *     state:
 *       url: postgres://diskless@db1.example/diskless
 *       password_file: /etc/diskless/db-password   # else $PGPASSWORD (password_env names another)
 *       tls: verify-full                            # require, off; default verify-full off-host
 *       ca_file: /etc/diskless/db-ca.pem
 *       offline_grace: 600
 *       secrets_key_file: /etc/diskless/secrets.key # default STATE_DIR/secrets.key
 *
 * A unix socket: `postgres://diskless@/diskless?host=/run/postgresql` (`@:5433/` for another port). A password inside the
 * URL is refused: the config is read by every admin tool and often by more people than the
 * database password should be.
 */
export function readState(top: Fields, path: (p: string) => string): StateConfig {
  const node = top.raw('state');
  if (node === undefined || (isScalar(node) && (node.value === null || node.value === 'files'))) return { backend: 'files' };
  if (isScalar(node)) {
    const text = top.optString('state')!;
    return postgres(top, 'state', text, undefined, path);
  }
  const f = top.map('state');
  const url = f.string('url');
  return postgres(f, 'url', url, f, path);
}

function postgres(at: Fields, key: string, text: string, f: Fields | undefined, path: (p: string) => string): PostgresStateConfig {
  const fail = (problem: string): never => at.fail(key, problem, at.raw(key));
  let u: URL;
  // A socket URL names no host (postgres://USER@[:PORT]/DB?host=/DIR; the port names the
  // socket file), which WHATWG URLs refuse.
  const socketForm = /^(postgres(?:ql)?:\/\/(?:[^@/?#]*@)?)((?::\d+)?\/.*)$/.exec(text);
  try {
    u = new URL(socketForm ? `${socketForm[1]}unix-socket${socketForm[2]}` : text);
    if (socketForm) u.hostname = '';
  } catch {
    return fail(`${JSON.stringify(text)} is neither "files" nor a postgres://USER@HOST/DATABASE URL`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') fail(`${JSON.stringify(text)} is neither "files" nor a postgres://USER@HOST/DATABASE URL`);
  if (u.password !== '') fail('holds a password: put it in a file named by state.password_file (mode 0600), or in $PGPASSWORD');
  let socketDir: string | undefined;
  for (const [name, value] of u.searchParams) {
    if (name === 'host' && value.startsWith('/')) socketDir = value;
    else if (name === 'sslmode') fail('sslmode in the URL is not read: say state.tls: verify-full, require or off');
    else fail(`URL parameter "${name}" is not read (only host=/SOCKET/DIR); put settings under state:`);
  }
  const host = socketDir ?? decodeURIComponent(u.hostname);
  if (host === '') fail('names no host: postgres://USER@HOST/DATABASE, or postgres://USER@/DATABASE?host=/SOCKET/DIR');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) fail('names no database: postgres://USER@HOST/DATABASE');
  const user = decodeURIComponent(u.username);
  if (user === '') fail('names no user: postgres://USER@HOST/DATABASE');
  const port = u.port === '' ? 5432 : Number(u.port);
  const local = host.startsWith('/') || isLoopback(host);
  const passwordFile = f?.optString('password_file');
  const passwordEnv = f?.optString('password_env') ?? 'PGPASSWORD';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(passwordEnv)) f?.fail('password_env', `${JSON.stringify(passwordEnv)} is not an environment variable name`, f.raw('password_env'));
  const tls = f?.has('tls') ? f.oneOf('tls', TLS_MODES, 'verify-full') : local ? 'off' : 'verify-full';
  if (tls !== 'off' && host.startsWith('/')) f?.fail('tls', 'a unix socket carries no TLS: say tls: off, or connect over TCP', f.raw('tls'));
  const caFile = f?.optString('ca_file');
  if (caFile !== undefined && tls !== 'verify-full') f?.fail('ca_file', 'only verify-full checks the certificate against it; set tls: verify-full', f.raw('ca_file'));
  const offlineGraceSec = f?.int('offline_grace', 600, 0, 7 * 86400) ?? 600;
  const secretsKeyFile = f?.optString('secrets_key_file');
  f?.rejectUnknown();
  return {
    backend: 'postgres',
    url: text,
    host,
    port,
    database,
    user,
    passwordEnv,
    tls,
    offlineGraceSec,
    ...(passwordFile !== undefined ? { passwordFile: path(passwordFile) } : {}),
    ...(caFile !== undefined ? { caFile: path(caFile) } : {}),
    ...(secretsKeyFile !== undefined ? { secretsKeyFile: path(secretsKeyFile) } : {}),
  };
}

/** The file holding the key that seals the secrets kept in the state database. */
export function secretsKeyFile(config: DisklessConfig): string {
  return (config.state.backend === 'postgres' ? config.state.secretsKeyFile : undefined) ?? join(config.server.stateDir, 'secrets.key');
}
