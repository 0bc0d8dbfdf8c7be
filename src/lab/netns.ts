import { randomBytes } from 'node:crypto';
import { type Logger, nullLogger } from '../log/logger.js';
import { onExitCleanup } from '../process/exit-cleanup.js';
import { Daemon, type DaemonOptions } from '../process/daemon.js';
import { type RunOptions, type RunResult, run, runSyncForExitHook } from '../process/run.js';
import { alive } from '../files/lock-file.js';

export interface LabNetworkOptions {
  /** The lab host's address on the bridge, with prefix (default 10.77.0.1/24). */
  bridgeAddress?: string;
  /**
   * Adds a second namespace, a "foreign host" on the same bridge (e.g. a third-party DHCP
   * server), reached through a veth pair and given this address (e.g. 10.77.0.2/24).
   */
  foreignAddress?: string;
  /**
   * Makes the foreign host a router to a second segment, a rack: a bridge `br1` in the lab
   * namespace without an address of the lab host's (its machines reach the server only
   * through the router), the router's `port` on it with `rackAddress`, IPv4 forwarding in the
   * router, and the lab host's route to the rack through `foreignAddress`. Needs foreignAddress.
   */
  rack?: { port: string; rackAddress: string };
  /** More addresses of the lab host on the bridge, with prefix (e.g. a subnet's own server address). */
  extraAddresses?: readonly string[];
  logger?: Logger;
}

// Lab namespaces are named dl-<pid>-<hex>: the pid tells a later run whether the owner is gone.
const NAME = /^dl-(\d+)-[0-9a-f]+(?:-f)?$/;
const BRIDGE = 'br0';
// Interface names are per namespace, so these short fixed names never collide between labs.
const VETH_LAB_SIDE = 'vforeign';
const VETH_FOREIGN_SIDE = 'eth0';
const RACK_BRIDGE = 'br1';
const VETH_RACK_LAB_SIDE = 'vrack';

const addressOnly = (cidr: string): string => cidr.split('/')[0] ?? cidr;
/** "10.78.0.1/24" → "10.78.0.0/24" (whole octets only: the lab's networks are /24s). */
const networkOf = (cidr: string): string => {
  const [addr = '', prefix = '24'] = cidr.split('/');
  const keep = Math.floor(Number(prefix) / 8);
  return `${addr.split('.').map((o, i) => (i < keep ? o : '0')).join('.')}/${prefix}`;
};

/**
 * A private L2 segment for booting machines: a namespace with a bridge that QEMU taps and an
 * optional foreign host join, and that servers run inside. Nothing in it can reach the host's
 * own networks, so lab DHCP servers and PXE clients never leak onto a real LAN.
 */
export class LabNetwork {
  readonly bridge = BRIDGE;
  /** The lab host's address on the bridge, without prefix. */
  readonly address: string;
  readonly foreignAddress: string | undefined;
  #taps: string[] = [];
  #processes = new Set<Daemon>();
  #destroyed = false;
  readonly #unregister: () => void;

  private constructor(
    /** The namespace where the bridge and taps live and where the server runs. */
    readonly name: string,
    /** The foreign host's namespace, when there is one. */
    readonly foreignName: string | undefined,
    bridgeAddress: string,
    foreignAddress: string | undefined,
    private readonly log: Logger,
  ) {
    this.address = addressOnly(bridgeAddress);
    this.foreignAddress = foreignAddress === undefined ? undefined : addressOnly(foreignAddress);
    this.#unregister = onExitCleanup(() => this.destroySync());
  }

