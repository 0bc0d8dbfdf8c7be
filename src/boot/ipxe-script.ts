import { macToHyphens } from '../net/mac.js';
import type { BootTarget } from './boot-target.js';

/**
 * The per-MAC iPXE script. `initrd=NAME` is on the command line because the EFI stub of
 * kernels without LoadFile2 support finds its initrd by that name in iPXE's virtual filesystem;
 * BOOTIF is what pxelinux's "ipappend 2" would add, so /init finds the interface it booted from.
 * A failed download retries instead of dropping to the firmware's next boot device.
 */
export function renderIpxeScript(target: BootTarget, baseUrl: string): string {
  const { profile, mac, node } = target;
  const initrds = target.initrds.map((_, i) => `initrd-${i}`);
  const args = [...initrds.map((n) => `initrd=${n}`), target.cmdline, `BOOTIF=01-${macToHyphens(mac)}`].filter(Boolean).join(' ');
  const who = node ? (node.hostname ? `${node.hostname} (${mac})` : mac) : `unknown machine ${mac}`;
  return [
    '#!ipxe',
    `# Diskless boot script for ${who}, profile ${profile.name}.`,
    '# Generated from the Diskless inventory: edit the config, not this script.',
    `set base ${baseUrl}`,
    ':retry',
    `echo Diskless: booting ${who} with profile ${profile.name}`,
    `kernel \${base}/${target.kernel} ${args} || goto failed`,
    ...initrds.map((n, i) => `initrd --name ${n} \${base}/${target.initrds[i]} || goto failed`),
    'boot || goto failed',
    ':failed',
    'echo Diskless: boot failed, retrying in 10 seconds',
    'sleep 10',
    'goto retry',
    '',
  ].join('\n');
}

/** For a machine the inventory does not know and may not boot: say so on its screen, then exit. */
export function renderUnknownScript(mac: string): string {
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
  const safe = problem.replace(/[^\x20-\x7e]/g, ' ').replace(/\$/g, '');
  return [
    '#!ipxe',
    `echo Diskless: ${mac} cannot boot yet: ${safe}`,
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
export function renderDiscoveredScript(mac: string, baseUrl: string): string {
  return [
    '#!ipxe',
    `# Diskless: unknown machine ${mac}, waiting to be adopted.`,
    `set base ${baseUrl}`,
    ':wait',
    `echo Diskless: this machine (${mac}) is not in the inventory.`,
    `echo Diskless: registered as discovered, waiting for \`diskless node adopt ${mac}\``,
    'echo Checking again in 30 seconds.',
    'sleep 30',
    `chain --replace --autofree \${base}/boot/${macToHyphens(mac)}.ipxe || goto wait`,
    '',
  ].join('\n');
}
