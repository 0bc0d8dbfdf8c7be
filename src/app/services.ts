import { BlockCache } from '../files/block-cache.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DisklessConfig, NodeConfig } from '../config/types.js';
import { nullLogger, type Logger } from '../log/logger.js';
import { BootTree, bootPeersFor, subnetBaseUrl, subnetSecretsUrl } from '../boot/boot-tree.js';
import { HttpServer } from '../http/server.js';
import { TftpServer } from '../protocols/tftp/server.js';
import type { DhcpEvent, DhcpServer } from '../protocols/dhcp/server.js';
import { bootDhcpServer } from '../dhcp/responder.js';
import { openStateBackend, type StateBackend } from './state-backend.js';
import { DEFAULT_DHCP_PORTS, type DhcpSettings } from '../dhcp/settings.js';
import { LOADER_REFUSED_MSG } from '../events/loader-watch.js';
import { dhcpDefaultLoader, dhcpNodeLookup, dhcpSettingsFromConfig } from '../dhcp/settings-from-config.js';
import { httpBaseUrl, secretsBaseUrl } from '../boot/urls.js';
import { bootServerAddresses } from '../config/subnets.js';
import { nfsClients, nfsPlan } from './nfs-exports.js';
import { NbdServer } from '../protocols/nbd/server.js';
import { GaneshaServer } from '../nfs/ganesha.js';
import { failureReportEndpoint, reportEndpoint } from '../api/report-endpoint.js';
import type { NodeReport, ServiceEvents } from '../events/service-events.js';
import { ImageExports } from './image-exports.js';
import { ImageStore } from '../images/store/image-store.js';
import { missingCopyReason, publishAndWait, PUBLISH_WAIT_SEC } from '../postgres/image-catalog.js';
import type { ImageProvider } from '../api/deps.js';
import { startIdentity } from './identity-services.js';
import { ConfigWatcher } from '../config/watch.js';
import { startDiscovery } from './discovery.js';
import type { NewBootEvent } from '../events/boot-event.js';
import { createObservability, type Observability } from './observability.js';
import { neighbourTableSnapshot } from '../identity/address-owner.js';
import { loadAdminToken } from './admin-token.js';
import { composeInventory, fileInventoryWrites, sharedInventoryWrites } from './inventory-writes.js';
import { alertEvent, bothEvents } from './observed-events.js';
import { PortWatch } from '../events/port-watch.js';
import { dashboardHandler } from '../dashboard/handler.js';
import { RaResponder } from '../native/ra-responder.js';
import { decideRouterSolicitations } from '../native/ra-policy.js';
import { nodeByAddress, nodeByMac, nodeByPort, nodeKey } from '../boot/boot-target.js';
import type { SwitchPort } from '../net/switch-port.js';
import { loadServerCertificate, type ServerCertificate } from '../tls/server-certificate.js';
import { hostCheck } from '../api/host-check.js';
import { nodeFilesOnlyOverTls } from '../api/node-files-endpoint.js';
import { adminBaseUrl, adminListenerIsPlainHttp } from '../api/endpoints.js';
import { hostname } from 'node:os';
import type { SecretsWindowStore } from '../identity/secrets-windows.js';
import { throttledLog } from '../log/throttled-log.js';
import { knownMac } from './known-macs.js';
import { EventStreamSlots } from '../api/event-stream.js';
import { DisklessError } from '../errors/diskless-error.js';
import { VersionPins, versionPinsPath, type VersionPinStore } from '../images/store/version-pins.js';
import { RolloutRunner, rolloutsPath } from '../rollout/runner.js';
import type { IpmiRunner } from '../power/ipmi.js';


