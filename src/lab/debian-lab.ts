import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger, type Logger } from '../log/logger.js';
import { LabNetwork, removeStaleLabNamespaces } from './netns.js';
import { QemuMachine, type BootMethod, type Firmware, type NicModel } from './qemu.js';
import { loadConfig } from '../config/load.js';
import { diskArgs, networkArgs, rootArgs } from '../boot/root-args.js';
import { bootIfArg, httpBaseUrl } from '../boot/urls.js';
import { assertLabHost } from './lab-host.js';
import type { Daemon } from '../process/daemon.js';
import { cachedNetworkInitrd } from './lab-initrd.js';
import { loadServerCertificate, type ServerCertificate } from '../tls/server-certificate.js';
import { ensureLabImage, type LabImage, type LabRecipe } from './lab-image.js';
import { ImageStore } from '../images/store/image-store.js';
import { readJsonLog, startLabRpcbind, startLabServer } from './lab-server.js';
import { addVlanPort } from './vlan-port.js';
import { SecretStore } from '../secrets/secret-store.js';
import { defaultCacheDir, LAB_NODE_ADDRESS, LAB_POOL, LAB_SERVER } from './tiny-lab.js';

/**
 * The lab server's TLS identity, kept in the cache beside the initrd that carries its
 * certificate: every lab run is the same server to its nodes, so the cached initrd stays valid.
 */
export function labCertificate(cacheDir: string): Promise<ServerCertificate> {
  return loadServerCertificate({ address: LAB_SERVER, tlsCertFile: join(cacheDir, 'tls', 'server.crt'), tlsKeyFile: join(cacheDir, 'tls', 'server.key') });
}

/** Our network initrd for the lab image, from the image's own modules; cached by its inputs. */
export async function ensureLabInitrd(image: LabImage, cacheDir: string, progress: (m: string) => void = () => {}): Promise<string> {
  const cert = await labCertificate(cacheDir);
  return cachedNetworkInitrd('lab', [image.dir], { root: image.rootfs, serverCerts: cert.certPem }, cacheDir, progress);
}

