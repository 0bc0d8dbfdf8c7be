import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { DisklessConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { LeaseStore } from '../dhcp/lease-store.js';
import type { LeaseTable } from '../dhcp/lease-table.js';
import { PoolCursor } from '../dhcp/address-choice.js';
import { parseIpv4 } from '../net/ipv4.js';
import { httpBaseUrl } from '../boot/urls.js';
import { Database, type Queryable } from '../postgres/database.js';
import { PgFailureReports } from '../postgres/failure-reports.js';
import type { FailureReportKeeper } from '../events/failure-reports.js';
import { PgLeaseTable } from '../postgres/lease-table.js';
import { ServerRegistry, serverCertificates, type ServerRecord } from '../postgres/servers.js';
import { loadServerCertificate, pemCertificates } from '../tls/server-certificate.js';
import type { ServerList } from '../api/wire.js';
import { hostname } from 'node:os';
import { PgSecretsWindows } from '../postgres/secrets-windows.js';
import type { SecretsWindowStore } from '../identity/secrets-windows.js';
import type { TokenStore } from '../secrets/tokens.js';
import type { SecretSource } from '../secrets/secret-store.js';
import { PgSecretStore } from '../postgres/secret-store.js';
import { PgBootTokens } from '../postgres/boot-tokens.js';
import { SecretStore } from '../secrets/secret-store.js';
import { secretsKeyFile } from '../config/state-config.js';
import { PgBootEvents } from '../postgres/boot-events.js';
import { PgRunningVersions } from '../postgres/running-versions.js';
import { PgDiscovered, readDiscoveredRows } from '../postgres/discovered.js';
import { discoveredPath, readDiscovered, type DiscoveredMachine, type DiscoveredSource } from '../inventory/discovered.js';
import { RunningVersions, runningVersionsPath, type RunningVersionStore } from '../images/store/running-versions.js';
import { VersionPins, versionPinsPath, type VersionPinStore } from '../images/store/version-pins.js';
import { PgVersionPins } from '../postgres/version-pins.js';
import { bootServerAddresses } from '../config/subnets.js';
import { PgImageCatalog } from '../postgres/image-catalog.js';
import { PgInventory } from '../postgres/inventory.js';
import { ImageStore, type ObjectSource } from '../images/store/image-store.js';
import { fetchObject } from './peer-objects.js';

/**
 * Where this server keeps its state, chosen by the config's `state:`: JSON files under
 * state_dir (one server), or the PostgreSQL database every boot server of the site shares.
 */
export interface StateBackend {
  readonly kind: 'files' | 'postgres';
  /** The DHCP lease table; undefined when dhcp.mode is off. */
  readonly leases: LeaseTable | undefined;
  /** Whether a server identifier names a peer of ours that is gone (postgres only). */
  readonly peerIsGone?: (serverId: string) => boolean;
  /**
   * A new cursor for scans of `pool` (one per DHCP subnet): where this server's scans of it
   * start, apart from its peers', so they rarely race for one address.
   */
  poolCursor(pool: { start: string; end: string } | undefined): PoolCursor;
  /** Secrets windows, boot tokens and running versions shared with the other servers; none: this server's own. */
  readonly shared: { windows?: SecretsWindowStore; tokens?: TokenStore; secrets?: SecretSource; running?: RunningVersionStore; discovered?: DiscoveredSource; pins?: VersionPinStore; failureReports?: FailureReportKeeper };
  /** Boot events shared with the other servers (postgres only). */
  readonly events?: PgBootEvents;
  /**
   * Image pointers and version lists shared with the other servers, and the live peers a
   * missing version is fetched from (postgres only).
   */
  readonly images?: { catalog: PgImageCatalog; peers(): ObjectSource[]; db: Queryable };
  /** The inventory shared with the other servers (postgres only; its text undefined until one is imported or edited). */
  readonly inventory?: PgInventory;
  /** Every server sharing the state, with its health and the nodes it bound; just this one for files. */
  servers(): ServerList;
  close(): Promise<void>;
}

export async function openStateBackend(config: DisklessConfig, logger: Logger, o: { tlsCert?: string } = {}): Promise<StateBackend> {
  const state = config.state;
  if (state.backend === 'files') {
    const leases = config.dhcp.mode === 'off' ? undefined : new LeaseStore({ path: join(config.server.stateDir, 'dhcp-leases.json') });
    const self = { address: config.server.address, name: hostname(), bootUrl: httpBaseUrl(config.server), health: 'live' as const, self: true, startedAt: new Date().toISOString(), heartbeatAt: null };
    const servers = (): ServerList => {
      const now = Date.now();
      return { state: 'files', servers: [{ ...self, nodes: (leases?.list() ?? []).filter((l) => l.state === 'bound' && l.expiresAt > now).map((l) => l.mac) }] };
    };
    return { kind: 'files', leases, poolCursor: () => new PoolCursor(), shared: {}, servers, close: async () => {} };
  }
  const address = config.server.address;
  const db = await Database.open(state, { applicationName: `diskless ${address}`, logger });
  try {
    const leases = config.dhcp.mode === 'off' ? undefined : await PgLeaseTable.open(db, { server: address, logger, offlineGraceMs: state.offlineGraceSec * 1000 });
    const secrets = await PgSecretStore.open(db, { keyFile: secretsKeyFile(config), logger });
    const windows = await PgSecretsWindows.open(db, { windowMs: config.server.secretsWindowSec * 1000, logger });
    const running = await PgRunningVersions.open(db, { logger });
    const events = await PgBootEvents.open(db, { server: address, logger });
    const discovered = await PgDiscovered.open(db, { logger });
    const pins = await PgVersionPins.open(db, { logger });
    const catalog = await PgImageCatalog.open(db, { server: address, logger });
    const inventory = await PgInventory.open(db, { logger });
    const failureReports = await PgFailureReports.open(db, { server: address, logger });
    const registry = await ServerRegistry.start(db, { address, addresses: bootServerAddresses(config), bootUrl: httpBaseUrl(config.server), logger, ...(o.tlsCert === undefined ? {} : { tlsCert: o.tlsCert }) });
    logger.log('info', 'state in the database', { service: 'database', url: state.url, servers: registry.list().map((s) => `${s.address} ${s.health}`).join(', ') });
    return {
      kind: 'postgres',
      leases,
      peerIsGone: (id) => registry.isGone(id),
      shared: { windows, tokens: new PgBootTokens(db, { ttlMs: config.server.tokenTtlSec * 1000 }), secrets, running, discovered, pins, failureReports },
      events,
      images: { catalog, peers: () => peerSources(registry.list(), address), db },
      inventory,
      poolCursor: (pool) => spreadCursor(pool, address),
      servers: () => serverList(registry.list(), address, leases?.boundBy() ?? new Map()),
      close: async () => {
        await leases?.flush();
        leases?.close();
        await windows.flush();
        windows.detach();
        running.detach();
        pins.detach();
        catalog.detach();
        inventory.detach();
        await failureReports.flush();
        failureReports.detach();
        await events.close();
        await discovered.close();
        await registry.stop();
        await db.close();
      },
    };
  } catch (e) {
    await db.close();
    throw e;
  }
}

/**
 * A cursor starting at a point of `pool` that depends on the server's address: servers sharing
 * one pool then scan from different places and seldom choose the same address at the same
 * moment (the database still decides when they do).
 */
export function spreadCursor(pool: { start: string; end: string } | undefined, address: string): PoolCursor {
  const cursor = new PoolCursor();
  const start = pool === undefined ? undefined : parseIpv4(pool.start);
  const end = pool === undefined ? undefined : parseIpv4(pool.end);
  if (start === undefined || end === undefined) return cursor;
  const size = end - start + 1;
  const h = createHash('sha256').update(address).digest().readUInt32BE(0);
  cursor.next = start + (h % size);
  return cursor;
}

/** The live boot servers other than `self`, as sources of store objects (their boot listeners). */
function peerSources(records: ServerRecord[], self: string): ObjectSource[] {
  return records.filter((r) => r.health === 'live' && r.address !== self).map((r) => ({ name: r.bootUrl, fetch: (sha256: string) => fetchObject(r.bootUrl, sha256) }));
}

/**
 * The image store for the command line: STATE/images, its pointers and version lists in the
 * state database when `state:` names one (this server's copies recorded under server.address).
 */
export async function openImageStore(config: DisklessConfig, logger?: Logger): Promise<{ store: ImageStore; db?: Database; close(): Promise<void> }> {
  const root = join(config.server.stateDir, 'images');
  if (config.state.backend === 'files') return { store: new ImageStore({ root }), close: async () => {} };
  const db = await Database.open(config.state, { applicationName: 'diskless image', ...(logger ? { logger } : {}) });
  try {
    const catalog = await PgImageCatalog.open(db, { server: config.server.address, ...(logger ? { logger } : {}) });
    return { store: new ImageStore({ root, catalog }), db, close: async () => { catalog.detach(); await db.close(); } };
  } catch (e) {
    await db.close();
    throw e;
  }
}

/**
 * The per-node secrets for the command line: STATE/secrets, or the state database's (sealed
 * with the secrets key) when `state:` names one. `close` ends the database connection.
 */
export async function openSecrets(config: DisklessConfig, logger?: Logger): Promise<{ source: SecretSource; close(): Promise<void> }> {
  const state = config.state;
  if (state.backend === 'files') return { source: await SecretStore.open({ stateDir: config.server.stateDir, ...(logger ? { logger } : {}) }), close: async () => {} };
  const db = await Database.open(state, { applicationName: 'diskless secrets', ...(logger ? { logger } : {}) });
  try {
    return { source: await PgSecretStore.open(db, { keyFile: secretsKeyFile(config), ...(logger ? { logger } : {}) }), close: () => db.close() };
  } catch (e) {
    await db.close();
    throw e;
  }
}

/**
 * Which version each node runs, for the command line: STATE/running-versions.json, or the state
 * database's when `state:` names one (every server records there).
 */
export async function openRunningVersions(config: DisklessConfig, logger?: Logger): Promise<{ running: RunningVersionStore; close(): Promise<void> }> {
  if (config.state.backend === 'files') return { running: await RunningVersions.read(runningVersionsPath(config.server.stateDir)), close: async () => {} };
  const db = await Database.open(config.state, { applicationName: 'diskless image', ...(logger ? { logger } : {}) });
  try {
    const running = await PgRunningVersions.open(db);
    return { running, close: async () => { running.detach(); await db.close(); } };
  } catch (e) {
    await db.close();
    throw e;
  }
}

/**
 * The version pins, for the command line: STATE/version-pins.json, or the state database's when
 * `state:` names one (every server's rollouts pin there).
 */
export async function openVersionPins(config: DisklessConfig, logger?: Logger): Promise<{ pins: VersionPinStore; close(): Promise<void> }> {
  if (config.state.backend === 'files') return { pins: await VersionPins.read(versionPinsPath(config.server.stateDir)), close: async () => {} };
  const db = await Database.open(config.state, { applicationName: 'diskless image', ...(logger ? { logger } : {}) });
  try {
    const pins = await PgVersionPins.open(db);
    return { pins, close: async () => { pins.detach(); await db.close(); } };
  } catch (e) {
    await db.close();
    throw e;
  }
}

/** The machines not in the inventory that asked for a boot: STATE/discovered.json, or the state database's. */
export async function readDiscoveredMachines(config: DisklessConfig): Promise<DiscoveredMachine[]> {
  if (config.state.backend === 'files') return readDiscovered(discoveredPath(config.server.stateDir));
  const db = await Database.open(config.state, { applicationName: 'diskless node' });
  try {
    return [...(await readDiscoveredRows(db)).values()];
  } finally {
    await db.close();
  }
}

function serverList(records: ServerRecord[], self: string, bound: Map<string, string[]>): ServerList {
  return {
    state: 'postgres',
    servers: records.map((r) => ({
      address: r.address, name: r.name, bootUrl: r.bootUrl, health: r.health, self: r.address === self,
      startedAt: r.startedAt, heartbeatAt: r.heartbeatAt, nodes: [...(bound.get(r.address) ?? [])].sort(),
    })),
  };
}

/**
 * The certificates a node's initrd carries (PEM, concatenated): this server's (made now if it
 * has none yet), and with `state: postgres://…` every boot server's that started on the
 * database, so the node hands its secrets token to any of them, and to nothing else.
 */
export async function initrdServerCerts(config: DisklessConfig, logger?: Logger): Promise<string> {
  const own = (await loadServerCertificate(config.server)).certPem;
  if (config.state.backend === 'files') return own;
  const db = await Database.open(config.state, { applicationName: 'diskless initrd', ...(logger ? { logger } : {}) });
  try {
    const all = [own, ...(await serverCertificates(db))].flatMap((pem) => pemCertificates(pem));
    return [...new Set(all.map((c) => c.trim() + '\n'))].join('');
  } finally {
    await db.close();
  }
}