export interface StartOptions {
  logger?: Logger;
  events?: ServiceEvents;
  /** Tests move DHCP off the privileged ports. */
  dhcpPorts?: DhcpSettings['ports'];
  /** Reload nodes and profiles when the config file changes (default true). */
  watchConfig?: boolean;
  /** Replaces api.read_from (tests shut loopback out to see a 403). */
  readCidrs?: readonly string[];
  /** How long a downloaded EFI loader may stay silent before its refusal is inferred (default 30 s; tests shorten it). */
  loaderSilenceMs?: number;
  /** How often a rollout checks its deadlines (default 1 s). */
  rolloutTickMs?: number;
  /** Runs ipmitool for rollouts' power cycles (tests log the calls). */
  ipmi?: IpmiRunner;
}

export interface RunningServices {
  /** Boot files, boot scripts and node reports: plain HTTP, as firmware needs. */
  readonly http: HttpServer;
  /** Node secrets over TLS, to initrds that carry this server's certificate. */
  readonly https: HttpServer;
  /** The REST API, /metrics and the dashboard: loopback plain HTTP, or HTTPS anywhere else. */
  readonly admin: HttpServer;
  readonly certificate: ServerCertificate;
  /** Which boots may be handed their secrets now: opened by DHCP, closed by redemption or reports. */
  readonly secretsWindows: SecretsWindowStore;
  readonly tftp: TftpServer;
  readonly dhcp: DhcpServer | undefined;
  readonly nbd: NbdServer | undefined;
  readonly nfs: GaneshaServer | undefined;
  /** Boot events, node states and metrics (STATE/events), as the API serves them. */
  readonly observability: Observability;
  /** Rollouts (STATE/rollouts.json) and the version pins they set (STATE/version-pins.json). */
  readonly rollouts: RolloutRunner;
  /** The version pins boot scripts follow: this server's file, or the shared database's. */
  readonly pins: VersionPinStore;
  /** Where the state lives (files, or the database shared with other servers). */
  readonly state: StateBackend;
  stop(): Promise<void>;
}

/**
 * Starts HTTP, TFTP, NBD and NFS (when a profile's root needs them) and DHCP (unless
 * dhcp.mode is off) for one config. If any service cannot
 * start, those already started are stopped again before the error is thrown: nothing is left
 * half-running.
 */