export interface DebianLabOptions {
  mode: 'live' | 'nbd' | 'nfs';
  copy?: boolean;
  nic?: NicModel;
  cacheDir?: string;
  logger?: Logger;
  progress?: (m: string) => void;
  memoryMiB?: number;
  retry?: number;
  /** The Debian the nodes boot (default: the lab's bookworm, LAB_RECIPE). */
  recipe?: LabRecipe;
  /** Boot the image from the server's image store (profile image: lab) instead of file paths. */
  fromStore?: boolean;
  /**
   * With fromStore: stores and publishes image "lab" itself (an import, another tree) instead of
   * the lab image; called once the server runs, before any node starts.
   */
  storeImage?: (lab: DebianLab) => Promise<void>;
  /** How many nodes (lab1, lab2, …) boot at once; default 1. */
  nodes?: number;
  /** Set for every node through the secret store; the console login then asks for it. */
  rootPassword?: LabRootPassword;
  /** root's authorized_keys for every node. */
  authorizedKeys?: string;
  tokenTtlSec?: number;
  /** YAML appended to the profile (indented four spaces), e.g. its files. */
  profileExtra?: string;
  /** Appended to every node's own command line (e.g. a wrong rd.diskless.sha256). */
  nodeCmdline?: string;
  /** A second namespace on the bridge at 10.77.0.2 (LabNetwork.foreignName), for other clients. */
  foreignHost?: boolean;
  /** server.answer_router_solicitations; left out, the shipped default (auto: answered on the lab's IPv4-only bridge). */
  answerRouterSolicitations?: boolean;
  /** Runs rpcbind in the lab namespace (NFSv3 roots need it) and the server beside it. */
  rpcbind?: boolean;
  /** YAML appended to the server section (indented two spaces), e.g. nfs_clients. */
  serverExtra?: string;
  /** More profiles (YAML indented two spaces, under profiles:), e.g. one inheriting debian. */
  extraProfiles?: string;
  /** More inventory entries (YAML indented two spaces, under nodes:), machines the caller starts. */
  extraNodes?: string;
  /** QEMU arguments for every node (disks, say); powerCycle() can change them. */
  qemuArgs?: readonly string[];
  /** YAML lines added to each node's entry (indented four spaces), e.g. its network:. */
  nodeExtra?: (node: LabNode) => string;
  /** A second virtio NIC on its own tap for every node (LabNode.mac2, LabNode.tap2). */
  secondNic?: boolean;
  /**
   * Every node's NIC is on a bridge port that carries this VLAN tagged only (vlan-port.ts), the
   * server untagged, so a node reaches the server only by tagging (its kernel is handed over:
   * the firmware boots untagged).
   */
  vlan?: number;
  /** dhcp.lease_time in seconds (default: the server's). */
  leaseTimeSec?: number;
  /** dhcp.pool (default 10.77.0.100-10.77.0.150). */
  pool?: string;
  /** Nodes, by index, listed without an address: they get theirs from the pool (learn it with leasedAddress). */
  poolNodes?: readonly number[];
  /** dhcp.unknown_clients (default deny). */
  unknownClients?: 'allow' | 'deny' | 'register';
  /**
   * The nodes boot as machines the inventory does not list: default_profile (the lab's one
   * profile) under unknown_clients allow, a pool address, no identity from the server; they
   * keep the image's own host name.
   */
  unlisted?: boolean;
  /**
   * The nodes' firmware (default BIOS, whose NIC ROM is iPXE). UEFI machines net-boot with the
   * firmware's own PXE; `uefi-secure-boot` enforces Secure Boot with Microsoft's keys enrolled.
   */
  firmware?: Firmware;
  /** Runs after the server is up and before any machine starts (e.g. a packet capture on br0). */
  beforeBoot?: (net: LabNetwork) => Promise<void>;
  /**
   * The first node sits on a rack (RACK_NETWORK) behind a router running ISC dhcrelay (circuit
   * id RACK_PORT, -D: replies whose option 82 names none of its circuits are dropped); the
   * inventory lists it by that switch port only, with the reservation RACK_NODE_ADDRESS. The
   * rack's subnet names its own boot-server address, RACK_SERVER_ADDRESS (a second address of
   * the lab host, reached through the router), and its own domain, RACK_DOMAIN. The other
   * nodes stay on the server's link, in its subnet.
   */
  routed?: boolean;
  /**
   * A second boot server: another `diskless serve` (PEER_SERVER, on the foreign host's namespace
   * and its veth to the bridge, so it is a host of its own with the same ports), both keeping
   * their state in the PostgreSQL database `stateUrl` names (one secrets key file for both).
   * Both answer DHCP; which one a node boots from is whichever answer its firmware took.
   */
  peerServer?: { stateUrl: string };
  /**
   * Nodes, by index, whose profile is `debian-live`: the lab image as a live root (downloaded
   * into RAM), beside the lab's own mode for the others. File paths only (not fromStore).
   */
  liveNodes?: readonly number[];
  /** Nodes, by index, that start() leaves off: the caller starts them with startNode(). */
  deferredNodes?: readonly number[];
}

/** The lab's second boot server (DebianLabOptions.peerServer), on the foreign host's address. */
export const PEER_SERVER = '10.77.0.2';

/** The routed lab's rack: its router (and relay) at .1, the rack node's reservation at .11. */
export const RACK_NETWORK = '10.78.0';
export const RACK_ROUTER = `${RACK_NETWORK}.1`;
export const RACK_NODE_ADDRESS = `${RACK_NETWORK}.11`;
/** The router's leg on the rack, which dhcrelay -a sends as the circuit id. */
export const RACK_PORT = 'rack1';
/** The routed lab's boot-server address for the rack (dhcp.subnets[].server_address). */
export const RACK_SERVER_ADDRESS = '10.77.0.3';
/** The routed lab's domain for the rack's subnet. */
export const RACK_DOMAIN = 'rack1.lab.test';

/** The host name the lab image itself carries (/etc/hostname): what an unlisted machine keeps. */
export const LAB_IMAGE_HOSTNAME = 'diskless';

/** Console login for a lab node: the lab image lets root in without a password unless one is set. */
export interface LabRootPassword {
  /** What is typed at the Password: prompt. */
  password: string;
  /** Its crypt(3) hash, stored as the nodes' secret. */
  hash: string;
}

