import { mkdir, rm } from 'node:fs/promises';
import { run } from '../process/run.js';
import { hostDebianMirror } from './apt-mirror.js';

export interface DebianRootOptions {
  suite: string;
  /** Packages beyond minbase. */
  include: readonly string[];
  /** Default: the mirror this host's apt uses (hostDebianMirror). */
  mirror?: string;
  /** dpkg path-exclude globs: docs, man pages, unneeded kernel module trees. */
  exclude?: readonly string[];
  onLine?: (line: string) => void;
}

/** Docs and translations nobody reads on a diskless node: smaller image, faster boots. */
export const SLIM_EXCLUDES = ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/info/*', '/usr/share/locale/*'];

/**
 * A Debian root filesystem in `dir`, built by mmdebstrap (as root: real uids, device nodes).
 * The directory is replaced whole; on failure nothing is left behind.
 */
export async function buildDebianRoot(dir: string, o: DebianRootOptions): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const dpkgopts = (o.exclude ?? SLIM_EXCLUDES).map((g) => `--dpkgopt=path-exclude=${g}`);
  try {
    await run(
      [
        'mmdebstrap', '--variant=minbase', '--mode=root', '--format=directory',
        ...(o.include.length ? [`--include=${o.include.join(',')}`] : []),
        ...dpkgopts,
        o.suite, dir, o.mirror ?? hostDebianMirror(),
      ],
      o.onLine ? { onLine: o.onLine } : {},
    );
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
