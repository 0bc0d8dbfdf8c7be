import { readFile, stat } from 'node:fs/promises';
import type { DisklessConfig, FileSpec, NodeConfig } from '../config/types.js';
import type { NodeFile } from '../secrets/secret-store.js';
import { mergeFileSpecs } from '../config/node-files.js';
import { renderTemplate, type TemplateValues } from '../config/template.js';
import { bootServerAddress, domainFor } from '../config/subnets.js';

const MAX_SOURCE = 16 * 1024 * 1024;

/**
 * The template facts for one node booting on the machine `mac` (its own MAC, or whichever
 * machine is on its switch port); `address` is where it asked from if it has no reservation.
 */
export function templateValues(config: DisklessConfig, node: NodeConfig, mac: string, peerIp: string): TemplateValues {
  const hostname = node.hostname ?? `node-${mac.replace(/:/g, '')}`;
  const address = node.address ?? peerIp.replace(/^::ffff:/i, '');
  // The node's subnet decides, as it did for its DHCP answer and boot script.
  const domain = domainFor(config, address) ?? '';
  return {
    hostname,
    fqdn: domain && !hostname.includes('.') ? `${hostname}.${domain}` : hostname,
    mac,
    address,
    profile: node.profile,
    domain,
    server: bootServerAddress(config, address),
  };
}

/**
 * The profile's and node's `files:` for one node, rendered. Sources are read at every boot, so
 * editing a file on the server needs no reload; a missing one fails the bundle loudly rather
 * than booting a node without, say, its sssd.conf.
 */
export async function configuredNodeFiles(config: DisklessConfig, node: NodeConfig, mac: string, peerIp: string): Promise<NodeFile[]> {
  const profile = config.profiles.get(node.profile);
  const specs = mergeFileSpecs(profile?.files ?? [], node.files ?? []);
  const values = templateValues(config, node, mac, peerIp);
  return Promise.all(specs.map((s) => renderSpec(s, values)));
}

async function renderSpec(spec: FileSpec, values: TemplateValues): Promise<NodeFile> {
  let content: Buffer;
  if (spec.source !== undefined) {
    const st = await stat(spec.source).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`per-node file ${spec.path}: cannot read source ${spec.source}: ${e.code ?? e.message}`);
    });
    if (!st.isFile()) throw new Error(`per-node file ${spec.path}: source ${spec.source} is not a regular file`);
    if (st.size > MAX_SOURCE) throw new Error(`per-node file ${spec.path}: source ${spec.source} is over ${MAX_SOURCE / 1048576} MiB`);
    content = await readFile(spec.source);
  } else content = Buffer.from(spec.content ?? '', 'utf8');
  if (spec.template) {
    try {
      content = Buffer.from(renderTemplate(content.toString('utf8'), values), 'utf8');
    } catch (e) {
      throw new Error(`per-node file ${spec.path}: ${(e as Error).message}`);
    }
  }
  return { path: spec.path, mode: spec.mode, content };
}