const randomMac = () => `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;

/** One virtual machine of the lab: its identity in the inventory and its serial console. */
export class LabNode {
  vm!: QemuMachine;
  /** The second NIC's MAC and tap (DebianLabOptions.secondNic). */
  readonly mac2 = randomMac();
  tap2: string | undefined;
  #seq = 0;

  constructor(
    readonly mac: string,
    readonly hostname: string,
    /** Its reservation; '' for a pool address until the lab learns it (DebianLab.leasedAddress). */
    public address: string,
    private readonly password?: string,
  ) {}

  /** Waits for the login prompt after `since` and logs in as root; returns where that ended. */
  async login(since = 0, timeoutMs = 300_000): Promise<number> {
    let from = (await this.vm.waitFor(new RegExp(`${this.hostname} login:`), timeoutMs, since)).index;
    await this.vm.type('root\n');
    if (this.password !== undefined) {
      from = (await this.vm.waitFor(/Password:/, 60_000, from)).index;
      await this.vm.type(`${this.password}\n`);
    }
    const shell = await this.vm.waitFor(new RegExp(`root@${this.hostname}:~# `), 60_000, from);
    // Kernel messages printed on the serial console would land in the middle of what `run`
    // reads; from here on only emergencies reach it (the kernel log keeps the rest: `dmesg`).
    await this.run('dmesg --console-level emerg');
    return shell.index + shell[0].length;
  }

  /** systemd's state after start-up settles (`running` when no unit failed). */
  async systemState(timeoutMs = 5 * 60_000): Promise<string> {
    const out = await this.run('echo "state=$(systemctl is-system-running --wait)"', timeoutMs);
    return /^state=(\S*)$/m.exec(out)?.[1] ?? `unreadable: ${out}`;
  }

  /** Runs a shell command on the node's console and returns what it printed. */
  async run(cmd: string, timeoutMs = 60_000): Promise<string> {
    const n = ++this.#seq;
    const from = this.vm.consoleText().length;
    // The end marker is computed by the shell, so the echo of the typed command never matches it.
    await this.vm.type(`${cmd}; echo "@@done-$((${n} * 7))"\n`);
    const m = await this.vm.waitFor(new RegExp(`@@done-${n * 7}\\b`), timeoutMs, from);
    const text = this.vm.consoleText().slice(from, m.index);
    const firstNewline = text.indexOf('\n');
    return firstNewline < 0 ? '' : text.slice(firstNewline + 1);
  }
}

type LogLine = Record<string, unknown>;

/**
 * Real Debian nodes booting from `diskless serve` in a private namespace, each with a serial
 * console the caller can log into and type on: the lab's main job and the end-to-end tests'.
 * The first node is lab1 at LAB_NODE_ADDRESS; `vm`, `mac`, `login` and `run` are its.
 */
export class DebianLab {
  readonly nodes: LabNode[];
  #server: Daemon | undefined;
  #peer: Daemon | undefined;
  #relay: Daemon | undefined;
  #privateRun = false;
  #options!: DebianLabOptions;

  /** The server's image store (state_dir/images), shared with the running diskless serve. */
  readonly store: ImageStore;
  readonly initrd: string;

  private constructor(readonly net: LabNetwork, readonly dir: string, readonly configPath: string, readonly serverLogPath: string, readonly image: LabImage, initrd: string, count: number, o: Pick<DebianLabOptions, 'poolNodes' | 'unlisted' | 'routed'>, password?: string) {
    this.store = new ImageStore({ root: join(dir, 'state', 'images') });
    this.initrd = initrd;
    const base = Number(LAB_NODE_ADDRESS.split('.')[3]);
    const prefix = LAB_NODE_ADDRESS.split('.').slice(0, 3).join('.');
    this.nodes = Array.from({ length: count }, (_, i) => new LabNode(
      randomMac(),
      o.unlisted ? LAB_IMAGE_HOSTNAME : `lab${i + 1}`,
      o.unlisted || o.poolNodes?.includes(i) ? '' : o.routed && i === 0 ? RACK_NODE_ADDRESS : `${prefix}.${base + i}`,
      password,
    ));
  }

  /** Whether `node` is the routed lab's rack node (DebianLabOptions.routed). */
  onRack(node: LabNode): boolean {
    return this.#options.routed === true && node === this.nodes[0];
  }

  /** Routed: what dhcrelay logged (-d). */
  relayLog(): string {
    return this.#relay?.output() ?? '';
  }

