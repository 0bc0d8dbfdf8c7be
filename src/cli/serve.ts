import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import { jsonLogger } from '../log/logger.js';
import { startServices } from '../app/services.js';
import { batchPerTurn } from '../log/turn-batch.js';

const HELP = `Usage: diskless serve [--config FILE] [--debug]

Runs every service for the machines in FILE until SIGINT or SIGTERM
(FILE: --config, else $DISKLESS_CONFIG, else /etc/diskless/diskless.yaml):
DHCP (dhcp.mode full or proxy; none with off), TFTP and HTTP.
Logs one JSON line per DHCP, TFTP and HTTP event on stderr.
Edits of FILE (by hand or by "diskless node ...") apply to nodes and profiles at once;
changed server and dhcp settings are logged as needing a restart.
`;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, debug: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = loadConfigFrom(values.config);
  const lines = batchPerTurn((chunk) => process.stderr.write(chunk));
  process.once('exit', () => lines.flush());
  const logger = jsonLogger((l) => lines.write(l), values.debug ? 'debug' : 'info');
  const services = await startServices(config, { logger });
  logger.log('info', 'serving', { service: 'diskless', config: config.file, address: config.server.address, dhcp: config.dhcp.mode });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.log('info', 'stopping', { service: 'diskless', signal });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await services.stop();
  logger.log('info', 'stopped', { service: 'diskless' });
  return 0;
}