  static async create(options: LabNetworkOptions = {}): Promise<LabNetwork> {
    const name = `dl-${process.pid}-${randomBytes(3).toString('hex')}`;
    const foreign = options.foreignAddress === undefined ? undefined : `${name}-f`;
    const bridgeAddress = options.bridgeAddress ?? '10.77.0.1/24';
    const log = (options.logger ?? nullLogger).child({ service: 'lab', netns: name });
    // Constructed first so the exit hook and destroy() cover a half-built network.
    const lab = new LabNetwork(name, foreign, bridgeAddress, options.foreignAddress, log);
    try {
      await run(['ip', 'netns', 'add', name]);
      await lab.#ip(name, 'link', 'set', 'lo', 'up');
      // STP off and no forward delay: a tap port must forward the moment QEMU opens it, or
      // the firmware's first DHCP packets are lost.
      await lab.#ip(name, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
      await lab.#ip(name, 'addr', 'add', bridgeAddress, 'dev', BRIDGE);
      for (const a of options.extraAddresses ?? []) await lab.#ip(name, 'addr', 'add', a, 'dev', BRIDGE);
      await lab.#ip(name, 'link', 'set', BRIDGE, 'up');
      if (foreign !== undefined && options.foreignAddress !== undefined) {
        await run(['ip', 'netns', 'add', foreign]);
        await lab.#ip(foreign, 'link', 'set', 'lo', 'up');
        await lab.#ip(name, 'link', 'add', VETH_LAB_SIDE, 'type', 'veth', 'peer', 'name', VETH_FOREIGN_SIDE, 'netns', foreign);
        await lab.#ip(name, 'link', 'set', VETH_LAB_SIDE, 'master', BRIDGE, 'up');
        await lab.#ip(foreign, 'addr', 'add', options.foreignAddress, 'dev', VETH_FOREIGN_SIDE);
        await lab.#ip(foreign, 'link', 'set', VETH_FOREIGN_SIDE, 'up');
        if (options.rack !== undefined) {
          const { port, rackAddress } = options.rack;
          await lab.#ip(name, 'link', 'add', RACK_BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
          await lab.#ip(name, 'link', 'set', RACK_BRIDGE, 'up');
          await lab.#ip(name, 'link', 'add', VETH_RACK_LAB_SIDE, 'type', 'veth', 'peer', 'name', port, 'netns', foreign);
          await lab.#ip(name, 'link', 'set', VETH_RACK_LAB_SIDE, 'master', RACK_BRIDGE, 'up');
          await lab.#ip(foreign, 'addr', 'add', rackAddress, 'dev', port);
          await lab.#ip(foreign, 'link', 'set', port, 'up');
          await run(['ip', 'netns', 'exec', foreign, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
          await lab.#ip(name, 'route', 'add', networkOf(rackAddress), 'via', lab.foreignAddress!);
        }
      }
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    log.log('info', 'lab network up', { address: lab.address, foreign: lab.foreignAddress });
    return lab;
  }

  #ip(ns: string, ...args: string[]): Promise<RunResult> {
    return run(['ip', '-n', ns, ...args]);
  }

  #check(ns: string): void {
    if (this.#destroyed) throw new Error(`Cannot use lab network ${this.name}: destroyed`);
    // Commands only ever run in namespaces this lab made, never on the host's networks.
    if (ns !== this.name && ns !== this.foreignName) {
      throw new Error(`Cannot use namespace ${ns}: not part of lab network ${this.name}`);
    }
  }

  /**
   * Adds a tap port for one QEMU NIC to the lab host's bridge, or with `rack` to the rack
   * behind the router (options.rack); returns its name (tap0, tap1, …).
   */
  async addTap(where: 'lab' | 'rack' = 'lab'): Promise<string> {
    this.#check(this.name);
    const tap = `tap${this.#taps.length}`;
    this.#taps.push(tap);
    await this.#ip(this.name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
    await this.#ip(this.name, 'link', 'set', tap, 'master', where === 'rack' ? RACK_BRIDGE : BRIDGE, 'up');
    return tap;
  }

  /**
   * Bytes the bridge has passed to the machine on `tap` (the tap's transmit counter): everything
   * the node received, whichever server or protocol sent it.
   */
  async bytesToTap(tap: string): Promise<number> {
    if (!this.#taps.includes(tap)) throw new Error(`Cannot count bytes on ${tap}: not a tap of lab network ${this.name}`);
    const { stdout } = await this.exec(this.name, ['cat', `/sys/class/net/${tap}/statistics/tx_bytes`]);
    return Number(stdout.trim());
  }

  /** Runs a short command inside namespace `ns` (this.name or this.foreignName). */
  async exec(ns: string, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    this.#check(ns);
    return run(['ip', 'netns', 'exec', ns, ...argv], options);
  }

  /** Starts a long-running command inside `ns`; destroy() stops it. */
  async spawn(ns: string, argv: readonly string[], options: DaemonOptions = {}): Promise<Daemon> {
    this.#check(ns);
    // `ip netns exec` execs the command after setns, so the pid and group are the command's own.
    const p = await Daemon.start(['ip', 'netns', 'exec', ns, ...argv], options);
    this.#processes.add(p);
    void p.exited.then(() => this.#processes.delete(p));
    this.log.log('debug', 'process started', { pid: p.pid, cmd: argv.join(' ') });
    return p;
  }

  /** Runs a Node script (e.g. the boot server) inside `ns` with this Node binary. */
  spawnNode(ns: string, args: readonly string[], options: DaemonOptions = {}): Promise<Daemon> {
    return this.spawn(ns, [process.execPath, ...args], options);
  }

  /** Stops every process it started, then deletes its links and namespaces. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all([...this.#processes].map((p) => p.stop()));
    for (const ns of this.#namespaces()) {
      // Processes started behind our back (or forked and detached) would keep the namespace alive.
      const pids = await run(['ip', 'netns', 'pids', ns], { check: false });
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) killQuietly(Number(pid));
    }
    // Taps are deleted explicitly: a persistent tun device is not a plain virtual link and is
    // not guaranteed to vanish with its namespace.
    for (const tap of this.#taps) await run(['ip', '-n', this.name, 'link', 'del', tap], { check: false });
    for (const ns of this.#namespaces()) await run(['ip', 'netns', 'del', ns], { check: false });
    this.#unregister();
    this.log.log('info', 'lab network destroyed');
  }

  #namespaces(): string[] {
    return this.foreignName === undefined ? [this.name] : [this.foreignName, this.name];
  }

  /** The exit-hook variant of destroy(): synchronous, SIGKILL only. */
  destroySync(): void {
    this.#destroyed = true;
    for (const p of this.#processes) p.killSync();
    for (const ns of this.#namespaces()) {
      for (const pid of runSyncForExitHook(['ip', 'netns', 'pids', ns]).split(/\s+/).filter(Boolean)) killQuietly(Number(pid));
    }
    for (const tap of this.#taps) runSyncForExitHook(['ip', '-n', this.name, 'link', 'del', tap]);
    for (const ns of this.#namespaces()) runSyncForExitHook(['ip', 'netns', 'del', ns]);
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * Deletes lab namespaces left by runs that died by SIGKILL (exit hooks never ran), judged by the
 * pid in their name. Returns the names it removed.
 */
export async function removeStaleLabNamespaces(): Promise<string[]> {
  const list = await run(['ip', 'netns', 'list']);
  const stale: string[] = [];
  for (const line of list.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = NAME.exec(name);
    if (m === null || alive(Number(m[1]))) continue;
    const pids = await run(['ip', 'netns', 'pids', name], { check: false });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) killQuietly(Number(pid));
    await run(['ip', 'netns', 'del', name], { check: false });
    stale.push(name);
  }
  return stale;
}