  /** The address the server's DHCP has bound to `mac` right now (pool nodes learn theirs here). */
  async leasedAddress(mac: string): Promise<string | undefined> {
    const table = JSON.parse(await readFile(join(this.stateDir, 'dhcp-leases.json'), 'utf8')) as { leases: Array<{ ip: string; mac: string; state: string; expiresAt: string }> };
    return table.leases.find((l) => l.mac === mac && l.state === 'bound' && Date.parse(l.expiresAt) > Date.now())?.ip;
  }

  /**
   * What the server's DHCP told `node` since its last switch_root: every ACK, and the renewals
   * among them (a REQUEST unicast from `address` at T1, ACKed as renewing). Waits up to
   * `timeoutMs` for `count` renewals and says how many it saw if they do not come.
   */
  async renewalsAfterSwitchRoot(node: LabNode, address: string, count: number, timeoutMs: number): Promise<{ acks: LogLine[]; renewals: LogLine[]; switchedAt: number }> {
    const time = (l: LogLine) => Date.parse(String(l['ts']));
    for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 1000))) {
      const log = await this.serverLog();
      const switchedAt = Math.max(0, ...log.filter((l) => l['service'] === 'node' && l['mac'] === node.mac && l['stage'] === 'switch_root').map(time));
      const acks = switchedAt === 0 ? [] : log.filter((l) => l['service'] === 'dhcp' && l['type'] === 'ack' && l['mac'] === node.mac && time(l) > switchedAt);
      const renewals = acks.filter((l) => l['peer'] === `${address}:68` && /\(renewing\)/.test(String(l['reason'])));
      if (renewals.length >= count) return { acks, renewals, switchedAt };
      if (Date.now() > deadline) {
        throw new Error(`the server saw ${renewals.length} renewals from ${node.mac} (${address}), not ${count}, ${switchedAt === 0 ? 'and no switch_root' : `in ${Math.round((Date.now() - switchedAt) / 1000)} s since its switch_root`}`);
      }
    }
  }

  get stateDir(): string {
    return join(this.dir, 'state');
  }

  get vm(): QemuMachine {
    return this.nodes[0]!.vm;
  }

  get mac(): string {
    return this.nodes[0]!.mac;
  }

  login(since = 0, timeoutMs = 300_000): Promise<number> {
    return this.nodes[0]!.login(since, timeoutMs);
  }

  run(cmd: string, timeoutMs = 60_000): Promise<string> {
    return this.nodes[0]!.run(cmd, timeoutMs);
  }

  systemState(timeoutMs?: number): Promise<string> {
    return this.nodes[0]!.systemState(timeoutMs);
  }

  static async start(o: DebianLabOptions): Promise<DebianLab> {
    assertLabHost();
    await removeStaleLabNamespaces(); // left by runs that were killed with SIGKILL
    const progress = o.progress ?? (() => {});
    const cacheDir = o.cacheDir ?? defaultCacheDir();
    if (o.routed && (o.unlisted || o.vlan !== undefined || o.nic === 'usb-net' || o.poolNodes?.includes(0))) throw new Error('DebianLab routed: the rack node is a listed, reserved, network-booted node');
    const image = await ensureLabImage(cacheDir, progress, o.recipe);
    const initrd = await ensureLabInitrd(image, cacheDir, progress);
    const cert = await labCertificate(cacheDir);
    const dir = await mkdtemp(join(tmpdir(), 'diskless-lab-'));
    if (o.peerServer && (o.routed || o.fromStore || o.rpcbind)) throw new Error('DebianLab peerServer: a flat lab booting file paths, without rpcbind');
    if (o.liveNodes?.length && (o.fromStore || o.mode === 'live')) throw new Error('DebianLab liveNodes: beside another root mode, booting file paths');
    const net = await LabNetwork.create({
      logger: (o.logger ?? nullLogger).child({ service: 'lab' }),
      ...(o.foreignHost || o.routed || o.peerServer ? { foreignAddress: `${PEER_SERVER}/24` } : {}),
      ...(o.routed ? { rack: { port: RACK_PORT, rackAddress: `${RACK_ROUTER}/24` }, extraAddresses: [`${RACK_SERVER_ADDRESS}/24`] } : {}),
    });
    const count = o.nodes ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 9) throw new Error(`DebianLab nodes must be 1 to 9, got ${count}`);
    if (o.unlisted && o.unknownClients !== undefined && o.unknownClients !== 'allow') throw new Error('DebianLab unlisted nodes boot under unknown_clients allow');
    const lab = new DebianLab(net, dir, join(dir, 'diskless.yaml'), join(dir, 'server.log'), image, initrd, count, o, o.rootPassword?.password);
    lab.#options = o;
    try {
      if (o.fromStore && o.storeImage === undefined) {
        const v = await lab.store.addVersion('lab', { squashfs: image.squashfs, kernel: image.kernel, initrd, kernelVersion: image.kernelVersion, link: true });
        await lab.store.publish('lab', v.version);
      }
      if (o.rootPassword || o.authorizedKeys !== undefined) {
        const secrets = await SecretStore.open({ stateDir: lab.stateDir });
        if (o.rootPassword) await secrets.setRootPassword('*', o.rootPassword.hash);
        if (o.authorizedKeys !== undefined) await secrets.setAuthorizedKeys('*', o.authorizedKeys);
      }
      const liveRoot = `{ mode: live, image: ${image.squashfs}, copy: false, retry: ${o.retry ?? 120} }`;
      const profileOf = (n: LabNode) => (o.liveNodes?.includes(lab.nodes.indexOf(n)) ? 'debian-live' : 'debian');
      const root = o.fromStore ? `{ mode: ${o.mode}, retry: ${o.retry ?? 120} }` : o.mode === 'nfs'
        ? `{ mode: nfs, dir: ${image.rootfs}, retry: ${o.retry ?? 120} }`
        : `{ mode: ${o.mode}, image: ${image.squashfs}, copy: ${o.copy ? 'true' : 'false'}, retry: ${o.retry ?? 120} }`;
      const configText = `# Written by the Diskless lab for one run.
server:
  address: ${LAB_SERVER}
  interface: br0
${o.answerRouterSolicitations === undefined ? '' : `  answer_router_solicitations: ${o.answerRouterSolicitations}\n`}  http_port: 80
  tls_cert: ${cert.certFile}
  tls_key: ${cert.keyFile}
  state_dir: ${lab.stateDir}${o.tokenTtlSec !== undefined ? `\n  token_ttl: ${o.tokenTtlSec}` : ''}${o.serverExtra ? `\n  ${o.serverExtra}` : ''}
dhcp:
  mode: full
${o.routed ? `  subnets:
    - network: 10.77.0.0/24
      interface: br0
      pool: ${o.pool ?? `${LAB_POOL.start}-${LAB_POOL.end}`}
      routers: [${LAB_SERVER}]
    - network: ${RACK_NETWORK}.0/24
      pool: ${RACK_NETWORK}.100-${RACK_NETWORK}.150
      routers: [${RACK_ROUTER}]
      domain: ${RACK_DOMAIN}
      server_address: ${RACK_SERVER_ADDRESS}
` : `  pool: ${o.pool ?? `${LAB_POOL.start}-${LAB_POOL.end}`}
  routers: [${LAB_SERVER}]
`}  dns: [${LAB_SERVER}]
  domain: lab.test
  unknown_clients: ${o.unlisted ? 'allow' : o.unknownClients ?? 'deny'}${o.leaseTimeSec !== undefined ? `\n  lease_time: ${o.leaseTimeSec}` : ''}${o.unlisted ? '\ndefault_profile: debian' : ''}
profiles:
  debian:
${o.fromStore ? '    image: lab' : `    kernel: ${image.kernel}\n    initrd: ${initrd}`}
    cmdline: console=ttyS0
    root: ${root}${o.profileExtra ?? ''}
${o.liveNodes?.length ? `  debian-live:
    kernel: ${image.kernel}
    initrd: ${initrd}
    cmdline: console=ttyS0
    root: ${liveRoot}
` : ''}${o.extraProfiles ?? ''}nodes:${o.unlisted ? ' []' : ''}
${o.unlisted ? '' : lab.nodes.map((n) => `  - ${lab.onRack(n) ? `switch_port: { circuit_id: ${RACK_PORT} }` : `mac: "${n.mac}"`}\n    hostname: ${n.hostname}\n${n.address ? `    address: ${n.address}\n` : ''}    profile: ${profileOf(n)}\n${o.nodeCmdline ? `    cmdline: ${JSON.stringify(o.nodeCmdline)}\n` : ''}${o.nodeExtra ? o.nodeExtra(n) : ''}`).join('')}${o.extraNodes ?? ''}${o.peerServer ? `state:
  url: ${o.peerServer.stateUrl}
  secrets_key_file: ${join(dir, 'secrets.key')}
` : ''}`;
      await writeFile(lab.configPath, configText);
      if (o.peerServer) {
        // The same site seen from the foreign host: its address, its interface, its own state_dir.
        const peer = configText
          .replace(`  address: ${LAB_SERVER}\n  interface: br0\n`, `  address: ${PEER_SERVER}\n  interface: eth0\n`)
          .replace(`  state_dir: ${lab.stateDir}\n`, `  state_dir: ${join(dir, 'state-peer')}\n`);
        if (!peer.includes(`address: ${PEER_SERVER}`) || !peer.includes('state-peer')) throw new Error('DebianLab peerServer: cannot derive the second server\'s config');
        await writeFile(lab.#peerConfigPath, peer);
      }
      if (o.rpcbind) {
        await startLabRpcbind(net);
        lab.#privateRun = true;
      }
      await lab.startServer();
      if (o.peerServer) await lab.startServer(PEER_SERVER);
      if (o.routed) lab.#relay = await startRelay(net, dir);
      if (o.storeImage !== undefined) {
        if (!o.fromStore) throw new Error('DebianLab storeImage needs fromStore');
        await o.storeImage(lab);
      }
      await o.beforeBoot?.(net);
      const nic = o.nic ?? 'virtio-net-pci';
      for (const [i, node] of lab.nodes.entries()) {
        if (o.deferredNodes?.includes(i)) continue;
        progress(`booting ${node.hostname} ${node.mac} (${nic}, root over ${o.liveNodes?.includes(i) ? 'live' : o.mode}${o.copy ? ', copied to RAM' : ''})`);
        await lab.#startVm(node, o.qemuArgs ?? []);
      }
      return lab;
    } catch (e) {
      await lab.stop();
      throw e;
    }
  }

  /**
   * A USB NIC has no firmware boot driver in QEMU. A machine whose firmware netbooted through
   * such a NIC hands the kernel its files and command line as iPXE would: the profile's
   * arguments, its root, and BOOTIF naming the NIC it came through.
   */
  async #handedOver(node: LabNode): Promise<BootMethod> {
    const config = loadConfig(this.configPath);
    const profile = config.profiles.get('debian');
    if (profile === undefined || profile.kernel === '') throw new Error('Cannot boot a USB-NIC node from the image store: it is handed kernel files directly');
    const network = config.nodes.find((n) => n.mac === node.mac)?.network ?? profile.network;
    const append = [rootArgs(profile, config.server, httpBaseUrl(config.server), undefined), networkArgs(network), diskArgs(profile.disk), profile.cmdline, bootIfArg(node.mac)].filter(Boolean).join(' ');
    return { kind: 'kernel', kernel: profile.kernel, initrd: this.initrd, append };
  }

  async #startVm(node: LabNode, extraArgs: readonly string[]): Promise<void> {
    const o = this.#options;
    const nic = o.nic ?? 'virtio-net-pci';
    const more = [...extraArgs];
    // With a VLAN, each NIC is on a port of the bridge that carries that VLAN tagged only.
    const vlanPort = o.vlan === undefined ? undefined : await addVlanPort(this.net, o.vlan);
    if (o.secondNic) {
      if (o.vlan !== undefined) {
        const port = await addVlanPort(this.net, o.vlan);
        node.tap2 = port.tap;
        more.push('-netdev', port.netdev.replace(/^socket,/, 'socket,id=net1,'));
      } else {
        node.tap2 ??= await this.net.addTap();
        more.push('-netdev', `tap,id=net1,ifname=${node.tap2},script=no,downscript=no`);
      }
      more.push('-device', `virtio-net-pci,netdev=net1,mac=${node.mac2},romfile=`);
    }
    const tap = vlanPort?.tap ?? (await this.net.addTap(this.onRack(node) ? 'rack' : 'lab'));
    extraArgs = more;
    node.vm = await QemuMachine.start({
      tap,
      ...(vlanPort ? { netdev: vlanPort.netdev } : {}),
      boot: nic === 'usb-net' || o.vlan !== undefined ? await this.#handedOver(node) : { kind: 'network' },
      network: this.net,
      nicModel: nic,
      mac: node.mac,
      ...(o.firmware !== undefined ? { firmware: o.firmware, optionRom: o.firmware === 'bios' } : {}),
      memoryMiB: o.memoryMiB ?? (o.mode === 'live' || o.liveNodes?.includes(this.nodes.indexOf(node)) ? 1536 : 1024),
      interactive: true,
      allowReboot: true,
      dir: this.dir,
      name: node.hostname,
      logger: o.logger ?? nullLogger,
      ...(extraArgs.length ? { extraArgs } : {}),
    });
  }

  /**
   * Switches the first node off and on again with other QEMU arguments (other disks, say): a
   * cold boot of the same machine, its MAC and inventory entry unchanged.
   */
  async powerCycle(extraArgs: readonly string[] = []): Promise<void> {
    const node = this.nodes[0]!;
    await node.vm.stop();
    await this.#startVm(node, extraArgs);
  }

  /** Starts a node start() left off (DebianLabOptions.deferredNodes). */
  async startNode(node: LabNode): Promise<void> {
    if (node.vm !== undefined) throw new Error(`Cannot start ${node.hostname}: it runs`);
    await this.#startVm(node, this.#options.qemuArgs ?? []);
  }

  get #peerConfigPath(): string {
    return join(this.dir, 'diskless-peer.yaml');
  }

  /** The boot servers' addresses: LAB_SERVER, and PEER_SERVER with DebianLabOptions.peerServer. */
  get serverAddresses(): string[] {
    return this.#options.peerServer ? [LAB_SERVER, PEER_SERVER] : [LAB_SERVER];
  }

  #serverOf(address: string): 'main' | 'peer' {
    if (address === LAB_SERVER) return 'main';
    if (address === PEER_SERVER && this.#options.peerServer) return 'peer';
    throw new Error(`The lab has no boot server at ${address}`);
  }

  /** Starts `diskless serve` at `address` (default LAB_SERVER) and waits until it serves. */
  async startServer(address = LAB_SERVER): Promise<void> {
    if (this.#serverOf(address) === 'peer') {
      this.#peer = await startLabServer(this.net, this.#peerConfigPath, this.#peerLogPath, undefined, { namespace: this.net.foreignName! });
      return;
    }
    this.#server = await startLabServer(this.net, this.configPath, this.serverLogPath, undefined, { privateRun: this.#privateRun });
  }

  get #peerLogPath(): string {
    return join(this.dir, 'server-peer.log');
  }

  /**
   * The failure drill: every service down for `downMs`, then back with the same config.
   * `signal: 'SIGKILL'` makes it a crash (no clean close of connections, nothing flushed by
   * the server itself) instead of a clean stop.
   */
  async restartServer(downMs: number, o: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> {
    if (o.signal === 'SIGKILL') await this.killServer();
    else await this.#server?.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.startServer();
  }

  /** Kills `diskless serve` at `address` (and its children) with SIGKILL, as a crash or power cut would. */
  async killServer(address = LAB_SERVER): Promise<void> {
    await (this.#serverOf(address) === 'peer' ? this.#peer : this.#server)?.kill('SIGKILL');
  }

  /** The JSON log lines of the server at `address` (default LAB_SERVER), every run of it. */
  serverLog(address = LAB_SERVER): Promise<Array<Record<string, unknown>>> {
    return readJsonLog(this.#serverOf(address) === 'peer' ? this.#peerLogPath : this.serverLogPath);
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await n.vm?.stop().catch(() => undefined);
    await this.net.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * ISC dhcrelay on the router: rack1 (circuit id "rack1", option 82) up to the lab server. With
 * -D it drops a reply whose option 82 does not name one of its circuits (RFC 3046 §2.2: the
 * server echoes the option), so a reply reaching the rack shows the echo as the relay read it.
 */
async function startRelay(net: LabNetwork, dir: string): Promise<Daemon> {
  const relay = await net.spawn(net.foreignName!, ['dhcrelay', '-d', '-4', '-a', '-D', '-id', RACK_PORT, '-iu', 'eth0', LAB_SERVER], { logFile: join(dir, 'dhcrelay.log') });
  // It names each interface it listens on once it relays; the firmware's first DISCOVER must not be lost.
  const deadline = Date.now() + 15_000;
  while (!/Sending on +Socket\/fallback/.test(relay.output())) {
    if (relay.status || Date.now() > deadline) throw new Error(`dhcrelay did not start: ${relay.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return relay;
}