export async function startServices(config: DisklessConfig, opts: StartOptions = {}): Promise<RunningServices> {
  const logger = opts.logger ?? nullLogger;
  // Every service reads nodes and profiles through getConfig, so a reload reaches them all.
  // Built even when not watching: API writes reload it so their result is served at once.
  // The NFS exports' client list follows the inventory (nfs_clients: inventory).
  let onConfig: (c: DisklessConfig) => void = () => {};
  // With a state database holding the inventory, it replaces the file's inventory keys.
  let sharedInventory: () => string | undefined = () => undefined;
  const watcher = new ConfigWatcher({ initial: config, logger, onChange: (c) => onConfig(c), compose: (text) => {
    const shared = sharedInventory();
    return shared === undefined ? text : composeInventory(shared, text);
  } });
  const getConfig = () => watcher.current;
  await mkdir(config.server.stateDir, { recursive: true, mode: 0o750 });
  const adminToken = await loadAdminToken(config.api.adminTokenFile, logger);
  const certificate = await loadServerCertificate(config.server);
  const backend = await openStateBackend(config, logger, { tlsCert: certificate.certPem });
  const store = sharedImageStore(config, backend, logger);
  const inventory = backend.inventory;
  if (inventory) {
    sharedInventory = () => inventory.text;
    // Another server's edit (or an import) is announced: served from the next request on.
    inventory.onChange(() => void watcher.reload());
    watcher.reload();
    // What starts below (NFS exports, discovery) starts from the inventory served.
    config = watcher.current;
  }
  const leases = backend.leases;
  // TFTP, HTTP and NBD see only IPs: what we leased, what the config reserves, what the link saw.
  const neighbours = neighbourTableSnapshot();
  const observability = createObservability({
    stateDir: config.server.stateDir,
    lookupMacByIp: (ip) => leases?.leaseForIp(ip)?.mac ?? nodeByAddress(getConfig(), ip)?.mac ?? neighbours(ip),
    onError: (e) => logger.log('error', 'cannot record boot event', { service: 'events', error: String(e) }),
    // A machine that booted as a node known by its switch port is one its lease names.
    isListed: (mac) => nodeByMac(getConfig(), mac) !== undefined || leases?.leaseForMac(mac)?.node !== undefined,
    ...(opts.loaderSilenceMs === undefined ? {} : { loaderSilenceMs: opts.loaderSilenceMs }),
    onLoaderRefused: (e) => logger.log('warn', LOADER_REFUSED_MSG, { service: 'events', mac: e.mac, ip: e.ip, loader: e.fields.loader, detail: e.detail }),
    logger,
    ...(backend.events ? { share: { server: config.server.address, publish: (e: NewBootEvent) => backend.events!.publish(e) } } : {}),
    ...(backend.shared.failureReports ? { failureReports: backend.shared.failureReports } : {}),
  });
  // The other servers' events since this one last read them, then each as it is recorded.
  await backend.events?.attach((e) => void observability.ingest(e));
  // The switch port a trusted relay last reported a machine on (replayed from the events, so a
  // restart keeps it), and the inventory node a machine is: by its MAC, else the node on that
  // port, while its latest DHCP request was taken for that node (a request from anywhere else
  // since, e.g. a link of the server's own, ends that).
  const trustedPort = (mac: string): SwitchPort | undefined => {
    const agent = observability.states.get(mac)?.relayAgent;
    return agent?.trusted && agent.circuitId !== undefined ? { circuitId: agent.circuitId, ...(agent.remoteId !== undefined ? { remoteId: agent.remoteId } : {}) } : undefined;
  };
  const nodeOf = (cfg: DisklessConfig, mac: string): NodeConfig | undefined => {
    const byMac = nodeByMac(cfg, mac);
    if (byMac) return byMac;
    const port = trustedPort(mac);
    const byPort = port === undefined ? undefined : nodeByPort(cfg, port);
    return byPort !== undefined && observability.states.get(mac)?.node === nodeKey(byPort) ? byPort : undefined;
  };
  const events = bothEvents(observability.serviceEvents, opts.events);
  const identity = await startIdentity(getConfig, logger, (a) => void observability.record(alertEvent(a, Date.now())), nodeOf, backend.shared);
  const discovery = await startDiscovery(config, logger, backend.shared.discovered);
  // Each DHCP subnet may name its own server address: a machine is sent to its subnet's, by the
  // address it asks from, in scripts, configs and kernel command lines alike.
  const addresses = bootServerAddresses(config);
  // A file of this server's, or the database every server shares (state: postgres://…).
  const pins = backend.shared.pins ?? await VersionPins.read(versionPinsPath(config.server.stateDir));
  const tree = new BootTree(getConfig, subnetBaseUrl(getConfig), store, {
    ...identity.hooks, secretsUrl: subnetSecretsUrl(getConfig), onUnknownMac: discovery.onScript, nodeOf,
    versionPin: (mac, image) => pins.get(mac, image),
    ...(backend.livePeers ? { peersFor: bootPeersFor(getConfig, backend.livePeers) } : {}),
  });

  const onReport = (r: NodeReport) => {
    logger.log(r.status === 'failed' ? 'warn' : 'info', 'node report', { service: 'node', mac: r.mac, stage: r.stage, status: r.status, detail: r.detail, peer: r.peer, ...r.fields });
    // From switch_root on, the node's own users run: nothing more is handed out this boot.
    if (r.stage === 'switch_root' || r.stage === 'booted') identity.windows.close(r.mac, r.stage);
    events.node(r);
  };
  const dhcpPorts = opts.dhcpPorts ?? DEFAULT_DHCP_PORTS;
  const portWatch = new PortWatch();
  const onDhcp = (e: DhcpEvent) => {
    // The firmware got its boot file from us: a boot starts, and with it the secrets window.
    // Only from the client port (or a relay's server port), which takes root on the sender.
    if ((e.type === 'offer' || e.type === 'ack') && e.file !== undefined && (e.peerPort === dhcpPorts.client || e.peerPort === dhcpPorts.server)) {
      identity.windows.openFor(e.mac, e.ip);
    }
    events.dhcp(e);
    const moved = portWatch.check(e, nodeByMac(getConfig(), e.mac));
    if (moved) {
      logger.log('warn', 'node seen on another switch port', { service: 'dhcp', alert: true, mac: e.mac, ...moved.fields, detail: moved.detail });
      void observability.record(moved);
    }
  };
  const logRefusedReport = throttledLog(logger.child({ service: 'node' }), 'warn', 'node report refused');
  const isKnownMac = knownMac({
    inventory: (mac) => nodeOf(getConfig(), mac) !== undefined,
    leases: leases && ((mac) => leases.leaseForMac(mac) !== undefined),
    discovered: (mac) => discovery.has(mac),
    states: (mac) => observability.states.get(mac) !== undefined,
  });
  const report = reportEndpoint({
    onReport,
    isKnownMac,
    checkProof: (r) => identity.checkReportProof(r),
    onRefused: (r) => {
      observability.metrics.reportRefused(r.reason);
      logRefusedReport({ reason: r.reason, peer: r.peer, mac: r.mac });
    },
  });
  const failureReport = failureReportEndpoint({
    isKnownMac,
    onFailureReport: (r) => {
      const kept = observability.failureReports.put(r);
      logger.log('warn', 'node failure report', { service: 'node', mac: r.mac, stage: kept.stage, cause: kept.cause, bytes: Buffer.byteLength(kept.text), truncated: kept.truncated, peer: r.peer });
    },
    onRefused: (r) => {
      observability.metrics.reportRefused(r.reason);
      logRefusedReport({ reason: r.reason, peer: r.peer, mac: r.mac, endpoint: 'failure-report' });
    },
  });
  const rollouts = await RolloutRunner.open({
    path: rolloutsPath(config.server.stateDir),
    config: getConfig,
    images: store,
    pins,
    states: observability.states,
    events: observability.store,
    record: (e) => void observability.record(e),
    logger,
    ...(opts.rolloutTickMs !== undefined ? { tickMs: opts.rolloutTickMs } : {}),
    ...(opts.ipmi ? { ipmi: opts.ipmi } : {}),
  });
  const api = observability.handlers({
    inventory: getConfig,
    rollouts,
    images: imagesForApi(store, backend),
    writes: (inventory ? sharedInventoryWrites.bind(null, inventory) : fileInventoryWrites)(config.file, (mac) => discovery.has(mac) || observability.states.get(mac) !== undefined, () => void watcher.reload()),
    discovered: () => discovery.list(),
    running: () => identity.running.all(),
    servers: () => backend.servers(),
    adminToken,
    readCidrs: opts.readCidrs ?? config.api.readFrom,
    eventStreams: new EventStreamSlots(config.api.maxEventStreams),
    logger,
  });
  const caps = { maxConnections: config.server.maxHttpConnections, maxConnectionsPerPeer: config.server.maxHttpConnectionsPerPeer };
  // One cache of served files' blocks for HTTP bodies and NBD reads; its use shows in /metrics.
  const fileCache = new BlockCache({ maxBytes: config.server.fileCacheBytes });
  observability.metrics.watchFileCache(() => fileCache.stats());
  // The three listeners: which /api/v1 endpoint each one answers is declared in
  // api/endpoints.ts (boot: report; secrets: node files; admin: the rest), and
  // observability-wiring.test.ts holds these handler lists to that declaration. The boot and
  // secrets listeners, TFTP and NBD listen on every boot server address (server.address and
  // those dhcp.subnets name), one of each per address; caps hold per listener.
  const bootHttp = (address: string) => new HttpServer({
    address,
    port: config.server.httpPort,
    resolve: (p, peer) => tree.resolve(p, peer, 'http'),
    cache: fileCache,
    handlers: [report, failureReport, nodeFilesOnlyOverTls(secretsBaseUrl({ address, httpsPort: config.server.httpsPort }))],
    logger,
    onEvent: events.http,
    ...caps,
  });
  const tls = { cert: certificate.certPem, key: certificate.keyPem };
  const secretsHttps = (address: string) => new HttpServer({ address, port: config.server.httpsPort, tls, handlers: [identity.handler], logger: logger.child({ listener: 'https' }), ...caps });
  const [http, ...moreHttp] = addresses.map(bootHttp) as [HttpServer, ...HttpServer[]];
  const [https, ...moreHttps] = addresses.map(secretsHttps) as [HttpServer, ...HttpServer[]];
  const adminPlainHttp = adminListenerIsPlainHttp(config.api.address);
  const admin = new HttpServer({
    address: config.api.address,
    port: config.api.port,
    ...(adminPlainHttp ? {} : { tls }),
    handlers: [hostCheck(['localhost', '127.0.0.1', '::1', hostname(), config.api.address, ...config.api.hostnames]), ...api, dashboardHandler()],
    logger: logger.child({ listener: 'admin' }),
    ...caps,
  });
  const tftpAt = (address: string) => new TftpServer({
    address,
    port: config.server.tftpPort,
    // The boot tree is the whole namespace, server.tftp_root included (confined there); each
    // file is opened once per transfer and every block comes from that descriptor.
    files: (p, peer) => tree.open(p, peer.address),
    maxTransfers: config.server.maxTftpTransfers,
    maxTransfersPerPeer: config.server.maxTftpTransfersPerPeer,
    logger,
    onEvent: events.tftp,
  });
  const [tftp, ...moreTftp] = addresses.map(tftpAt) as [TftpServer, ...TftpServer[]];
  // leases exists exactly when dhcp.mode is not off.
  const dhcp =
    leases === undefined
      ? undefined
      : bootDhcpServer({
          settings: dhcpSettingsFromConfig(config, dhcpPorts),
          lookupNode: dhcpNodeLookup(getConfig, trustedPort),
          defaultLoader: dhcpDefaultLoader(getConfig),
          // The reserving node's key: its MAC, or "host:NAME" for a node known by its port.
          reservedBy: (ip) => {
            const n = nodeByAddress(getConfig(), ip);
            return n === undefined ? undefined : nodeKey(n);
          },
          onUnknownClient: discovery.onDhcp,
          leaseStore: leases,
          poolCursor: (subnet) => backend.poolCursor(subnet.pool),
          ...(backend.peerIsGone ? { peerIsGone: backend.peerIsGone } : {}),
          logger,
          onEvent: onDhcp,
        });

  const profiles = [...config.profiles.values()];
  const exports = new ImageExports(getConfig, store, fileCache);
  const nbdAt = (address: string) => new NbdServer({
    address,
    port: config.server.nbdPort,
    maxConnections: config.server.maxNbdConnections,
    maxConnectionsPerPeer: config.server.maxNbdConnectionsPerPeer,
    exports,
    logger,
    onEvent: events.nbd,
  });
  const [nbd, ...moreNbd] = profiles.some((p) => p.root?.mode === 'nbd') ? addresses.map(nbdAt) : [];
  const plan = nfsPlan(config, store);
  const nfs = plan
    ? new GaneshaServer({
        // nfs-ganesha binds one address: every address of the host when nodes use several.
        bindAddress: addresses.length === 1 ? config.server.address : '0.0.0.0',
        stateDir: config.server.stateDir,
        exports: plan.exports,
        versions: plan.versions,
        clients: nfsClients(config),
        logger,
      })
    : undefined;
  if (nfs) onConfig = (c) => void nfs.updateClients(nfsClients(c)).catch((e: unknown) => logger.log('error', 'cannot update the NFS clients', { service: 'nfs', error: String(e) }));

  const raSetting = config.server.answerRouterSolicitations;
  const raDecision = await decideRouterSolicitations(raSetting, config.server);
  logger.log('info', raDecision.answer ? 'answering IPv6 router solicitations' : 'not answering IPv6 router solicitations', {
    setting: String(raSetting), why: raDecision.why, ...(raDecision.answer ? { interface: raDecision.interface } : {}),
  });
  const raResponder = raDecision.answer
    ? new RaResponder({ interface: raDecision.interface, logger, cacheDir: join(config.server.stateDir, 'helpers') })
    : undefined;
  // `auto` is a convenience: when the responder cannot run (no gcc to build it, no CAP_NET_RAW)
  // boots only take longer, so the server starts without it and says why. `true` fails the start.
  const ra = raResponder && raSetting === 'auto'
    ? {
        start: () => raResponder.start().catch((e: unknown) => {
          logger.log('warn', 'not answering IPv6 router solicitations: the responder did not start (iPXE will wait ~13 s per boot stage; set server.answer_router_solicitations: false to silence this)', { error: e instanceof Error ? e.message : String(e) });
        }),
        stop: () => raResponder.stop(),
      }
    : raResponder;

  const started: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch((e: unknown) => logger.log('error', 'stop failed', { error: String(e) }));
  };
  try {
    // ganesha exports each image's trees directory, which must exist before it starts.
    for (const image of plan?.images ?? []) await mkdir(store.treesDir(image), { recursive: true });
    const services: Array<[string, { start(): Promise<void>; stop(): Promise<void> } | undefined]> = [
      ['http', http], ...moreHttp.map((h): [string, HttpServer] => ['http', h]),
      ['https', https], ...moreHttps.map((h): [string, HttpServer] => ['https', h]),
      ['admin API', admin],
      ['tftp', tftp], ...moreTftp.map((t): [string, TftpServer] => ['tftp', t]),
      ['nbd', nbd], ...moreNbd.map((n): [string, NbdServer] => ['nbd', n]),
      ['nfs', nfs], ['dhcp', dhcp], ['ra', ra],
    ];
    for (const [name, s] of services) {
      if (!s) continue;
      await s.start().catch((e: unknown) => {
        throw new DisklessError('DL_SERVICE_START', `Cannot start ${name}: ${e instanceof Error ? e.message : String(e)}${startHint(e, config, addresses)}`, { cause: e });
      });
      started.push(s);
    }
  } catch (e) {
    await stopAll();
    await rollouts.close();
    await discovery.close();
    await observability.close();
    await backend.close();
    throw e;
  }
  if (plan) void prepareNfsTrees(plan.images, store, logger);
  if (opts.watchConfig !== false) watcher.start();
  rollouts.run();
  const stop = async () => {
    watcher.stop();
    await stopAll();
    await rollouts.close();
    await pins.flush();
    await discovery.close();
    await exports.close();
    await identity.windows.flush();
    await observability.close();
    await backend.close();
  };
  logger.log('info', 'listening', {
    boot: addresses.map((address) => httpBaseUrl({ ...config.server, address })).join(' '),
    secrets: addresses.map((address) => secretsBaseUrl({ ...config.server, address })).join(' '),
    admin: adminBaseUrl(config.api.address, admin.port),
    tlsFingerprint: certificate.fingerprint,
  });
  return { http, https, admin, certificate, secretsWindows: identity.windows, tftp, dhcp, nbd, nfs, observability, rollouts, pins, state: backend, stop };
}

