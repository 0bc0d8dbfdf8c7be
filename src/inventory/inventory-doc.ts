import { isMap, parseDocument, Document } from 'yaml';
import { InventoryError } from './editor.js';

/** The config's top-level keys that make up the inventory: what a shared database holds. */
export const INVENTORY_KEYS = ['default_profile', 'profiles', 'nodes'] as const;

/**
 * A config's text split in two YAML documents: its inventory keys (comments kept) and the
 * rest (this server's own settings). `inventory` is empty when the text has none of them.
 */
export function splitInventory(text: string): { inventory: string; rest: string } {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new InventoryError('DL_INVENTORY', `invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  if (doc.contents !== null && !isMap(doc.contents)) throw new InventoryError('DL_INVENTORY', 'the config must be a mapping');
  const inv = new Document({});
  const inventoryMap = inv.contents as unknown as { items: unknown[] };
  const items = isMap(doc.contents) ? doc.contents.items : [];
  const kept: typeof items = [];
  for (const pair of items) {
    const key = (pair.key as { value?: unknown } | null)?.value ?? pair.key;
    if ((INVENTORY_KEYS as readonly unknown[]).includes(key)) inventoryMap.items.push(pair);
    else kept.push(pair);
  }
  if (isMap(doc.contents)) doc.contents.items = kept;
  return { inventory: inventoryMap.items.length ? inv.toString() : '', rest: doc.contents === null || kept.length === 0 ? '' : doc.toString() };
}

/**
 * The config served: the inventory's text first, so its line numbers are the inventory's own
 * in every error, then this server's other settings (the rest of its config file).
 */
export function mergeInventory(inventory: string, rest: string): string {
  const inv = inventory.endsWith('\n') || inventory === '' ? inventory : `${inventory}\n`;
  return inv + rest;
}
