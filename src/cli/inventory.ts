import { switchPortText } from '../net/switch-port.js';
import { parseArgs } from 'node:util';
import { configPath, loadConfigFrom } from '../config/config-path.js';
import { editInventory, servedConfig } from '../app/inventory-writes.js';
import { adoptNode } from '../inventory/adopt.js';
import { notInInventory } from '../inventory/discovered.js';
import { readDiscoveredMachines } from '../app/state-backend.js';
import { addNode, addProfile, removeNode, removeProfile, setNode, setProfile, type NodeChanges, type NodeSpec, type ProfileChanges, type SwitchPortSpec } from '../inventory/editor.js';
import { DisklessError } from '../errors/diskless-error.js';

const NODE_HELP = `Usage: diskless node add --mac MAC [--hostname H] [--address IP] [--profile P]
                       [--cmdline ARGS] [--loader ipxe|pxelinux|grub] [--config FILE]
       diskless node add --circuit-id ID [--remote-id ID] --hostname H [same options]
       diskless node set NODE [--hostname H] [--address IP] [--profile P] [--cmdline ARGS]
                       [--loader L] [--mac MAC] [--circuit-id ID [--remote-id ID]]
                       [--unset KEY,KEY] [--config FILE]
       diskless node rm NODE [--config FILE]
       diskless node list [--config FILE]
       diskless node discovered [--config FILE]
       diskless node adopt MAC --hostname H [--profile P] [--address IP] [--config FILE]

Edits the nodes of the config in place: comments and layout are kept, the file is locked
and replaced atomically, and an edit that would make the config invalid is refused.
A running "diskless serve" picks changes up within a second (no restart).

"discovered" lists machines not in the config that asked this server for an address or a
boot script; "adopt" adds one of them as a node (profile: default_profile unless given).
With dhcp.unknown_clients: register such a machine waits and boots once adopted.

NODE is the node's MAC or, for a node known by its switch port only, host:HOSTNAME.
--circuit-id and --remote-id give the switch port its DHCP relay reports (option 82; text,
or 0x and hex); such a node is whichever machine is on that port. --unset switch_port or
--unset mac removes one, as long as the node keeps the other.
`;

const PROFILE_HELP = `Usage: diskless profile add NAME [--inherits P] [--kernel K] [--initrd I,I] [--cmdline ARGS]
                          [--loader L] [--config FILE]
       diskless profile set NAME [same options] [--unset KEY,KEY] [--config FILE]
       diskless profile rm NAME [--config FILE]
       diskless profile list [--config FILE]
`;

const NODE_KEYS = ['hostname', 'address', 'profile', 'cmdline', 'loader'] as const;
const PROFILE_KEYS = ['inherits', 'kernel', 'initrd', 'cmdline', 'loader'] as const;

function options(keys: readonly string[]) {
  const o: Record<string, { type: 'string' | 'boolean'; short?: string }> = { config: { type: 'string', short: 'c' }, unset: { type: 'string' }, mac: { type: 'string' }, 'circuit-id': { type: 'string' }, 'remote-id': { type: 'string' }, help: { type: 'boolean', short: 'h' } };
  for (const k of keys) o[k] = { type: 'string' };
  return o;
}

