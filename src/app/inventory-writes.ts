import type { InventoryWrites, NodeFields } from '../api/deps.js';
import { editConfigFile } from '../inventory/config-file.js';
import { adoptNode } from '../inventory/adopt.js';
import { addNode, InventoryError, setNode } from '../inventory/editor.js';

/**
 * The API's inventory edits, through the same checked, locked, comment-keeping edits as
 * `diskless node add|set|adopt`. `reloaded` runs after each write so the API reads its own
 * write at once instead of waiting for the config watcher's debounce.
 */
export function fileInventoryWrites(file: string, wasDiscovered: (mac: string) => boolean, reloaded: () => void): InventoryWrites {
  const write = async (edit: (text: string) => string) => {
    await editConfigFile(file, edit);
    reloaded();
  };
  return {
    addNode: (node) => write((text) => addNode(text, node, file)),
    setNode: (mac, changes) => write((text) => setNode(text, mac, changes, file)),
    adoptNode: (node: NodeFields) =>
      write((text) => {
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
