import { switchPortText } from '../net/switch-port.js';
import { parseArgs } from 'node:util';
import { configPath, loadConfigFrom } from '../config/config-path.js';
import { editConfigFile } from '../inventory/config-file.js';
import { adoptNode } from '../inventory/adopt.js';
import { notInInventory } from '../inventory/discovered.js';
import { readDiscoveredMachines } from '../app/state-backend.js';
import { addNode, addProfile, removeNode, removeProfile, setNode, setProfile, type NodeChanges, type ProfileChanges } from '../inventory/editor.js';
import { DisklessError } from '../errors/diskless-error.js';

const NODE_HELP = `Usage: diskless node add --mac MAC [--hostname H] [--address IP] [--profile P]
                       [--cmdline ARGS] [--loader ipxe|pxelinux|grub] [--config FILE]
       diskless node set MAC [--hostname H] [--address IP] [--profile P] [--cmdline ARGS]
                       [--loader L] [--unset KEY,KEY] [--config FILE]
       diskless node rm MAC [--config FILE]
       diskless node list [--config FILE]
       diskless node discovered [--config FILE]
       diskless node adopt MAC --hostname H [--profile P] [--address IP] [--config FILE]

Edits the nodes of the config in place: comments and layout are kept, the file is locked
and replaced atomically, and an edit that would make the config invalid is refused.
A running "diskless serve" picks changes up within a second (no restart).

"discovered" lists machines not in the config that asked this server for an address or a
boot script; "adopt" adds one of them as a node (profile: default_profile unless given).
With dhcp.unknown_clients: register such a machine waits and boots once adopted.
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
  const o: Record<string, { type: 'string' | 'boolean'; short?: string }> = { config: { type: 'string', short: 'c' }, unset: { type: 'string' }, mac: { type: 'string' }, help: { type: 'boolean', short: 'h' } };
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
  const mac = positionals[0] ?? (typeof values['mac'] === 'string' ? values['mac'] : undefined);
  switch (sub) {
    case 'list': {
      const c = loadConfigFrom(file);
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
      const c = loadConfigFrom(file);
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
      await editConfigFile(file, (text) => adoptNode(text, spec, (m) => seen.has(m), file));
      process.stdout.write(`adopted ${mac} as ${hostname} in ${file}\n`);
      return 0;
    }
    case 'add': {
      if (!mac) throw new DisklessError('DL_INVALID', 'node add: --mac MAC is required');
      const spec = { mac, ...(changesFrom(values, NODE_KEYS) as Record<string, string>) };
      await editConfigFile(file, (text) => addNode(text, spec, file));
      process.stdout.write(`added node ${mac} to ${file}\n`);
      return 0;
    }
    case 'set': {
      if (!mac) throw new DisklessError('DL_INVALID', 'node set: the MAC of the node is required');
      const changes = changesFrom(values, NODE_KEYS) as NodeChanges;
      if (Object.keys(changes).length === 0) throw new DisklessError('DL_INVALID', 'node set: nothing to change (give --hostname, --address, --profile, --cmdline, --loader or --unset)');
      await editConfigFile(file, (text) => setNode(text, mac, changes, file));
      process.stdout.write(`updated node ${mac} in ${file}\n`);
      return 0;
    }
    case 'rm': {
      if (!mac) throw new DisklessError('DL_INVALID', 'node rm: the MAC of the node is required');
      await editConfigFile(file, (text) => removeNode(text, mac, file));
      process.stdout.write(`removed node ${mac} from ${file}\n`);
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
      const c = loadConfigFrom(file);
      for (const p of c.profiles.values()) {
        process.stdout.write(`${p.name.padEnd(14)} ${p.loader.padEnd(9)} ${p.root ? `root=${p.root.mode}` : 'no root'}  kernel ${p.kernel}\n`);
      }
      return 0;
    }
    case 'add':
    case 'set': {
      if (!name) throw new DisklessError('DL_INVALID', `profile ${sub}: the profile NAME is required`);
      const changes = changesFrom(values, PROFILE_KEYS) as ProfileChanges;
      await editConfigFile(file, (text) => (sub === 'add' ? addProfile(text, name, changes as Parameters<typeof addProfile>[2], file) : setProfile(text, name, changes, file)));
      process.stdout.write(`${sub === 'add' ? 'added' : 'updated'} profile ${name} in ${file}\n`);
      return 0;
    }
    case 'rm': {
      if (!name) throw new DisklessError('DL_INVALID', 'profile rm: the profile NAME is required');
      await editConfigFile(file, (text) => removeProfile(text, name, file));
      process.stdout.write(`removed profile ${name} from ${file}\n`);
      return 0;
    }
    default:
      process.stderr.write(`diskless profile: unknown subcommand "${sub}"\n\n${PROFILE_HELP}`);
      return 2;
  }
}
