import { ipv4ToHex } from '../net/ipv4.js';
import { bootIfArg, macFromPxelinuxName } from './urls.js';
import type { DisklessConfig, NodeConfig } from '../config/types.js';
import { bootTargetFor, nodeByMac, profileFiles, type BootTarget } from './boot-target.js';
import type { BootMenu } from './boot-menu.js';
import { bootWordProblem, inertText, KERNEL_CMDLINE_MAX, kernelArgsProblem } from '../config/kernel-args.js';

/**
 * pxelinux looks for pxelinux.cfg/<uuid>, then 01-<mac>, then the client address in hex with
 * ever shorter prefixes, then "default" (pxelinux.doc). We answer 01-<mac> for every node,
 * the full hex address for nodes with a fixed address, and default for the default profile.
 * IPAPPEND 2 adds BOOTIF=01-<mac> so /init brings up the interface the machine booted from.
 *
 * pxelinux reads one directive a line and APPEND takes the rest of it verbatim, so a line break
 * in any value would add directives: every word is checked once more here (kernel-args.ts) and
 * an unsafe one refused with an Error; the comment's free text is made inert.
 */
export function renderPxelinuxConfig(target: BootTarget, menu?: BootMenu): string {
  const { profile, node, mac } = target;
  const who = inertText(node?.hostname ? `${node.hostname} (${mac})` : mac);
  const head = [
    `# Diskless pxelinux config for ${who}, profile ${inertText(profile.name)}.`,
    '# Generated from the Diskless inventory: edit the config, not this file.',
  ];
  if (!menu) return [...head, 'DEFAULT diskless', 'PROMPT 0', 'TIMEOUT 1', ...labelBlock('diskless', target), ''].join('\n');
  // syslinux's menu.c32 (and libutil.c32, which it loads; both served from syslinux_dirs): the
  // entries for TIMEOUT (tenths of a second), then DEFAULT; "^" before a letter of MENU LABEL
  // makes it the entry's key.
  if (!menu.choices.some((c) => c.name === menu.default)) throw new Error(`Cannot write the pxelinux config: the menu's default ${inertText(menu.default)} is none of its entries`);
  const lines = [...head, 'UI menu.c32', `MENU TITLE Diskless boot menu: ${who}`, `DEFAULT ${checkedLabel(menu.default)}`, `TIMEOUT ${menu.timeoutSec * 10}`];
  for (const c of menu.choices) {
    lines.push(...labelBlock(checkedLabel(c.name), c.target));
    lines.push(`  MENU LABEL ${c.key ? `^${c.key} ` : ''}${inertText(c.label).replace(/\^/g, '?')}`);
  }
  lines.push('');
  return lines.join('\n');
}

function checkedLabel(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(name)) throw new Error(`Cannot write the pxelinux config: menu entry name ${inertText(name)} is not a label`);
  return name;
}

/** LABEL NAME and the lines that boot `target`. */
function labelBlock(name: string, target: BootTarget): string[] {
  const { mac } = target;
  for (const [what, word] of [['kernel path', target.kernel], ...target.initrds.map((p) => ['initrd path', p])] as Array<[string, string]>) {
    // INITRD takes a comma-separated list: a comma in a path would name a second file.
    const problem = bootWordProblem(word) ?? (word.includes(',') ? `may not contain "," (character ${word.indexOf(',') + 1}): pxelinux's INITRD separates files with it` : undefined);
    if (problem) throw new Error(`Cannot write the pxelinux config: the ${what} ${problem}`);
  }
  // What the kernel gets: BOOT_IMAGE=KERNEL, APPEND, then pxelinux's own initrd= and BOOTIF=.
  const added = ` BOOT_IMAGE=${target.kernel} initrd=${target.initrds.join(',')} ${bootIfArg(mac)}`;
  const problem = kernelArgsProblem(target.cmdline, KERNEL_CMDLINE_MAX - added.length);
  if (problem) throw new Error(`Cannot write the pxelinux config: the kernel command line ${problem}`);
  const lines = [`LABEL ${name}`, `  KERNEL ${target.kernel}`];
  if (target.initrds.length) lines.push(`  INITRD ${target.initrds.join(',')}`);
  if (target.cmdline) lines.push(`  APPEND ${target.cmdline}`);
  lines.push('  IPAPPEND 2');
  return lines;
}

const NO_BOOT = [
  '# Diskless: no default profile, unknown machines boot from their local disk.',
  'DEFAULT local',
  'PROMPT 0',
  'LABEL local',
  '  LOCALBOOT 0',
  '',
].join('\n');

/**
 * The config text for a pxelinux.cfg/NAME request, or undefined (pxelinux then tries the next
 * name). `prepare` adds what is not in the inventory itself, such as root= arguments, and
 * completes the menu's entries.
 */
export async function pxelinuxConfigFor(
  config: DisklessConfig,
  name: string,
  prepare: (t: BootTarget) => Promise<{ target: BootTarget; menu?: BootMenu }> = async (target) => ({ target }),
  nodeOf: (config: DisklessConfig, mac: string) => NodeConfig | undefined = nodeByMac,
): Promise<string | undefined> {
  const render = async (t: BootTarget) => {
    const p = await prepare(t);
    return renderPxelinuxConfig(p.target, p.menu);
  };
  if (name === 'default') {
    if (!config.defaultProfile || config.dhcp.unknownClients === 'deny') return NO_BOOT;
    const profile = config.profiles.get(config.defaultProfile);
    return profile ? render({ mac: 'unknown', profile, cmdline: profile.cmdline, loader: 'pxelinux', ...profileFiles(profile) }) : NO_BOOT;
  }
  const mac = macFromPxelinuxName(name);
  if (mac) {
    const node = nodeOf(config, mac);
    const target = node ? bootTargetFor(config, mac, node) : undefined;
    return target ? render(target) : undefined;
  }
  // By address only nodes with a MAC: a node known by its port has no machine to name here.
  if (/^[0-9A-F]{8}$/.test(name)) {
    const node = config.nodes.find((n) => n.mac !== undefined && n.address && ipv4ToHex(n.address) === name);
    const target = node?.mac ? bootTargetFor(config, node.mac, node) : undefined;
    return target ? render(target) : undefined;
  }
  return undefined;
}