/**
 * The image store: STATE/images, and with a state database the pointers and version lists
 * every server shares. Then this server lists what it holds at start, and fetches each
 * published version it lacks from a peer, at start and as soon as it hears of a publish, so
 * it is there before a boot asks (a boot script that asks first waits for the same fetch).
 */
function sharedImageStore(config: DisklessConfig, backend: StateBackend, logger: Logger): ImageStore {
  const root = join(config.server.stateDir, 'images');
  const shared = backend.images;
  if (!shared) return new ImageStore({ root });
  const log = logger.child({ service: 'images' });
  const store = new ImageStore({
    root,
    catalog: shared.catalog,
    peers: () => shared.peers(),
    onFetch: (e) => (e.ok ? log.log('info', 'image version fetched from a peer', { image: e.name, version: e.version, from: e.from, bytes: e.bytes }) : log.log('error', 'image version missing here and not fetched', { image: e.name, version: e.version, error: e.error })),
  });
  const fetch = (name: string, version: string) => void store.ensureLocal(name, version).catch(() => {});
  // A version removed through any server (image rm, image gc) goes from here too: announced on
  // diskless_images, or recorded while this server was away (dropped once it announced its copies).
  const drop = (name: string | undefined) => void store.dropRemoved(name).then(
    (dropped) => { for (const d of dropped) log.log('info', 'image version removed through another server: copy dropped', { image: d.name, version: d.version }); },
    (e: unknown) => log.log('error', 'cannot drop removed image versions', { image: name, error: String(e) }));
  void store.announceCopies().then(() => {
    for (const [name, p] of shared.catalog.pointers()) fetch(name, p.version);
    shared.catalog.onPublished(fetch);
    shared.catalog.onChanged(drop);
    drop(undefined);
  }, (e: unknown) => log.log('error', 'cannot list this server\'s image versions in the database', { error: String(e) }));
  return store;
}

