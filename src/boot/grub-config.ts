import { normalizeMac } from '../net/mac.js';
import { bootIfArg, grubConfigPath, pxelinuxMacName } from './urls.js';
import type { BootTarget } from './boot-target.js';
import { bootWordProblem, inertText, KERNEL_CMDLINE_MAX, kernelArgsProblem } from '../config/kernel-args.js';

/**
 * GRUB configs for the signed chain (shim → GRUB's network image → kernel). GRUB reads
 * PREFIX/grub.cfg (grubConfigPath()), which finds the machine's own config by the MAC it booted
 * from, grub.cfg-01-MAC: the names a searching GRUB asks for itself. That config loads the
 * kernel and initrds with the same command line as the iPXE script, BOOTIF and the secrets
 * token included, and retries a failed download every 10 seconds instead of returning to the
 * firmware.
 *
 * GRUB's scripting (manual, "Shell-like scripting"): words end at blanks and at { } | & $ ; < >,
 * "#" starts a comment, \ ' " quote, and with the regexp module (built into Debian's image)
 * * ? [ ] expand as file names. Every value here is written inside single quotes, within which
 * GRUB reads nothing as syntax; a single quote cannot occur in one (kernel-args.ts refuses it
 * in paths and arguments, inertText replaces it in free text), so none can end its quotes.
 */

/** A word for GRUB's lexer: single-quoted, after the same check as every loader's words. */
function quoted(what: string, word: string): string {
  const problem = bootWordProblem(word);
  if (problem) throw new Error(`Cannot write the GRUB config: the ${what} ${problem}`);
  return `'${word}'`;
}

/** Free text for echo and comments: inert, then single-quoted (inertText leaves no quote in it). */
function text(free: string): string {
  return `'${inertText(free)}'`;
}

const HEADER = '# Generated from the Diskless inventory: edit the config, not this file.';

/**
 * The config of one machine: `device` is where GRUB fetches files, "(http,ADDRESS)" or
 * "(tftp,ADDRESS)" (urls.ts: grubServerDevice); `peerDevices` the other live boot servers',
 * tried in turn when a download from the one before failed (shared state only).
 */
export function renderGrubConfig(target: BootTarget, device: string, peerDevices: readonly string[] = []): string {
  const { profile, mac, node } = target;
  const args = [target.cmdline, bootIfArg(mac)].filter(Boolean).join(' ');
  const devices = [device, ...peerDevices];
  const kernels = devices.map((d) => quoted('kernel path', `${d}/${target.kernel}`));
  for (const d of devices) {
    // GRUB's linux command puts BOOT_IMAGE=PATH in front of the arguments it passes on.
    const added = `BOOT_IMAGE=${d}/${target.kernel} `.length + (args.length - target.cmdline.length);
    const problem = kernelArgsProblem(target.cmdline, KERNEL_CMDLINE_MAX - added);
    if (problem) throw new Error(`Cannot write the GRUB config: the kernel command line ${problem}`);
  }
  const words = args.split(' ').filter(Boolean).map((w) => quoted('kernel argument', w));
  const attempts = devices.flatMap((d, i) => {
    const kernel = kernels[i]!;
    const initrds = target.initrds.map((p) => quoted('initrd path', `${d}/${p}`));
    return [
      `  if linux ${kernel} ${words.join(' ')}; then`,
      ...(initrds.length > 0
        ? [`    if initrd ${initrds.join(' ')}; then`, '      boot', '    fi']
        : ['    boot']),
      '  fi',
    ];
  });
  const who = node ? (node.hostname ? `${node.hostname} (${mac})` : mac) : `unknown machine ${mac}`;
  return [
    `# Diskless GRUB config for ${inertText(who)}, profile ${inertText(profile.name)}.`,
    HEADER,
    'while true; do',
    `  echo ${text(`Diskless: booting ${who} with profile ${profile.name}`)}`,
    ...attempts,
    `  echo ${text('Diskless: boot failed, retrying in 10 seconds')}`,
    '  sleep 10',
    'done',
    '',
  ].join('\n');
}

