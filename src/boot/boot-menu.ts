import type { BootTarget } from './boot-target.js';
import type { MenuConfig, MenuEntry, ProfileConfig } from '../config/types.js';

/** One entry of a boot menu, with the target it boots (root arguments and token included). */
export interface MenuChoice {
  name: string;
  /** Free text: the renderers make it inert. */
  label: string;
  key?: string;
  target: BootTarget;
}

/** What the loaders show: `choices` for `timeoutSec`, then `default` (a choice's name). */
export interface BootMenu {
  timeoutSec: number;
  default: string;
  choices: MenuChoice[];
}

/** The menu a machine gets: its node's, or else its profile's; none means no menu and no wait. */
export function menuOf(target: BootTarget): MenuConfig | undefined {
  return target.node?.menu ?? target.profile.menu;
}

/**
 * What a rescue entry adds: stop before the root stage (the network is up, nothing is mounted)
 * in a shell on the console, rd.shell=0 of an unattended profile overridden.
 */
export const RESCUE_ARGS = 'rd.break=root rd.shell';

/** The label shown for an entry that names none. */
export function defaultLabel(e: MenuEntry, profile: ProfileConfig): string {
  switch (e.kind) {
    case 'profile': return `Profile ${e.profile}`;
    case 'version': return `${profile.image ?? profile.name}, version ${e.version}`;
    case 'rescue': return 'Rescue: a shell in the initramfs';
  }
}
