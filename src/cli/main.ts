#!/usr/bin/env node
import { DisklessError } from '../errors/diskless-error.js';
import { reportError } from './error-report.js';
import { serveCommand } from './serve.js';
import { labCommand } from './lab.js';
import { initrdCommand } from './initrd.js';
import { nodeCommand, profileCommand } from './inventory.js';
import { inventoryCommand } from './inventory-db.js';
import { imageCommand } from './image.js';
import { secretsCommand } from './secrets.js';
import { statusCommand } from './status.js';
import { eventsCommand } from './events.js';
import { initCommand } from './init.js';
import { doctorCommand } from './doctor.js';
import { consoleCommand, powerCommand } from './power.js';
import { rolloutCommand } from './rollout.js';

const HELP = `diskless — boot server for fleets of diskless Linux machines

Usage: diskless <command> [options]

Commands:
  init --interface IF     write a commented starter config for the LAN on IF (never overwrites)
  doctor                  check the host and the LAN: DHCP servers, ports, loaders, images, disk,
                          firewall, clock; one line per check with what to do
  serve                   run DHCP (full or proxy), TFTP and HTTP for the machines in the config
  status [NODE]           every node's boot state, stage, image and last event (from serve);
                          with NODE its latest boot and last failure report
  events [--follow] [--node N]
                          boot events, one per line; --follow streams them as they happen
  image build|list|show|publish|rollback|rm|gc|shell
                          versioned root images: a squashfs, its kernel and a network initrd
  node add|set|rm|list    edit the nodes of the config (comments kept, atomic, validated)
  node discovered|adopt   list machines not in the config that tried to boot; add one as a node
  profile add|set|rm|list edit the profiles of the config
  inventory export|import move the inventory between YAML and the state database (postgres)
  power on|off|cycle|status NODE...|--profile P|--all
                          drive the nodes' BMCs over IPMI, a few at once, one result line each
  console NODE            the node's serial console through its BMC (IPMI Serial-over-LAN)
  rollout IMAGE VERSION [--canary N] [--batch N|P%] [--max-failed N] [--timeout S]
                          move nodes to a version: canaries, then batches; failed nodes go back
  rollout status|pause|resume|abort [ID]
                          the rollout under way, as the server runs it
  secrets root-password|authorized-keys|show
                          per-node secrets, sent only to the node with its one-time boot token
  initrd build [options]  build the network initramfs from an image's own kernel modules
  lab [options]           boot a virtual diskless Debian node from this server in a private
                          network namespace and show its console (needs root and QEMU)
  help                    show this text

Every command reads /etc/diskless/diskless.yaml, or the file named by DISKLESS_CONFIG,
or the one given with --config FILE.
Run "diskless <command> --help" for the options of a command.

Exit status: 0 done, 1 failed, 2 the command line is wrong.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'init':
      return initCommand(rest);
    case 'doctor':
      return doctorCommand(rest);
    case 'serve':
      return serveCommand(rest);
    case 'status':
      return statusCommand(rest);
    case 'events':
      return eventsCommand(rest, { signal: interruptSignal() });
    case 'lab':
      return labCommand(rest);
    case 'initrd':
      return initrdCommand(rest);
    case 'image':
      return imageCommand(rest);
    case 'node':
      return nodeCommand(rest);
    case 'profile':
      return profileCommand(rest);
    case 'inventory':
      return inventoryCommand(rest);
    case 'secrets':
      return secretsCommand(rest);
    case 'power':
      return powerCommand(rest);
    case 'console':
      return consoleCommand(rest);
    case 'rollout':
      return rolloutCommand(rest, { signal: interruptSignal() });
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return cmd === undefined ? 2 : 0;
    case '--version':
      process.stdout.write('diskless 0.1.0\n');
      return 0;
    default:
      throw new DisklessError('DL_USAGE', `unknown command "${cmd}"\n\n${HELP}`);
  }
}

/** Ctrl-C ends `events --follow` cleanly rather than killing it mid-line. */
function interruptSignal(): AbortSignal {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  return ac.signal;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = reportError(e, (s) => void process.stderr.write(s));
  },
);
