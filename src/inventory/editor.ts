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

export interface NodeSpec {
  mac: string;
  hostname?: string | undefined;
  address?: string | undefined;
  profile?: string | undefined;
  cmdline?: string | undefined;
  loader?: string | undefined;
}

/** null or undefined removes the key. */
export type NodeChanges = { [K in keyof NodeSpec]?: string | null | undefined };

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
const NODE_KEYS = ['mac', 'hostname', 'address', 'profile', 'cmdline', 'loader'] as const;
const PROFILE_KEYS = ['inherits', 'kernel', 'initrd', 'cmdline', 'loader', 'root'] as const;

interface NodeEntry {
  index: number;
  mac: string | undefined;
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
      const e: NodeEntry = { index, mac: mac === undefined ? undefined : normalizeMac(mac) };
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

function findNode(inv: Inventory, macText: string): NodeEntry {
  const mac = mustMac(macText);
  const n = inv.nodes.find((e) => e.mac === mac);
  if (!n) throw new InventoryError('DL_INVENTORY_NOT_FOUND', `no node with MAC ${mac}`);
  return n;
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

export function addNode(text: string, node: NodeSpec, file = DEFAULT_FILE): string {
  const inv = readInventory(text);
  const mac = mustMac(node.mac);
  checkFree(inv, undefined, mac, node.address, node.hostname);
  return edit(text, [{ op: 'append', path: ['nodes'], value: pick(NODE_KEYS, { ...node, mac }) }], file);
}

export function setNode(text: string, mac: string, changes: NodeChanges, file = DEFAULT_FILE): string {
  const inv = readInventory(text);
  const node = findNode(inv, mac);
  if ('mac' in changes && (changes.mac === null || changes.mac === undefined)) throw new InventoryError('DL_INVENTORY', 'a node\'s mac cannot be removed (use removeNode)');
  const newMac = changes.mac ? mustMac(changes.mac) : undefined;
  checkFree(inv, node, newMac, changes.address ?? undefined, changes.hostname ?? undefined);
  const ops: YamlOp[] = [];
  for (const k of NODE_KEYS) {
    if (!(k in changes)) continue;
    const v = k === 'mac' ? newMac : changes[k];
    const path = ['nodes', node.index, k];
    ops.push(v === null || v === undefined ? { op: 'delete', path } : { op: 'set', path, value: v });
  }
  return edit(text, ops, file);
}

export function removeNode(text: string, mac: string, file = DEFAULT_FILE): string {
  const node = findNode(readInventory(text), mac);
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
