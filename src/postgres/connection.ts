import { readFileSync } from 'node:fs';
import type { ClientConfig } from 'pg';
import type { PostgresStateConfig } from '../config/types.js';
import { DisklessError } from '../errors/diskless-error.js';

/**
 * The password for the database user: the first line of `password_file`, else the variable
 * `password_env` names. Read at each new connection, so a rotated password file is picked up
 * without a restart; undefined when neither is set (trust, peer or certificate auth).
 */
export function readPassword(cfg: PostgresStateConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (cfg.passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(cfg.passwordFile, 'utf8');
    } catch (e) {
      throw new DisklessError('DL_DATABASE', `Cannot read the database password from ${cfg.passwordFile} (state.password_file): ${(e as Error).message}`);
    }
    return text.split(/\r?\n/)[0] ?? '';
  }
  return env[cfg.passwordEnv];
}

/** How pg connects for `cfg`: host or socket, credentials, TLS as state.tls says. */
export function clientConfig(cfg: PostgresStateConfig, applicationName: string, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  let ssl: ClientConfig['ssl'] = false;
  if (cfg.tls === 'require') ssl = { rejectUnauthorized: false };
  if (cfg.tls === 'verify-full') {
    let ca: string | undefined;
    if (cfg.caFile !== undefined) {
      try {
        ca = readFileSync(cfg.caFile, 'utf8');
      } catch (e) {
        throw new DisklessError('DL_DATABASE', `Cannot read the database CA from ${cfg.caFile} (state.ca_file): ${(e as Error).message}`);
      }
    }
    // Node checks that the certificate names the host (verify-full), against `ca` when given.
    ssl = { rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }) };
  }
  return {
    host: cfg.host,
    port: cfg.port,
    database: cfg.database,
    user: cfg.user,
    // A function, so each new connection reads the password anew.
    password: () => readPassword(cfg, env) ?? '',
    ssl,
    application_name: applicationName,
    connectionTimeoutMillis: 5000,
    // A dead database host must be noticed by TCP, not after the kernel's default two hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/** "Cannot reach the state database …" with pg's reason and what to check. */
export function databaseError(cfg: PostgresStateConfig, e: unknown, doing = 'connect to'): DisklessError {
  if (e instanceof DisklessError) return e;
  const err = e as { message?: string; code?: string };
  const reason = err.message ?? String(e);
  let hint = '';
  if (err.code === '28P01' || err.code === '28000') hint = ' (check state.password_file or $PGPASSWORD, and pg_hba.conf)';
  else if (err.code === '3D000') hint = ` (create it: createdb -O ${cfg.user} ${cfg.database})`;
  else if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') hint = ' (is PostgreSQL running and listening there?)';
  else if (/self[- ]signed|certificate|altnames/i.test(reason)) hint = ' (state.ca_file must hold the CA that signed the database server\'s certificate, for the host named in the URL)';
  return new DisklessError('DL_DATABASE', `Cannot ${doing} the state database ${cfg.url}: ${reason}${hint}`, { cause: e });
}