function changesFrom(values: Record<string, string | boolean | undefined>, keys: readonly string[]): Record<string, string | string[] | null> {
  const changes: Record<string, string | string[] | null> = {};
  for (const k of keys) {
    const v = values[k];
    if (typeof v === 'string') changes[k] = k === 'initrd' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
  }
  const unset = typeof values['unset'] === 'string' ? values['unset'].split(',').map((s) => s.trim()).filter(Boolean) : [];
  for (const k of unset) {
    if (!keys.includes(k)) throw new DisklessError('DL_INVALID', `--unset: "${k}" is not one of ${keys.join(', ')}`);
    changes[k] = null;
  }
  return changes;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** --circuit-id and --remote-id as a switch port; undefined when neither is given. */
function switchPortOption(values: Record<string, unknown>, sub: string): SwitchPortSpec | undefined {
  const circuitId = str(values['circuit-id']);
  const remoteId = str(values['remote-id']);
  if (circuitId === undefined && remoteId === undefined) return undefined;
  if (circuitId === undefined) throw new DisklessError('DL_INVALID', `node ${sub}: --remote-id needs --circuit-id (the port on that switch)`);
  return { circuitId, ...(remoteId !== undefined ? { remoteId } : {}) };
}

function configFile(values: Record<string, unknown>): string {
  return configPath(typeof values['config'] === 'string' ? values['config'] : undefined).path;
}

export async function nodeCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, options: options(NODE_KEYS), allowPositionals: true, strict: true });
  if (values['help'] || sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    process.stdout.write(NODE_HELP);
    return sub === undefined ? 2 : 0;
  }
  const file = configFile(values);
  // add takes the MAC from --mac; set and rm name the node first (its MAC or host:NAME).
  const mac = positionals[0] ?? (sub !== 'set' && typeof values['mac'] === 'string' ? values['mac'] : undefined);
  switch (sub) {
    case 'list': {
      const c = await servedConfig(file);
      process.stdout.write(`${'MAC'.padEnd(18)} ${'HOSTNAME'.padEnd(16)} ${'ADDRESS'.padEnd(15)} ${'PROFILE'.padEnd(12)} LOADER\n`);
      for (const n of c.nodes) {
        const loader = n.loader ?? c.profiles.get(n.profile)?.loader ?? 'ipxe';
        // A node known by its switch port has no MAC of its own: its port stands there.
        const who = n.mac ?? (n.switchPort ? switchPortText(n.switchPort) : '-');
        process.stdout.write(`${who.padEnd(18)} ${(n.hostname ?? '-').padEnd(16)} ${(n.address ?? 'pool').padEnd(15)} ${n.profile.padEnd(12)} ${loader}\n`);
      }
      return 0;
    }
    case 'discovered': {
      const c = await servedConfig(file);
      const machines = notInInventory(await readDiscoveredMachines(c), (m) => c.nodes.some((n) => n.mac === m));
      process.stdout.write(`${'MAC'.padEnd(18)} ${'ARCH'.padEnd(12)} ${'VENDOR CLASS'.padEnd(34)} ${'LAST SEEN'.padEnd(20)} COUNT\n`);
      for (const m of machines) {
        const seen = `${m.lastSeen.slice(0, 10)} ${m.lastSeen.slice(11, 19)}Z`;
        process.stdout.write(`${m.mac.padEnd(18)} ${(m.arch ?? '-').padEnd(12)} ${(m.vendorClass ?? '-').padEnd(34)} ${seen.padEnd(20)} ${m.count}\n`);
      }
      return 0;
    }
    case 'adopt': {
      if (!mac) throw new DisklessError('DL_INVALID', 'node adopt: the MAC of a discovered machine is required');
      const hostname = values['hostname'];
      if (typeof hostname !== 'string') throw new DisklessError('DL_INVALID', 'node adopt: --hostname H is required');
      const seen = new Set((await readDiscoveredMachines(loadConfigFrom(file))).map((m) => m.mac));
      const spec = { mac, hostname, profile: str(values['profile']), address: str(values['address']) };
      const where = await editInventory(file, (text, f) => adoptNode(text, spec, (m) => seen.has(m), f));
      process.stdout.write(`adopted ${mac} as ${hostname} in ${where}\n`);
      return 0;
    }
    case 'add': {
      const port = switchPortOption(values, 'add');
      if (!mac && !port) throw new DisklessError('DL_INVALID', 'node add: --mac MAC (or --circuit-id ID for a node known by its switch port) is required');
      const spec: NodeSpec = { ...(mac ? { mac } : {}), ...(port ? { switchPort: port } : {}), ...(changesFrom(values, NODE_KEYS) as Record<string, string>) };
      const where = await editInventory(file, (text, f) => addNode(text, spec, f));
      const name = mac ?? `host:${spec.hostname ?? ''}`;
      process.stdout.write(`added node ${name} to ${where}\n`);
      return 0;
    }
    case 'set': {
      if (!mac) throw new DisklessError('DL_INVALID', 'node set: the node is required (its MAC, or host:NAME for a node known by its switch port)');
      const changes = changesFrom(values, [...NODE_KEYS, 'mac', 'switch_port']) as NodeChanges & { switch_port?: null };
      const port = switchPortOption(values, 'set');
      if (port) changes.switchPort = port;
      if ('switch_port' in changes) {
        delete changes.switch_port;
        if (port) throw new DisklessError('DL_INVALID', 'node set: --circuit-id and --unset switch_port contradict each other');
        changes.switchPort = null;
      }
      if (Object.keys(changes).length === 0) throw new DisklessError('DL_INVALID', 'node set: nothing to change (give --hostname, --address, --profile, --cmdline, --loader, --mac, --circuit-id or --unset)');
      const where = await editInventory(file, (text, f) => setNode(text, mac, changes, f));
      process.stdout.write(`updated node ${mac} in ${where}\n`);
      return 0;
    }
    case 'rm': {
      if (!mac) throw new DisklessError('DL_INVALID', 'node rm: the node is required (its MAC, or host:NAME for a node known by its switch port)');
      const where = await editInventory(file, (text, f) => removeNode(text, mac, f));
      process.stdout.write(`removed node ${mac} from ${where}\n`);
      return 0;
    }
    default:
      process.stderr.write(`diskless node: unknown subcommand "${sub}"\n\n${NODE_HELP}`);
      return 2;
  }
}

export async function profileCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, options: options(PROFILE_KEYS), allowPositionals: true, strict: true });
  if (values['help'] || sub === undefined || sub === 'help') {
    process.stdout.write(PROFILE_HELP);
    return sub === undefined ? 2 : 0;
  }
  const file = configFile(values);
  const name = positionals[0];
  switch (sub) {
    case 'list': {
      const c = await servedConfig(file);
      for (const p of c.profiles.values()) {
        process.stdout.write(`${p.name.padEnd(14)} ${p.loader.padEnd(9)} ${p.root ? `root=${p.root.mode}` : 'no root'}  kernel ${p.kernel}\n`);
      }
      return 0;
    }
    case 'add':
    case 'set': {
      if (!name) throw new DisklessError('DL_INVALID', `profile ${sub}: the profile NAME is required`);
      const changes = changesFrom(values, PROFILE_KEYS) as ProfileChanges;
      const where = await editInventory(file, (text, f) => (sub === 'add' ? addProfile(text, name, changes as Parameters<typeof addProfile>[2], f) : setProfile(text, name, changes, f)));
      process.stdout.write(`${sub === 'add' ? 'added' : 'updated'} profile ${name} in ${where}\n`);
      return 0;
    }
    case 'rm': {
      if (!name) throw new DisklessError('DL_INVALID', 'profile rm: the profile NAME is required');
      const where = await editInventory(file, (text, f) => removeProfile(text, name, f));
      process.stdout.write(`removed profile ${name} from ${where}\n`);
      return 0;
    }
    default:
      process.stderr.write(`diskless profile: unknown subcommand "${sub}"\n\n${PROFILE_HELP}`);
      return 2;
  }
}
