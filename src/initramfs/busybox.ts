import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Where busybox wants its applets ("usr/bin/wget", "sbin/modprobe"), from the binary itself so
 * the links match what it was built with. Running it is safe only because it is the host's own
 * busybox (static from busybox-static), not one from an image.
 */
export async function busyboxApplets(busybox: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run(busybox, ['--list-full'], { maxBuffer: 1024 * 1024 }));
  } catch (e) {
    throw new Error(`Cannot list the applets of ${busybox}: ${(e as Error).message.split('\n')[0]}`);
  }
  return stdout
    .split('\n')
    .map((l) => l.trim())
    // "linuxrc" is for initrd images run by the kernel's old change_root path, not an initramfs.
    .filter((l) => l.includes('/') && !l.startsWith('/') && !l.split('/').includes('..'));
}
