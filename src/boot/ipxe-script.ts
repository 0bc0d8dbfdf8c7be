import { normalizeMac } from '../net/mac.js';
import { bootIfArg, bootScriptPath } from './urls.js';
import type { BootTarget } from './boot-target.js';
import type { BootMenu } from './boot-menu.js';
import { bootWordProblem, inertText, KERNEL_CMDLINE_MAX, kernelArgsProblem } from '../config/kernel-args.js';

/**
 * The per-MAC iPXE script, with a menu when the node or its profile lists one (`menu`: its
 * entries' targets completed). `initrd=NAME` is on the command line because the EFI stub of
 * kernels without LoadFile2 support finds its initrd by that name in iPXE's virtual filesystem;
 * BOOTIF is what pxelinux's "ipappend 2" would add, so /init finds the interface it booted from.
 * A failed download retries instead of dropping to the firmware's next boot device. With other
 * live boot servers (`peers`: their base URLs, shared state only) each file is asked of the next
 * server when one fails (`kernel A/… || kernel B/… || goto failed`), so a server that dies
 * between two files, or in the middle of one, costs that file once more, not the boot.
 *
 * Every value is checked once more here (kernel-args.ts says what iPXE reads as syntax): words
 * on the kernel and initrd lines that could end the command, start another or expand a setting
 * are refused with an Error, and free text on echo and comment lines is made inert.
 */
export function renderIpxeScript(target: BootTarget, baseUrl: string, menu?: BootMenu, peers: readonly string[] = []): string {
  const who = whoIs(target);
  const header = [
    '#!ipxe',
    `# Diskless boot script for ${who}, profile ${inertText(target.profile.name)}.`,
    '# Generated from the Diskless inventory: edit the config, not this script.',
    `set base ${baseUrl}`,
    ...peers.map((p, i) => `set peer${i + 1} ${p}`),
  ];
  refuseUnsafe([['base URL', baseUrl], ...peers.map((p): [string, string] => ['peer server URL', p])], '', 0);
  const bases = ['${base}', ...peers.map((_, i) => `\${peer${i + 1}}`)];
  if (!menu) return [...header, ...bootBlock(target, 'retry', 'failed', bases), ''].join('\n');
  // A menu: iPXE's own (menu, item, choose) shows the entries for the timeout, then boots the
  // default; a key picks an entry at once. Each entry boots from its own block, retried on failure.
  const names = new Set(menu.choices.map((c) => c.name));
  if (!names.has(menu.default)) throw new Error(`Cannot write the boot script: the menu's default ${inertText(menu.default)} is none of its entries`);
  for (const c of menu.choices) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(c.name)) throw new Error(`Cannot write the boot script: menu entry name ${inertText(c.name)} is not a label`);
    if (c.key !== undefined && !/^[a-z0-9]$/.test(c.key)) throw new Error(`Cannot write the boot script: menu key ${inertText(c.key)} is not one letter or digit`);
  }
  return [
    ...header,
    `menu Diskless boot menu: ${who}`,
    ...menu.choices.map((c) => `item${c.key ? ` --key ${c.key}` : ''} ${c.name} ${c.key ? `[${c.key}] ` : ''}${inertText(c.label)}`),
    `choose --timeout ${menu.timeoutSec * 1000} --default ${menu.default} selected || goto boot-${menu.default}`,
    'goto boot-${selected}',
    ...menu.choices.flatMap((c) => bootBlock(c.target, `boot-${c.name}`, `failed-${c.name}`, bases)),
    '',
  ].join('\n');
}

function whoIs(target: BootTarget): string {
  const { node, mac } = target;
  return inertText(node ? (node.hostname ? `${node.hostname} (${mac})` : mac) : `unknown machine ${mac}`);
}

/**
 * The lines that boot `target`, from label `start`: each file from each of `bases` (iPXE
 * settings: ${base}, then the peers') until one gives it; a failure waits and starts over.
 */
