import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import type { DisklessConfig } from '../config/types.js';
import { formatResult, runDoctor } from '../doctor/doctor.js';
import { DisklessError } from '../errors/diskless-error.js';

const HELP = `Usage: diskless doctor [--config FILE] [--wait SECONDS]

Checks this host and its LAN before the first boot and after every change, one line per
check (OK, WARN or FAIL, and what to do): the config; server.interface and its address;
other DHCP servers on that interface (one DISCOVER, answers collected for --wait seconds,
default 5); the ports the services bind (free, or held by diskless serve); the iPXE and
pxelinux loaders; every profile's image (published, files readable) or files, and with a state
database whether every live boot server holds those images' published versions; free disk
for state_dir; firewall rules (nft or iptables) that would drop the boot ports; the clock.
Exits 1 when a check fails. Run it as root on the boot server.
`;

export async function doctorCommand(argv: string[], out = (s: string) => void process.stdout.write(s)): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, wait: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    out(HELP);
    return 0;
  }
  const waitSec = Number(values.wait ?? '5');
  if (!Number.isFinite(waitSec) || waitSec < 0.1 || waitSec > 60) throw new DisklessError('DL_INVALID', `doctor: --wait must be 0.1 to 60 seconds (got "${values.wait}")`);
  let config: DisklessConfig | Error;
  try {
    config = loadConfigFrom(values.config);
  } catch (e) {
    if (!(e instanceof DisklessError)) throw e;
    config = e;
  }
  const results = await runDoctor({ config, dhcpWaitMs: waitSec * 1000 });
  for (const r of results) out(`${formatResult(r)}\n`);
  const failed = results.filter((r) => r.status === 'FAIL').length;
  const warned = results.filter((r) => r.status === 'WARN').length;
  out(failed ? `${failed} check(s) failed, ${warned} warning(s)\n` : warned ? `all checks passed, ${warned} warning(s)\n` : 'all checks passed\n');
  return failed ? 1 : 0;
}