/**
 * A message, then, once per boot, a loop that reads the machine's own config again every 30 s:
 * when it has become bootable the source boots it; until then the config it reads says the
 * same again and returns to this loop (the flag keeps the loops from nesting).
 */
function waitingConfig(mac: string, lines: string[]): string {
  return [
    ...lines.map((l) => `echo ${text(l)}`),
    // test, not [ … ]: an unquoted [ is a file-name pattern to GRUB's wildcard expansion.
    'if test "$diskless_waiting" != y; then',
    '  set diskless_waiting=y',
    '  while true; do',
    `    echo ${text('Diskless: checking again in 30 seconds.')}`,
    '    sleep 30',
    `    source "$prefix/grub.cfg-${pxelinuxMacName(mac)}"`,
    '  done',
    'fi',
    '',
  ].join('\n');
}

/** A known machine that cannot boot right now (e.g. its image is not published): say why, retry. */
export function renderGrubProblemConfig(macText: string, problem: string): string {
  const mac = macOnly(macText);
  return [`# Diskless: ${mac} cannot boot yet.`, HEADER, waitingConfig(mac, [`Diskless: ${mac} cannot boot yet: ${problem}`])].join('\n');
}

/** For an unknown machine under `unknown_clients: register`: listed as discovered, it asks again every 30 s. */
export function renderGrubDiscoveredConfig(macText: string): string {
  const mac = macOnly(macText);
  return [
    `# Diskless: unknown machine ${mac}, waiting to be adopted.`,
    HEADER,
    waitingConfig(mac, [
      `Diskless: this machine (${mac}) is not in the inventory.`,
      `Diskless: registered as discovered, waiting for: diskless node adopt ${mac}`,
    ]),
  ].join('\n');
}

/** For a machine the inventory does not know and may not boot: say so, then back to the firmware. */
export function renderGrubUnknownConfig(macText: string): string {
  const mac = macOnly(macText);
  return [
    `# Diskless: ${mac} is not in the inventory.`,
    HEADER,
    `echo ${text(`Diskless: this machine (${mac}) is not in the inventory and unknown machines are denied.`)}`,
    `echo ${text('Add it to the nodes list of the Diskless config, then reboot it.')}`,
    'sleep 30',
    'exit',
    '',
  ].join('\n');
}

/**
 * PREFIX/grub.cfg, the same for every machine: Debian's network image reads only this name, so
 * it loads the machine's own config by the MAC GRUB booted from ($net_default_mac, written
 * aa:bb:cc:dd:ee:ff by GRUB), under the name a searching GRUB would have tried first.
 */
export function renderGrubBootstrapConfig(): string {
  const parts = ['a', 'b', 'c', 'd', 'e', 'f'];
  const sets = parts.map((p, i) => `--set=${i + 1}:diskless_${p}`).join(' ');
  const name = `grub.cfg-01-${parts.map((p) => `$diskless_${p}`).join('-')}`;
  return [
    `# Diskless: GRUB reads this first; each machine's own config is ${grubConfigPath('01-MAC')}.`,
    HEADER,
    `if regexp ${sets} '^([0-9a-f][0-9a-f]):([0-9a-f][0-9a-f]):([0-9a-f][0-9a-f]):([0-9a-f][0-9a-f]):([0-9a-f][0-9a-f]):([0-9a-f][0-9a-f])$' "$net_default_mac"; then`,
    `  source "$prefix/${name}"`,
    'fi',
    `echo ${text('Diskless: GRUB did not name the network card it booted from (net_default_mac), so this machine cannot be told apart.')}`,
    'sleep 30',
    'exit',
    '',
  ].join('\n');
}

function macOnly(text: string): string {
  const mac = normalizeMac(text);
  if (mac === undefined) throw new Error(`Cannot write a GRUB config for ${JSON.stringify(text)}: not a MAC address`);
  return mac;
}