/** The store as the API sees it: with a state database, a publish waits for the live servers' copies. */
function imagesForApi(store: ImageStore, backend: StateBackend): ImageProvider {
  const shared = backend.images;
  if (!shared) return store;
  return {
    list: () => store.list(),
    publish: (name, version) => store.publish(name, version),
    rollback: (name) => store.rollback(name),
    publishAndWait: async (name, version, waitSec = PUBLISH_WAIT_SEC) => {
      const r = await publishAndWait(shared.db, name, () => store.publish(name, version), waitSec * 1000);
      return { published: r.published, copies: r.copies.map((c) => (c.state === 'present' ? { server: c.server, state: c.state } : { server: c.server, state: c.state, reason: missingCopyReason(c, waitSec) })) };
    },
  };
}

/**
 * Unpacks the published version of each stored image served over NFS in the background, so
 * the first boots need not wait for it (a boot that comes first waits for the same unpacking).
 * An image not published yet is skipped: its tree is made when a boot script first pins one.
 */
async function prepareNfsTrees(images: readonly string[], store: ImageStore, logger: Logger): Promise<void> {
  for (const image of images) {
    const published = await store.resolve(image).catch(() => undefined);
    if (!published) continue;
    const t0 = Date.now();
    try {
      await store.ensureTree(image, published.version);
      logger.log('info', 'NFS tree ready', { service: 'nfs', image, version: published.version, ms: Date.now() - t0 });
    } catch (e) {
      logger.log('error', 'cannot unpack the NFS tree', { service: 'nfs', image, version: published.version, error: String(e) });
    }
  }
}

/** What an admin should do about the usual reasons a socket cannot be opened. */
function startHint(e: unknown, config: DisklessConfig, addresses: readonly string[]): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'EADDRNOTAVAIL':
      return addresses.length === 1
        ? ` (server.address ${config.server.address} in ${config.file} is not an address of this host)`
        : ` (one of the boot server addresses in ${config.file}, ${addresses.join(', ')} (server.address and dhcp.subnets' server_address), is not an address of this host)`;
    case 'EADDRINUSE':
      return ' (another server, e.g. dnsmasq or tftpd, already uses this port: stop it or change the port in the config)';
    case 'EACCES':
      return ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)';
    default:
      return '';
  }
}
