import { run } from '../process/run.js';
import { ARCH_TOOLS, type CpuArch, hostArch } from './arch.js';

/**
 * Where busybox wants its applets ("usr/bin/wget", "sbin/modprobe"), from the binary itself so
 * the links match what it was built with. Running it is safe only because it is the host's own
 * busybox (static from busybox-static), or another architecture's busybox-static from Debian's
 * archive, never one from an image. That one runs under qemu-user (qemu-user-static), named
 * here rather than left to binfmt_misc, which a container may not have registered.
 */
export async function busyboxApplets(busybox: string, arch: CpuArch = hostArch()): Promise<string[]> {
  const argv = arch === hostArch() ? [busybox, '--list-full'] : [ARCH_TOOLS[arch].qemuUser, busybox, '--list-full'];
  const { stdout } = await run(argv).catch((e: unknown) => {
    throw new Error(`Cannot list the applets of ${busybox} (${arch})${arch === hostArch() ? '' : ` under ${argv[0]} (apt-get install qemu-user-static)`}: ${e instanceof Error ? e.message : String(e)}`);
  });
  return stdout
    .split('\n')
    .map((l) => l.trim())
    // "linuxrc" is for initrd images run by the kernel's old change_root path, not an initramfs.
    .filter((l) => l.includes('/') && !l.startsWith('/') && !l.split('/').includes('..'));
}
