import { run } from '../process/run.js';

/**
 * Where busybox wants its applets ("usr/bin/wget", "sbin/modprobe"), from the binary itself so
 * the links match what it was built with. Running it is safe only because it is the host's own
 * busybox (static from busybox-static), not one from an image.
 */
export async function busyboxApplets(busybox: string): Promise<string[]> {
  const { stdout } = await run([busybox, '--list-full']);
  return stdout
    .split('\n')
    .map((l) => l.trim())
    // "linuxrc" is for initrd images run by the kernel's old change_root path, not an initramfs.
    .filter((l) => l.includes('/') && !l.startsWith('/') && !l.split('/').includes('..'));
}
