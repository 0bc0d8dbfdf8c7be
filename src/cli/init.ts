import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { configPath } from '../config/config-path.js';
import { parseConfig } from '../config/load.js';
import { starterConfig } from '../config/starter.js';
import { DisklessError } from '../errors/diskless-error.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { sameSubnet } from '../net/ipv4.js';
import { defaultGateways, hostInterfaces, interfaceAddress, resolverSettings } from '../net/host-network.js';
import { probeDhcpServers, type DhcpResponder } from '../protocols/dhcp/probe.js';

const HELP = `Usage: diskless init --interface IF [--config FILE] [--wait SECONDS]

Writes a commented starter config for serving the LAN on interface IF: this host's address
there, the subnet, a dynamic pool, the default gateway and name servers (from the host's own
settings). It first asks the LAN for DHCP servers (one DISCOVER out of IF, answers collected
for --wait seconds, default 5): when another server answers, the config uses proxy mode
beside it. Refuses to overwrite an existing file.
FILE: --config, else $DISKLESS_CONFIG, else /etc/diskless/diskless.yaml.
`;

export interface InitIo {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

export async function initCommand(argv: string[], io: InitIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  const { values } = parseArgs({
    args: argv,
    options: { interface: { type: 'string', short: 'i' }, config: { type: 'string', short: 'c' }, wait: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    out(HELP);
    return 0;
  }
  if (values.interface === undefined) throw new DisklessError('DL_USAGE', `init: --interface IF is required (the LAN the machines boot on)\n\n${HELP}`);
  const waitSec = Number(values.wait ?? '5');
  if (!Number.isFinite(waitSec) || waitSec < 0 || waitSec > 60) throw new DisklessError('DL_INVALID', `init: --wait must be 0 to 60 seconds (got "${values.wait}")`);
  const { path } = configPath(values.config, io.env);
  if (existsSync(path)) throw new DisklessError('DL_INVALID', `init: ${path} exists already; not overwriting it (edit it, or move it away first)`);
  const iface = interfaceAddress(values.interface);
  if (iface === undefined) {
    const known = hostInterfaces().map((i) => `${i.name} (${i.address}/${i.prefix})`).join(', ') || 'none';
    throw new DisklessError('DL_INVALID', `init: interface ${values.interface} does not exist or has no IPv4 address (interfaces with one: ${known})`);
  }

  let others: DhcpResponder[] = [];
  if (waitSec > 0) {
    try {
      // Ourselves, already serving on this address, is not "another" server.
      others = (await probeDhcpServers({ interface: iface.name, mac: iface.mac, waitMs: waitSec * 1000, pxe: true })).filter((r) => r.serverId !== iface.address);
    } catch (e) {
      err(`diskless init: could not ask ${iface.name} for DHCP servers (${(e as Error).message}); assuming none: check with "diskless doctor"\n`);
    }
  }
  const router = defaultGateways().find((g) => g.interface === iface.name && sameSubnet(g.gateway, iface.address, iface.netmask))?.gateway;
  const resolver = resolverSettings();
  const text = starterConfig({
    interface: iface.name,
    address: iface.address,
    prefix: iface.prefix,
    ...(router !== undefined ? { router } : {}),
    dns: resolver.nameservers,
    ...(resolver.domain !== undefined ? { domain: resolver.domain } : {}),
    otherDhcpServers: others,
    hostname: hostname(),
    date: (io.now?.() ?? new Date()).toISOString().slice(0, 10),
  });
  // What init writes must load: a bug here must not leave the admin a config serve refuses.
  parseConfig(text, path);
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  try {
    await writeFileAtomic(path, text, { noReplace: true, mode: 0o644 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new DisklessError('DL_INVALID', `init: ${path} appeared meanwhile; not overwriting it`);
    throw e;
  }
  const mode = others.length > 0
    ? `dhcp.mode proxy: ${others.map((o) => o.serverId).join(', ')} already answers DHCP on ${iface.name}`
    : `dhcp.mode full: no other DHCP server answered on ${iface.name}`;
  out(`wrote ${path} (${mode})\nnext: build and publish an image (see the file), check with "diskless doctor", then start "diskless serve"\n`);
  return 0;
}
