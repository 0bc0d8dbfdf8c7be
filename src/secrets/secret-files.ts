import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write.js';
import { DisklessError } from '../errors/diskless-error.js';
import { isCode } from '../files/error-code.js';

export type RandomBytes = (n: number) => Uint8Array;

export const defaultRandomBytes: RandomBytes = (n) => cryptoRandomBytes(n);

/** Thrown when a secret on disk is readable or writable by someone other than its owner. */
export class SecretPermissionError extends DisklessError {
  override name = 'SecretPermissionError';

  constructor(
    readonly path: string,
    readonly mode: number,
    message: string,
  ) {
    super('DL_SECRET_PERMISSION', message);
  }
}

const octal = (mode: number): string => '0' + (mode & 0o7777).toString(8).padStart(3, '0');

/**
 * Refuses a secret whose mode lets group or other in. We stop rather than silently chmod it back:
 * if someone widened it, the key may already have leaked and the admin must decide whether to
 * rotate it. Symlinks are refused too, because following one could serve any file on the host.
 */
export async function checkSecretPath(path: string, kind: 'file' | 'dir'): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) {
    throw new SecretPermissionError(path, st.mode, `Refusing secret ${path}: it is a symlink`);
  }
  if (kind === 'dir' ? !st.isDirectory() : !st.isFile()) {
    throw new SecretPermissionError(path, st.mode, `Refusing secret ${path}: expected a ${kind === 'dir' ? 'directory' : 'regular file'}`);
  }
  if ((st.mode & 0o077) !== 0) {
    const want = kind === 'dir' ? '700' : '600';
    throw new SecretPermissionError(
      path,
      st.mode,
      `Refusing secret ${path}: mode ${octal(st.mode)} lets group/other access it (expected 0${want}). ` +
        `Check whether it leaked, rotate it if so, then run: chmod ${want} ${path}`,
    );
  }
}

/** Checks a secret directory and everything directly inside it (secret dirs are flat). */
export async function checkSecretDir(dir: string): Promise<void> {
  await checkSecretPath(dir, 'dir');
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    await checkSecretPath(p, entry.isDirectory() ? 'dir' : 'file');
  }
}

/**
 * Creates `dir` (mode 0700) under an existing-or-created parent. Only the leaf is made private:
 * the parent is the shared state directory, which other services (image serving) also read.
 * An existing directory is checked, not chmod'ed, so that a widened one is noticed.
 */
export async function ensureSecretDir(dir: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  try {
    await mkdir(dir, { mode: 0o700 });
    // mkdir's mode passes through the umask; an unusual umask must not leave it 0500 or wider.
    await chmod(dir, 0o700);
  } catch (e) {
    if (!isCode(e, 'EEXIST')) throw e;
  }
  await checkSecretPath(dir, 'dir');
}

/** A secret is 0600 from the moment its temp file exists, and replaced atomically. */
export async function writeSecretFile(path: string, data: Uint8Array | string): Promise<void> {
  await writeFileAtomic(path, data, { mode: 0o600 });
}
