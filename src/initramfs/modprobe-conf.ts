import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInRoot } from './root-path.js';

/**
 * The image's modprobe configuration, for the initramfs' /etc/modprobe.d: its `options` apply
 * to the drivers loaded there and its `blacklist` keeps a module from loading by alias (the
 * devices coldplug finds), as on the booted system. busybox modprobe reads /etc/modprobe.d; it
 * ignores `install` and `remove` commands (a module so "disabled" still loads when /init asks
 * for it by name) and kmod's `softdep` (the initramfs' modules.dep carries the "pre:" ones).
 *
 * kmod reads *.conf from these directories; a file name in an earlier one hides the same name
 * in a later one (modprobe.d(5)), so a file in /etc overrides the distribution's.
 */
export const MODPROBE_DIRS = ['/etc/modprobe.d', '/run/modprobe.d', '/usr/local/lib/modprobe.d', '/usr/lib/modprobe.d', '/lib/modprobe.d'] as const;

/** Larger than any real one; a file past it is not configuration. */
const MAX_CONF_BYTES = 1024 * 1024;

export interface ModprobeConf {
  /** The file name, also its name in the archive's /etc/modprobe.d. */
  name: string;
  /** Where it was found inside the image ("/usr/lib/modprobe.d/systemd.conf"). */
  from: string;
  content: Buffer;
}

/** The image's modprobe.d files that kmod would read, sorted by name. */
export async function modprobeConfig(root: string): Promise<ModprobeConf[]> {
  const byName = new Map<string, ModprobeConf>();
  for (const dir of MODPROBE_DIRS) {
    const where = await resolveInRoot(root, dir);
    if (!where.ok || !where.stats.isDirectory()) continue;
    for (const name of (await readdir(where.hostPath)).sort()) {
      if (!name.endsWith('.conf') || byName.has(name)) continue;
      const from = `${dir}/${name}`;
      // A link to /dev/null masks the distribution's file of the same name, as in kmod.
      if ((await readlink(join(where.hostPath, name)).catch(() => undefined)) === '/dev/null') {
        byName.set(name, { name, from, content: Buffer.alloc(0) });
        continue;
      }
      const file = await resolveInRoot(root, from);
      if (!file.ok || !file.stats.isFile()) continue;
      if (file.stats.size > MAX_CONF_BYTES) throw new Error(`Cannot carry ${from}: ${file.stats.size} bytes is not a modprobe configuration`);
      byName.set(name, { name, from, content: await readFile(file.hostPath) });
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