function bootBlock(target: BootTarget, start: string, failed: string, bases: readonly string[]): string[] {
  const initrds = target.initrds.map((_, i) => `initrd-${i}`);
  const args = [...initrds.map((n) => `initrd=${n}`), target.cmdline, bootIfArg(target.mac)].filter(Boolean).join(' ');
  refuseUnsafe([['kernel path', target.kernel], ...target.initrds.map((p): [string, string] => ['initrd path', p])], target.cmdline, args.length);
  return [
    `:${start}`,
    `echo Diskless: booting ${whoIs(target)} with profile ${inertText(target.profile.name)}`,
    `${bases.map((b) => `kernel ${b}/${target.kernel} ${args}`).join(' || ')} || goto ${failed}`,
    ...initrds.map((n, i) => `${bases.map((b) => `initrd --name ${n} ${b}/${target.initrds[i]}`).join(' || ')} || goto ${failed}`),
    `boot || goto ${failed}`,
    `:${failed}`,
    'echo Diskless: boot failed, retrying in 10 seconds',
    'sleep 10',
    `goto ${start}`,
  ];
}

/** Throws when a word or the kernel command line would mean more to iPXE than the words it is. */
function refuseUnsafe(words: Array<[string, string]>, cmdline: string, fullLength: number): void {
  for (const [what, word] of words) {
    const problem = bootWordProblem(word);
    if (problem) throw new Error(`Cannot write the boot script: the ${what} ${problem}`);
  }
  // Positions count in the arguments the target carries, before initrd= and BOOTIF= are added.
  const problem = kernelArgsProblem(cmdline, KERNEL_CMDLINE_MAX - (fullLength - cmdline.length));
  if (problem) throw new Error(`Cannot write the boot script: the kernel command line ${problem}`);
}

/** For a machine the inventory does not know and may not boot: say so on its screen, then exit. */
export function renderUnknownScript(macText: string): string {
  const mac = macOnly(macText);
  return [
    '#!ipxe',
    `echo Diskless: this machine (${mac}) is not in the inventory and unknown machines are denied.`,
    'echo Add it to the nodes list of the Diskless config, then reboot it.',
    'sleep 30',
    'exit 1',
    '',
  ].join('\n');
}

/** A known machine that cannot boot right now (e.g. its image is not published): say why, retry. */
export function renderProblemScript(mac: string, problem: string): string {
  return [
    '#!ipxe',
    `echo Diskless: ${inertText(mac)} cannot boot yet: ${inertText(problem)}`,
    'echo Retrying in 30 seconds.',
    'sleep 30',
    'chain --autofree ${filename} || exit 1',
    '',
  ].join('\n');
}

/**
 * For an unknown machine under `unknown_clients: register`: it is listed by `diskless node
 * discovered` and asks again every 30 s, so once adopted it boots without a power cycle.
 * `--replace` keeps the loop from nesting one script inside the next for hours.
 */
export function renderDiscoveredScript(macText: string, baseUrl: string, peers: readonly string[] = []): string {
  const mac = macOnly(macText);
  for (const url of [baseUrl, ...peers]) {
    const problem = bootWordProblem(url);
    if (problem) throw new Error(`Cannot write the boot script: the ${url === baseUrl ? 'base' : 'peer server'} URL ${problem}`);
  }
  return [
    '#!ipxe',
    `# Diskless: unknown machine ${mac}, waiting to be adopted.`,
    `set base ${baseUrl}`,
    ...peers.map((p, i) => `set peer${i + 1} ${p}`),
    ':wait',
    `echo Diskless: this machine (${mac}) is not in the inventory.`,
    `echo Diskless: registered as discovered, waiting for \`diskless node adopt ${mac}\``,
    'echo Checking again in 30 seconds.',
    'sleep 30',
    `${['${base}', ...peers.map((_, i) => `\${peer${i + 1}}`)].map((b) => `chain --replace --autofree ${b}/${bootScriptPath(mac)}`).join(' || ')} || goto wait`,
    '',
  ].join('\n');
}

/** The scripts for machines outside the inventory print and fetch by MAC: only a MAC may go there. */
function macOnly(text: string): string {
  const mac = normalizeMac(text);
  if (mac === undefined) throw new Error(`Cannot write a boot script for ${JSON.stringify(text)}: not a MAC address`);
  return mac;
}
