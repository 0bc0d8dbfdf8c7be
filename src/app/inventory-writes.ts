import type { InventoryWrites, NodeFields } from '../api/deps.js';
import { editConfigFile } from '../inventory/config-file.js';
import { adoptNode } from '../inventory/adopt.js';
import { addNode, InventoryError, setNode } from '../inventory/editor.js';
import { readFile } from 'node:fs/promises';
import { mergeInventory, splitInventory } from '../inventory/inventory-doc.js';
import type { PgInventory } from '../postgres/inventory.js';

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
