import { readFile } from 'node:fs/promises';

/** Runs mount/umount; rejects when the tool exits non-zero (`run` does). */
export type MountRunner = (argv: readonly string[]) => Promise<unknown>;

/** The text of /proc/self/mounts; injected so the unmount order can be tested without root. */
export type MountTable = () => Promise<string>;

export const readMountTable: MountTable = () => readFile('/proc/self/mounts', 'utf8');

export interface BindMount {
  /** A host path: /proc, /sys, /dev, /dev/pts. */
  source: string;
  /** An existing directory under the chroot root. */
  target: string;
}

/**
 * Makes each bind mount in order. Each one is made private: on a host whose / is shared
 * (systemd's default) a bind of /dev/pts onto ROOT/dev/pts would otherwise propagate back and
 * stack a second devpts on the host's own /dev/pts. When one fails, everything already mounted
 * under `root` is unmounted before the error is thrown.
 */
export async function bindMounts(binds: readonly BindMount[], root: string, run: MountRunner, readMounts: MountTable = readMountTable): Promise<void> {
  try {
    for (const b of binds) await run(['mount', '--bind', '--make-private', b.source, b.target]);
  } catch (e) {
    await unmountAllUnder(root, run, readMounts).catch(() => {});
    throw e;
  }
}

/**
 * Unmounts every mount at or below `dir`, the most recent first (the table lists mounts in the
 * order they were made), so mounts the chrooted command made itself go too. A mount still busy
 * (a daemon left running in the chroot) is detached lazily: it disappears from the tree now and
 * is freed when its last user goes, which is what makes removing the directory afterwards safe.
 */
export async function unmountAllUnder(dir: string, run: MountRunner, readMounts: MountTable = readMountTable): Promise<void> {
  const failed = new Set<string>();
  // Bounded: a umount that "succeeds" yet leaves the table unchanged must not spin forever.
  for (let attempt = 0; attempt < MAX_UNMOUNTS; attempt++) {
    const target = mountPointsUnder(dir, await readMounts()).filter((m) => !failed.has(m)).at(-1);
    if (target === undefined) {
      if (failed.size) throw new Error(`Cannot unmount ${[...failed].join(', ')}`);
      return;
    }
    try {
      await run(['umount', target]);
    } catch {
      // Carry on with the others when even a lazy unmount fails; the caller must not delete the tree.
      await run(['umount', '--lazy', target]).catch(() => failed.add(target));
    }
  }
  throw new Error(`Cannot unmount everything under ${dir}: still mounted after ${MAX_UNMOUNTS} attempts`);
}

const MAX_UNMOUNTS = 256;

/** Mount points at or below `dir` in table order. `dir` must be canonical, as the kernel prints paths. */
export function mountPointsUnder(dir: string, table: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return table
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((p): p is string => p !== undefined)
    .map(unescapeMountField)
    .filter((p) => p === dir || p.startsWith(prefix));
}

/** The kernel writes space, tab, newline and backslash in mount paths as octal escapes (\040…). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
