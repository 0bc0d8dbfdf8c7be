import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import { DisklessError } from '../errors/diskless-error.js';
import { checkPasswordFile, ipmitoolArgv, POWER_ACTIONS, type PowerAction } from '../power/ipmi.js';
import { DEFAULT_POWER_PARALLEL, findNode, powerNodes, selectTargets, type PowerResult } from '../power/power.js';
import { run } from '../process/run.js';

const POWER_HELP = `Usage: diskless power on|off|cycle|status NODE... [--config FILE] [--parallel N]
       diskless power on|off|cycle|status --profile P | --all

Drives the nodes' BMCs over IPMI (ipmitool -I lanplus), as set in the config:
  profiles: { compute: { power: { user: admin, password_file: /etc/diskless/bmc.pass } } }
  nodes: [ { mac: …, hostname: n1, profile: compute, power: { ipmi: 10.0.1.21 } } ]
NODE is a host name or a MAC. Naming no node is an error: --all says "every node" explicitly.
At most --parallel BMCs (default ${DEFAULT_POWER_PARALLEL}) are asked at once; each node gets one line with
its result. "cycle" powers on a node that is off. Exits 1 when any node failed.
`;

const CONSOLE_HELP = `Usage: diskless console NODE [--config FILE]

Attaches this terminal to the node's serial console through its BMC (IPMI Serial-over-LAN,
ipmitool sol activate). A session left open by an earlier console is closed first.
Type ~. at the start of a line to leave.
`;

export async function powerCommand(argv: string[], out = (s: string) => void process.stdout.write(s)): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || action === '--help' || action === '-h' || action === 'help') {
    out(POWER_HELP);
    return action === undefined ? 2 : 0;
  }
  if (!(POWER_ACTIONS as readonly string[]).includes(action)) throw new DisklessError('DL_USAGE', `power: unknown action "${action}" (on, off, cycle or status)\n\n${POWER_HELP}`);
  const { values, positionals } = parseArgs({
    args: rest,
    options: { config: { type: 'string', short: 'c' }, profile: { type: 'string' }, all: { type: 'boolean' }, parallel: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    out(POWER_HELP);
    return 0;
  }
  const parallel = Number(values.parallel ?? DEFAULT_POWER_PARALLEL);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 256) throw new DisklessError('DL_INVALID', `power: --parallel must be a whole number from 1 to 256 (got "${values.parallel}")`);
  const config = loadConfigFrom(values.config);
  const targets = selectTargets(config, { names: positionals, ...(values.profile !== undefined ? { profile: values.profile } : {}), ...(values.all ? { all: true } : {}) });
  const width = Math.max(...targets.map((t) => t.name.length));
  const line = (r: PowerResult) => `${r.target.name.padEnd(width)}  ${r.ok ? 'ok    ' : 'FAILED'}  ${r.detail}\n`;
  const results = await powerNodes(targets, action as PowerAction, { parallel, onResult: (r) => out(line(r)) });
  const failed = results.filter((r) => !r.ok).length;
  if (targets.length > 1) out(failed ? `${failed} of ${targets.length} node(s) failed\n` : `${targets.length} node(s): ok\n`);
  return failed ? 1 : 0;
}

export async function consoleCommand(argv: string[], err = (s: string) => void process.stderr.write(s)): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(CONSOLE_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new DisklessError('DL_USAGE', `console: name exactly one node\n\n${CONSOLE_HELP}`);
  const config = loadConfigFrom(values.config);
  const node = findNode(config, positionals[0]!);
  if (!node) throw new DisklessError('DL_INVENTORY_NOT_FOUND', `no node ${positionals[0]} in ${config.file} (diskless node list shows them)`);
  if (!node.power) throw new DisklessError('DL_INVALID', `node ${positionals[0]} has no BMC: give it power.ipmi (and user, password_file, here or in its profile)`);
  await checkPasswordFile(node.power.passwordFile);
  // A console killed without ~. leaves its session open, and the BMC then refuses a new one.
  await run(ipmitoolArgv(node.power, ['sol', 'deactivate']), { check: false, timeoutMs: 30_000 });
  err(`console of ${node.hostname ?? node.mac} through its BMC ${node.power.ipmi}; ~. leaves\n`);
  const r = await run(ipmitoolArgv(node.power, ['sol', 'activate']), { terminal: true, check: false });
  return r.code === 0 ? 0 : 1;
}
