import type { InventoryWrites, NodeFields } from '../api/deps.js';
import { editConfigFile } from '../inventory/config-file.js';
import { adoptNode } from '../inventory/adopt.js';
import { addNode, InventoryError, setNode } from '../inventory/editor.js';
import { readFile } from 'node:fs/promises';
import { mergeInventory, splitInventory } from '../inventory/inventory-doc.js';
import { PgInventory } from '../postgres/inventory.js';
import { Database } from '../postgres/database.js';
import { loadConfig, parseConfig } from '../config/load.js';
import type { DisklessConfig } from '../config/types.js';

/** How errors name the shared inventory (its line numbers are the inventory text's own). */
export const SHARED_INVENTORY = 'inventory (state database)';

/**
 * The config text a server serves with a shared inventory: the database's inventory (none yet:
 * the file's own) followed by the file's other settings.
 */
export function composeInventory(inventory: string | undefined, fileText: string): string {
  const split = splitInventory(fileText);
  return mergeInventory(inventory ?? split.inventory, split.rest);
}

/**
 * The edits of a shared inventory: the same checked editors, run on the inventory from the
 * database merged with this server's file (so they check what this server would serve), the
 * inventory part written back in one transaction with the row locked. Every server reloads
 * from the announcement; `reloaded` makes this one read its own write at once.
 */
export function sharedInventoryWrites(inventory: PgInventory, file: string, wasDiscovered: (mac: string) => boolean, reloaded: () => void): InventoryWrites {
  const write = async (edit: (text: string, label: string) => string) => {
    const fileText = await readFile(file, 'utf8');
    const { rest, inventory: own } = splitInventory(fileText);
    await inventory.edit((cur) => splitInventory(edit(mergeInventory(cur ?? own, rest), SHARED_INVENTORY)).inventory);
    reloaded();
  };
  return inventoryWrites(write, wasDiscovered);
}

/**
 * The API's inventory edits, through the same checked, locked, comment-keeping edits as
 * `diskless node add|set|adopt`. `reloaded` runs after each write so the API reads its own
 * write at once instead of waiting for the config watcher's debounce.
 */
export function fileInventoryWrites(file: string, wasDiscovered: (mac: string) => boolean, reloaded: () => void): InventoryWrites {
  const write = async (edit: (text: string, label: string) => string) => {
    await editConfigFile(file, (text) => edit(text, file));
    reloaded();
  };
  return inventoryWrites(write, wasDiscovered);
}

function inventoryWrites(write: (edit: (text: string, file: string) => string) => Promise<void>, wasDiscovered: (mac: string) => boolean): InventoryWrites {
  return {
    addNode: (node) => write((text, file) => addNode(text, node, file)),
    setNode: (mac, changes) => write((text, file) => setNode(text, mac, changes, file)),
    adoptNode: (node: NodeFields) =>
      write((text, file) => {
        if (node.mac === undefined) throw new InventoryError('DL_INVENTORY', 'a MAC is required to adopt a discovered machine');
        const mac = node.mac;
        if (!node.hostname) throw new InventoryError('DL_INVENTORY', `hostname is required to adopt ${node.mac}`);
        const adopted = adoptNode(text, { mac, hostname: node.hostname, profile: node.profile, address: node.address }, wasDiscovered, file);
        // adopt takes what `node adopt` takes; the rest goes in as `node set` would put it.
        const extra = { ...(node.cmdline !== undefined ? { cmdline: node.cmdline } : {}), ...(node.loader !== undefined ? { loader: node.loader } : {}) };
        return Object.keys(extra).length ? setNode(adopted, mac, extra, file) : adopted;
      }),
  };
}

/**
 * Opens the shared inventory of `config` when its state database holds one; undefined for a
 * files state or a database holding none (the config file's own inventory is served then).
 */
async function openSharedInventory(config: DisklessConfig): Promise<{ inventory: PgInventory; close(): Promise<void> } | undefined> {
  if (config.state.backend !== 'postgres') return undefined;
  const db = await Database.open(config.state, { applicationName: 'diskless inventory' });
  try {
    const inventory = await PgInventory.open(db);
    if (inventory.text !== undefined) return { inventory, close: async () => { inventory.detach(); await db.close(); } };
    inventory.detach();
  } catch (e) {
    await db.close();
    throw e;
  }
  await db.close();
  return undefined;
}

/**
 * A command-line inventory edit (`node add|set|rm|adopt`, `profile …`): to the state database's
 * inventory when it holds one (what every server serves), else to the config file. `edit` gets
 * the text and the name its errors give; returns where the edit went.
 */
export async function editInventory(file: string, edit: (text: string, label: string) => string): Promise<string> {
  const shared = await openSharedInventory(loadConfig(file));
  if (!shared) {
    await editConfigFile(file, (text) => edit(text, file));
    return file;
  }
  try {
    const { rest, inventory: own } = splitInventory(await readFile(file, 'utf8'));
    await shared.inventory.edit((cur) => splitInventory(edit(mergeInventory(cur ?? own, rest), SHARED_INVENTORY)).inventory);
    return 'the state database';
  } finally {
    await shared.close();
  }
}

/** The config as `serve` would serve it: the file, its inventory replaced by the state database's when it holds one. */
export async function servedConfig(file: string): Promise<DisklessConfig> {
  const config = loadConfig(file);
  const shared = await openSharedInventory(config);
  if (!shared) return config;
  try {
    return parseConfig(composeInventory(shared.inventory.text, await readFile(config.file, 'utf8')), config.file);
  } finally {
    await shared.close();
  }
}
