import type { DisklessConfig, NodeConfig } from '../config/types.js';
import type { PowerConfig } from '../config/power.js';
import { nodeKey } from '../boot/boot-target.js';
import { DisklessError } from '../errors/diskless-error.js';
import { normalizeMac } from '../net/mac.js';
import { ipmiPower, type IpmiRunner, type PowerAction, type PowerOutcome } from './ipmi.js';

/** A node to act on: how people name it and its BMC, if it has one. */
export interface PowerTarget {
  /** The node's identity key (its MAC, or host:NAME for a node known by its switch port). */
  key: string;
  name: string;
  power?: PowerConfig;
}

export interface PowerResult extends PowerOutcome {
  target: PowerTarget;
}

/** BMCs asked at once by default: enough to move a rack quickly, few enough not to flood a management LAN. */
export const DEFAULT_POWER_PARALLEL = 8;

export function targetOf(n: NodeConfig): PowerTarget {
  return { key: nodeKey(n), name: n.hostname ?? nodeKey(n), ...(n.power ? { power: n.power } : {}) };
}

/**
 * The nodes a power command acts on: those named (host name or MAC), those of a profile, or
 * every node only when `all` says so explicitly. Naming nothing is an error, never "all".
 */
export function selectTargets(config: DisklessConfig, sel: { names: readonly string[]; profile?: string; all?: boolean }): PowerTarget[] {
  const ways = (sel.names.length > 0 ? 1 : 0) + (sel.profile !== undefined ? 1 : 0) + (sel.all === true ? 1 : 0);
  if (ways === 0) throw new DisklessError('DL_USAGE', 'name the nodes (host names or MACs), or give --profile P, or --all for every node: no node named never means all');
  if (ways > 1) throw new DisklessError('DL_USAGE', 'give nodes, --profile or --all, only one of them');
  if (sel.all === true) return config.nodes.map(targetOf);
  if (sel.profile !== undefined) {
    if (!config.profiles.has(sel.profile)) throw new DisklessError('DL_INVENTORY_NOT_FOUND', `no profile ${sel.profile} (profiles: ${[...config.profiles.keys()].join(', ') || 'none'})`);
    const nodes = config.nodes.filter((n) => n.profile === sel.profile);
    if (nodes.length === 0) throw new DisklessError('DL_INVENTORY_NOT_FOUND', `profile ${sel.profile} has no nodes`);
    return nodes.map(targetOf);
  }
  const seen = new Set<string>();
  const out: PowerTarget[] = [];
  for (const name of sel.names) {
    const node = findNode(config, name);
    if (!node) throw new DisklessError('DL_INVENTORY_NOT_FOUND', `no node ${name} in ${config.file} (diskless node list shows them)`);
    if (!seen.has(nodeKey(node))) out.push(targetOf(node));
    seen.add(nodeKey(node));
  }
  return out;
}

/** A node by host name (case-insensitive) or MAC. */
export function findNode(config: DisklessConfig, name: string): NodeConfig | undefined {
  const mac = normalizeMac(name);
  return config.nodes.find((n) => (mac !== undefined && n.mac === mac) || (n.hostname !== undefined && n.hostname.toLowerCase() === name.toLowerCase()));
}

/**
 * Runs `action` on every target, at most `parallel` BMCs at once, and reports each result as
 * it comes (`onResult`) and all of them in the targets' order at the end. A node without a
 * BMC is a failed result that says how to give it one; one BMC failing never stops the others.
 */
export async function powerNodes(targets: readonly PowerTarget[], action: PowerAction, o: { parallel?: number; onResult?: (r: PowerResult) => void; runner?: IpmiRunner } = {}): Promise<PowerResult[]> {
  const results: PowerResult[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      const target = targets[i]!;
      const outcome: PowerOutcome = target.power
        ? await ipmiPower(target.power, action, o.runner)
        : { ok: false, detail: 'no BMC: give the node power.ipmi (and user, password_file, here or in its profile)' };
      const r = { ...outcome, target };
      results[i] = r;
      o.onResult?.(r);
    }
  };
  const n = Math.max(1, Math.min(o.parallel ?? DEFAULT_POWER_PARALLEL, targets.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}
