import { stat } from 'node:fs/promises';

/**
 * Which file a path names right now: inode, size and mtime. A new image renamed over the path
 * has a new identity, so caches keyed by it never serve the old file's digest or descriptor.
 * Undefined when the path does not exist.
 */
export async function fileIdentity(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}
