import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { globToRegExp, hasWildcard } from '../glob.js';
import { resolveInRoot } from '../root-path.js';

const MAX_INCLUDE_DEPTH = 8;

/**
 * The library directories an image's /etc/ld.so.conf names (with its "include" files), which
 * ldconfig puts in ld.so.cache ahead of the built-in defaults. Files are read inside the root;
 * a missing or unreadable one counts as empty, as ldconfig treats it.
 */
export async function ldSoConfDirs(root: string, confPath = '/etc/ld.so.conf'): Promise<string[]> {
  const dirs: string[] = [];
  const read = async (path: string, depth: number): Promise<void> => {
    if (depth > MAX_INCLUDE_DEPTH) return;
    const where = await resolveInRoot(root, path);
    if (!where.ok || !where.stats.isFile()) return;
    const text = await readFile(where.hostPath, 'utf8').catch(() => '');
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') continue;
      const include = /^include\s+(.+)$/.exec(line);
      if (include) {
        for (const pattern of include[1]!.split(/\s+/)) {
          for (const file of await expandInclude(root, pattern.startsWith('/') ? pattern : join(dirname(path), pattern))) {
            await read(file, depth + 1);
          }
        }
      } else if (!line.startsWith('hwcap ')) {
        for (const dir of line.split(/[\s,:]+/)) if (dir.startsWith('/') && !dirs.includes(dir)) dirs.push(dir);
      }
    }
  };
  await read(confPath, 0);
  return dirs;
}

/** "include /etc/ld.so.conf.d/*.conf": glob in the last component only, sorted as glob(3) does. */
async function expandInclude(root: string, pattern: string): Promise<string[]> {
  const base = pattern.slice(pattern.lastIndexOf('/') + 1);
  if (!hasWildcard(base)) return [pattern];
  const dir = dirname(pattern);
  const where = await resolveInRoot(root, dir);
  if (!where.ok) return [];
  const re = globToRegExp(base);
  const names = await readdir(where.hostPath).catch(() => [] as string[]);
  return names.filter((n) => !n.startsWith('.') && re.test(n)).sort().map((n) => join(dir, n));
}
