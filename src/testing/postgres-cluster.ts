import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Daemon } from '../process/daemon.js';
import { run } from '../process/run.js';
import { onExitCleanup } from '../process/exit-cleanup.js';
import type { PostgresStateConfig } from '../config/types.js';
import { freeTcpPort } from './free-ports.js';
import { waitUntilAsync } from './wait-until.js';

/**
 * A real PostgreSQL for the tests of one process (one test file): Debian's postgres, initdb'd
 * into a temporary directory and run as a child under the `postgres` user (it refuses to run as
 * root), listening on a unix socket and, with TLS only, on a loopback port. Each test asks for a
 * database of its own. Never mocked: the SQL the servers run is the SQL tested.
 */
export interface TestCluster {
  readonly dir: string;
  readonly socketDir: string;
  readonly port: number;
  /** The CA that signed the server's certificate (for 127.0.0.1). */
  readonly caFile: string;
  /** A password file for the `diskless` role, which may log in only over TLS. */
  readonly passwordFile: string;
  /** A fresh database owned by `diskless`; the config reaches it over the socket as the superuser. */
  database(name?: string): Promise<PostgresStateConfig>;
  /** The same database over TCP with TLS (verify-full against caFile), as `diskless` with its password file. */
  tlsConfig(database: string): PostgresStateConfig;
  /** Runs SQL as the superuser in `database`. */
  sql(database: string, text: string, values?: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** Stops the server (SIGINT: fast shutdown) and starts it again on the same data and port. */
  restart(): Promise<void>;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
}

/** The directory of Debian's PostgreSQL programs (not on PATH): the newest version installed. */
export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'postgres'))) return join(base, v, 'bin');
  throw new Error('PostgreSQL is not installed (scripts/install-deps.sh installs Debian\'s postgresql)');
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await run(['id', '-u', 'postgres']);
  const { stdout: gid } = await run(['id', '-g', 'postgres']);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

/**
 * Starts a cluster; `durable` keeps fsync on (benchmarks), else it is off, as nothing here must
 * survive a power cut. `stop()` ends the server and removes its directory.
 */
export async function startTestCluster(durable: boolean): Promise<TestCluster & { stop(): Promise<void> }> {
  const bin = postgresBinDir();
  const user = userInfo().uid === 0 ? await postgresUser() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'diskless-pg-'));
  const unregisterDir = onExitCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  const own = (p: string) => {
    if (user) chownSync(p, user.uid, user.gid);
  };
  own(dir);
  await run([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    ...(user ? { user } : {}),
    env: { PATH: process.env.PATH, LANG: 'C' },
    timeoutMs: 120_000,
  });
  // TLS: a CA and a certificate for 127.0.0.1 signed by it, as an admin would set up.
  const ca = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=diskless test database CA', '-keyout', caKey, '-out', ca]);
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\n');
  await run(['openssl', 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1',
    '-keyout', join(data, 'server.key'), '-out', csr]);
  await run(['openssl', 'x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-days', '2', '-extfile', ext,
    '-out', join(data, 'server.crt')]);
  own(join(data, 'server.key'));
  own(join(data, 'server.crt'));
  writeFileSync(join(data, 'pg_hba.conf'), [
    'local all all trust',
    'hostssl all diskless 127.0.0.1/32 scram-sha-256',
    'host all all 0.0.0.0/0 reject',
    '',
  ].join('\n'));
  const passwordFile = join(dir, 'db-password');
  writeFileSync(passwordFile, 'not-a-real-secret-0\n', { mode: 0o600 });
  const port = await freeTcpPort();
  const argv = [join(bin, 'postgres'), '-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1',
    '-c', 'ssl=on', '-c', 'max_connections=200', '-c', 'log_min_messages=warning',
    ...(durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'])];
  let daemon: Daemon | undefined;
  const superuser = (database: string) => new pg.Client({ host: dir, port, user: 'postgres', database });
  const startServer = async () => {
    daemon = await Daemon.start(argv, { ...(user ? { user } : {}), env: { PATH: process.env.PATH, LANG: 'C' }, logFile: join(dir, 'postgres.log') });
    const d = daemon;
    await waitUntilAsync('PostgreSQL to accept connections', async () => {
      if (d.status !== undefined) throw new Error(`postgres exited (${JSON.stringify(d.status)}):\n${d.output()}`);
      const c = superuser('postgres');
      c.on('error', () => {});
      try {
        await c.connect();
        await c.end();
        return true;
      } catch {
        return false;
      }
    }, 60_000);
  };
  const stopServer = async () => {
    // SIGINT is PostgreSQL's fast shutdown: sessions ended, shared memory removed.
    if (daemon !== undefined && daemon.status === undefined) await daemon.kill('SIGINT');
    daemon = undefined;
  };
  await startServer();
  const sql = async (database: string, text: string, values?: unknown[]) => {
    const c = superuser(database);
    await c.connect();
    try {
      return (await c.query(text, values)).rows as Array<Record<string, unknown>>;
    } finally {
      await c.end();
    }
  };
  await sql('postgres', `CREATE ROLE diskless LOGIN PASSWORD 'not-a-real-secret-0'`);
  const stop = async () => {
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
    unregisterDir();
  };
  const socketConfig = (database: string): PostgresStateConfig => ({
    backend: 'postgres', url: `postgres://postgres@/${database}?host=${dir}`, host: dir, port, database, user: 'postgres',
    passwordEnv: 'DISKLESS_TEST_NO_PASSWORD', tls: 'off', offlineGraceSec: 600,
  });
  let counter = 0;
  return {
    stop,
    dir,
    socketDir: dir,
    port,
    caFile: ca,
    passwordFile,
    database: async (name) => {
      const db = name ?? `t${process.pid}_${++counter}`;
      await sql('postgres', `CREATE DATABASE ${pg.escapeIdentifier(db)} OWNER diskless`);
      return socketConfig(db);
    },
    tlsConfig: (database) => ({
      backend: 'postgres', url: `postgres://diskless@127.0.0.1:${port}/${database}`, host: '127.0.0.1', port, database, user: 'diskless',
      passwordFile, passwordEnv: 'PGPASSWORD', tls: 'verify-full', caFile: ca, offlineGraceSec: 600,
    }),
    sql,
    restart: async () => {
      await stopServer();
      await startServer();
    },
    stopServer,
    startServer,
  };
}
