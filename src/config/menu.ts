import type { Fields } from './yaml-fields.js';
import type { MenuConfig, MenuEntry, ProfileConfig } from './types.js';
import { kernelArgsProblem } from './kernel-args.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
const VERSION = /^[0-9a-f]{16}$/;
const LABEL_MAX = 64;
export const DEFAULT_MENU_TIMEOUT_SEC = 10;

/**
 * `menu:` of a profile or node:
 *
 *   menu:
 *     timeout: 10            # seconds before the default boots (default 10)
 *     default: current       # an entry's name (default: the first entry)
 *     entries:
 *       - { name: current, profile: debian }
 *       - { name: previous, version: 3f2a9c0d11223344, label: "Debian, last week's image" }
 *       - { name: rescue, rescue: true }
 *
 * Names, labels and keys are written into iPXE scripts and pxelinux configs, so they are held to
 * the loaders' rules here (kernel-args.ts); the profiles entries name are checked once every
 * profile is read (checkMenuTargets).
 */
export function readMenu(f: Fields): MenuConfig | undefined {
  if (!f.has('menu') || f.isNull('menu')) return undefined;
  const m = f.map('menu');
  const timeoutSec = m.int('timeout', DEFAULT_MENU_TIMEOUT_SEC, 1, 3600);
  const seenNames = new Set<string>();
  const seenKeys = new Set<string>();
  const items = m.list('entries');
  if (items.length === 0) m.fail('entries', 'list at least one entry (or remove menu: to boot without one)', m.raw('entries'));
  if (items.length > 20) m.fail('entries', `${items.length} entries: at most 20 fit a screen`, m.raw('entries'));
  const entries = items.map((e, i): MenuEntry => {
    const name = e.string('name');
    if (!NAME.test(name)) e.fail('name', `${JSON.stringify(name)} must be 1-32 letters, digits, "-" or "_", starting with a letter or digit`, e.raw('name'));
    if (seenNames.has(name)) e.fail('name', `${name} is listed twice`, e.raw('name'));
    seenNames.add(name);
    const label = e.optString('label');
    const labelProblem = label === undefined ? undefined : label === '' ? 'is empty' : kernelArgsProblem(label, LABEL_MAX);
    if (labelProblem) e.fail('label', labelProblem, e.raw('label'));
    const key = e.optString('key') ?? (i < 9 ? String(i + 1) : undefined);
    if (key !== undefined && !/^[a-z0-9]$/.test(key)) e.fail('key', `${JSON.stringify(key)} must be one lower-case letter or digit`, e.raw('key'));
    if (key !== undefined && seenKeys.has(key)) e.fail('key', `${key} picks another entry already`, e.raw('key') ?? e.raw('name'));
    if (key !== undefined) seenKeys.add(key);
    const profile = e.optString('profile');
    const version = e.optString('version');
    const rescue = e.bool('rescue', false);
    const kinds = [profile !== undefined, version !== undefined, rescue].filter(Boolean).length;
    if (kinds !== 1) e.fail(kinds ? 'rescue' : 'profile', 'give exactly one of profile: NAME, version: VERSION or rescue: true');
    if (version !== undefined && !VERSION.test(version)) e.fail('version', `${JSON.stringify(version)} is not a stored image version (16 hex digits, see diskless image list)`, e.raw('version'));
    e.rejectUnknown();
    const common = { name, ...(label !== undefined ? { label } : {}), ...(key !== undefined ? { key } : {}) };
    if (profile !== undefined) return { ...common, kind: 'profile', profile };
    if (version !== undefined) return { ...common, kind: 'version', version };
    return { ...common, kind: 'rescue' };
  });
  const def = m.string('default', entries[0]!.name);
  if (!seenNames.has(def)) m.fail('default', `names no entry (entries: ${[...seenNames].join(', ')})`, m.raw('default'));
  m.rejectUnknown();
  return { timeoutSec, default: def, entries };
}

/**
 * Why a menu cannot boot under `profile` (the profile it belongs to, or the node's), or
 * undefined: entries must name profiles that exist, and version entries need a profile that
 * boots a stored image.
 */
export function menuTargetProblem(menu: MenuConfig, profile: ProfileConfig, profiles: ReadonlyMap<string, ProfileConfig>): string | undefined {
  for (const e of menu.entries) {
    if (e.kind === 'profile' && !profiles.has(e.profile)) return `entry ${e.name} names no profile ${JSON.stringify(e.profile)} (known: ${[...profiles.keys()].join(', ')})`;
    if (e.kind === 'version' && profile.image === undefined) return `entry ${e.name} boots a stored version, but profile ${profile.name} has no image: NAME`;
  }
  return undefined;
}
