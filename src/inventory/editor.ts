import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { parseConfig } from '../config/load.js';
import { ConfigError } from '../config/yaml-fields.js';
import { DisklessError } from '../errors/diskless-error.js';
import { normalizeMac } from '../net/mac.js';
import { applyYamlOps, type YamlOp } from './yaml-splice.js';

/**
 * Inventory edits as pure functions from config text to config text. Each result is checked with
 * the same parser `serve` uses, so an edit that would stop the server from starting is refused
 * before anything reaches the disk. Untouched lines keep their bytes (see yaml-splice.ts).
 */
export class InventoryError extends DisklessError {
  override name = 'InventoryError';

  constructor(code: InventoryErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export type InventoryErrorCode = 'DL_INVENTORY' | 'DL_INVENTORY_NOT_FOUND';

/** `switch_port:` of a node: the port its DHCP relay reports (option 82), circuit and remote id. */
export interface SwitchPortSpec {
  circuitId: string;
  remoteId?: string | undefined;
}

export interface NodeSpec {
  /** Absent for a node known by its switch port only. */
  mac?: string | undefined;
  switchPort?: SwitchPortSpec | undefined;
  hostname?: string | undefined;
  address?: string | undefined;
  profile?: string | undefined;
  cmdline?: string | undefined;
  loader?: string | undefined;
}

/** null or undefined removes the key. */
export type NodeChanges = { [K in Exclude<keyof NodeSpec, 'switchPort'>]?: string | null | undefined } & { switchPort?: SwitchPortSpec | null | undefined };

export interface ProfileSpec {
  inherits?: string | undefined;
  kernel?: string | undefined;
  initrd?: string | string[] | undefined;
  cmdline?: string | undefined;
  loader?: string | undefined;
  root?: Record<string, unknown> | undefined;
}

/** null or undefined removes the key. */
export type ProfileChanges = { [K in keyof ProfileSpec]?: ProfileSpec[K] | null };

const DEFAULT_FILE = 'diskless.yaml';
// Written in this order so new entries read like the README example.
const NODE_KEYS = ['mac', 'switch_port', 'hostname', 'address', 'profile', 'cmdline', 'loader'] as const;
const PROFILE_KEYS = ['inherits', 'kernel', 'initrd', 'cmdline', 'loader', 'root'] as const;

interface NodeEntry {
  index: number;
  mac: string | undefined;
  hasSwitchPort: boolean;
  hostname?: string;
  address?: string;
  profile?: string;
}

interface Inventory {
  nodes: NodeEntry[];
  profiles: Map<string, { inherits?: string }>;
  defaultProfile?: string;
}

/** A tolerant read of what the edit checks need; full validation is parseConfig's job. */
function readInventory(text: string): Inventory {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new InventoryError('DL_INVENTORY', `cannot edit: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  const nodes: NodeEntry[] = [];
  const seq = doc.get('nodes', true);
  if (isSeq(seq)) {
    seq.items.forEach((item, index) => {
      if (!isMap(item)) return;
      const get = (k: string) => str(item.get(k));
      const mac = get('mac');
      const port = item.get('switch_port');
      const e: NodeEntry = { index, mac: mac === undefined ? undefined : normalizeMac(mac), hasSwitchPort: port !== undefined && port !== null && !(isScalar(port) && port.value === null) };
      for (const k of ['hostname', 'address', 'profile'] as const) {
        const v = get(k);
        if (v !== undefined) e[k] = v;
      }
      nodes.push(e);
    });
  }
  const profiles = new Map<string, { inherits?: string }>();
  const pm = doc.get('profiles', true);
  if (isMap(pm)) {
    for (const pair of pm.items) {
      if (!isScalar(pair.key)) continue;
      const inherits = isMap(pair.value) ? str(pair.value.get('inherits')) : undefined;
      profiles.set(String(pair.key.value), inherits !== undefined ? { inherits } : {});
    }
  }
  const defaultProfile = str(doc.get('default_profile'));
  return { nodes, profiles, ...(defaultProfile !== undefined ? { defaultProfile } : {}) };
}

const describe = (n: NodeEntry) => (n.hostname ? `${n.hostname} (${n.mac})` : `${n.mac ?? `nodes[${n.index}]`}`);

function mustMac(text: string): string {
  const mac = normalizeMac(text);
  if (!mac) throw new InventoryError('DL_INVENTORY', `"${text}" is not a MAC address (use 52:54:00:12:34:56)`);
  return mac;
}

/**
 * A node by its identity key: its MAC, or for a node without one "host:NAME" (nodeKey in
 * src/boot/boot-target.ts), since such a node is whichever machine is on its switch port.
 */
function findNode(inv: Inventory, ref: string): NodeEntry {
  if (ref.startsWith('host:')) {
    const name = ref.slice('host:'.length).toLowerCase();
    const n = inv.nodes.find((e) => e.mac === undefined && e.hostname?.toLowerCase() === name);
    if (!n) throw new InventoryError('DL_INVENTORY_NOT_FOUND', `no node without a MAC named ${ref.slice('host:'.length)} (a node with a MAC is named by its MAC)`);
    return n;
  }
  const mac = mustMac(ref);
  const n = inv.nodes.find((e) => e.mac === mac);
  if (!n) throw new InventoryError('DL_INVENTORY_NOT_FOUND', `no node with MAC ${mac}`);
  return n;
}

/** The YAML of a switch port, or undefined (null) to remove one. */
function switchPortYaml(port: SwitchPortSpec | null | undefined): Record<string, string> | undefined {
  if (port === null || port === undefined) return undefined;
  return { circuit_id: port.circuitId, ...(port.remoteId !== undefined ? { remote_id: port.remoteId } : {}) };
}

function checkFree(inv: Inventory, self: NodeEntry | undefined, mac: string | undefined, address: string | undefined, hostname?: string): void {
  for (const other of inv.nodes) {
    if (other === self) continue;
    // Host names are case-insensitive (RFC 4343); two nodes with one name would fight over DNS and logs.
    if (hostname !== undefined && other.hostname?.toLowerCase() === hostname.toLowerCase()) throw new InventoryError('DL_INVENTORY', `host name ${hostname} is already used by ${describe(other)}`);
    if (mac !== undefined && other.mac === mac) throw new InventoryError('DL_INVENTORY', `a node with MAC ${mac} already exists (nodes[${other.index}]${other.hostname ? `, ${other.hostname}` : ''})`);
    if (address !== undefined && other.address === address) throw new InventoryError('DL_INVENTORY', `address ${address} is already reserved for ${describe(other)}`);
  }
}

/** Applies the ops and refuses the result if the server would refuse it. */
function edit(text: string, ops: YamlOp[], file: string): string {
  const result = applyYamlOps(text, ops);
  try {
    parseConfig(result, file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    let before: string | undefined;
    try {
      parseConfig(text, file);
    } catch (b) {
      before = b instanceof ConfigError ? b.message : undefined;
    }
    if (before === e.message) throw new InventoryError('DL_INVENTORY', `the config is already invalid (not by this edit): ${e.message}`, { cause: e });
    throw new InventoryError('DL_INVENTORY', `edit refused: ${e.message}`, { cause: e });
  }
  return result;
}

function pick<K extends string>(keys: readonly K[], from: Partial<Record<K, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (from[k] !== undefined && from[k] !== null) out[k] = from[k];
  return out;
}

/** Adds a node: by MAC, or by switch port (then a host name is required: it names the node's identity). */
export function addNode(text: string, node: NodeSpec, file = DEFAULT_FILE): string {
  const inv = readInventory(text);
  if (node.mac === undefined && node.switchPort === undefined) throw new InventoryError('DL_INVENTORY', 'a node needs a MAC or a switch port (circuit id, and remote id if the relay sends one)');
  if (node.mac === undefined && node.hostname === undefined) throw new InventoryError('DL_INVENTORY', 'a node without a MAC needs a host name: it is known as host:NAME');
  const mac = node.mac === undefined ? undefined : mustMac(node.mac);
  checkFree(inv, undefined, mac, node.address, node.hostname);
  const { switchPort, ...rest } = node;
  return edit(text, [{ op: 'append', path: ['nodes'], value: pick(NODE_KEYS, { ...rest, mac, switch_port: switchPortYaml(switchPort) }) }], file);
}

/**
 * Changes a node named by `ref` (its MAC, or host:NAME for a node without one). A MAC may be
 * removed only while the node keeps a switch port, and a switch port only while it keeps a MAC.
 */
export function setNode(text: string, ref: string, changes: NodeChanges, file = DEFAULT_FILE): string {
  const inv = readInventory(text);
  const node = findNode(inv, ref);
  const keepsPort = 'switchPort' in changes ? changes.switchPort !== null && changes.switchPort !== undefined : node.hasSwitchPort;
  const keepsMac = 'mac' in changes ? changes.mac !== null && changes.mac !== undefined : node.mac !== undefined;
  if (!keepsMac && !keepsPort) {
    throw new InventoryError('DL_INVENTORY', 'mac' in changes
      ? 'a node\'s mac cannot be removed while it has no switch_port (use removeNode, or give it a switch port)'
      : 'a node\'s switch_port cannot be removed while it has no mac (give it a MAC first)');
  }
  const newMac = changes.mac ? mustMac(changes.mac) : undefined;
  checkFree(inv, node, newMac, changes.address ?? undefined, changes.hostname ?? undefined);
  const ops: YamlOp[] = [];
  for (const k of NODE_KEYS) {
    const key = k === 'switch_port' ? 'switchPort' : k;
    if (!(key in changes)) continue;
    const v = k === 'mac' ? newMac : k === 'switch_port' ? switchPortYaml(changes.switchPort) : changes[k];
    const path = ['nodes', node.index, k];
    ops.push(v === null || v === undefined ? { op: 'delete', path } : { op: 'set', path, value: v });
  }
  return edit(text, ops, file);
}

export function removeNode(text: string, ref: string, file = DEFAULT_FILE): string {
  const node = findNode(readInventory(text), ref);
  return edit(text, [{ op: 'removeItem', path: ['nodes'], index: node.index }], file);
}

export function addProfile(text: string, name: string, profile: ProfileSpec, file = DEFAULT_FILE): string {
  if (readInventory(text).profiles.has(name)) throw new InventoryError('DL_INVENTORY', `profile "${name}" already exists`);
  return edit(text, [{ op: 'set', path: ['profiles', name], value: pick(PROFILE_KEYS, profile) }], file);
}

export function setProfile(text: string, name: string, changes: ProfileChanges, file = DEFAULT_FILE): string {
  if (!readInventory(text).profiles.has(name)) throw new InventoryError('DL_INVENTORY_NOT_FOUND', `no profile "${name}"`);
  const ops: YamlOp[] = [];
  for (const k of PROFILE_KEYS) {
    if (!(k in changes)) continue;
    const v = changes[k];
    const path = ['profiles', name, k];
    ops.push(v === null || v === undefined ? { op: 'delete', path } : { op: 'set', path, value: v });
  }
  return edit(text, ops, file);
}

export function removeProfile(text: string, name: string, file = DEFAULT_FILE): string {
  const inv = readInventory(text);
  if (!inv.profiles.has(name)) throw new InventoryError('DL_INVENTORY_NOT_FOUND', `no profile "${name}"`);
  // A node without `profile:` boots "default", so it uses that profile just as much.
  const users = inv.nodes.filter((n) => (n.profile ?? 'default') === name);
  if (users.length) throw new InventoryError('DL_INVENTORY', `profile "${name}" is used by ${users.length === 1 ? 'node' : 'nodes'} ${users.map(describe).join(', ')}; move them to another profile first`);
  if (inv.defaultProfile === name) throw new InventoryError('DL_INVENTORY', `profile "${name}" is default_profile; change default_profile first`);
  const heirs = [...inv.profiles].filter(([, p]) => p.inherits === name).map(([n]) => n);
  if (heirs.length) throw new InventoryError('DL_INVENTORY', `profile "${name}" is inherited by ${heirs.map((h) => `"${h}"`).join(', ')}`);
  return edit(text, [{ op: 'delete', path: ['profiles', name] }], file);
}
