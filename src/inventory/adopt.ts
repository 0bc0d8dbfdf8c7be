import { parseDocument } from 'yaml';
import { normalizeMac } from '../net/mac.js';
import { addNode, InventoryError } from './editor.js';

export interface AdoptSpec {
  mac: string;
  hostname: string;
  /** Defaults to the config's default_profile. */
  profile?: string | undefined;
  address?: string | undefined;
}

/**
 * `node add` for a machine that has booted here and been recorded as discovered: the same
 * checked, comment-keeping edit, plus the check that this MAC really was seen, so a typo in a
 * MAC adds nothing. `wasDiscovered` reads the discovered store (adopted machines included).
 */
export function adoptNode(text: string, spec: AdoptSpec, wasDiscovered: (mac: string) => boolean, file?: string): string {
  const mac = normalizeMac(spec.mac);
  if (!mac) throw new InventoryError('DL_INVENTORY', `"${spec.mac}" is not a MAC address (use 52:54:00:12:34:56)`);
  if (!wasDiscovered(mac)) {
    throw new InventoryError('DL_INVENTORY_NOT_FOUND', `${mac} has not been discovered (see "diskless node discovered"); to add a machine that has not asked this server yet: diskless node add --mac ${mac} --hostname ${spec.hostname}`);
  }
  const defaultProfile = parseDocument(text).get('default_profile');
  const profile = spec.profile ?? (typeof defaultProfile === 'string' ? defaultProfile : undefined);
  return addNode(text, { mac, hostname: spec.hostname, address: spec.address, profile }, file);
}
