import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InitrdBuilder } from '../build-image.js';

export const BUSYBOX = '/bin/busybox';
export const KERNEL_VERSION = '6.1.0-test';
/** The image's own resolver config, which a shell session must give back unchanged. */
export const IMAGE_RESOLV_CONF = 'nameserver 192.0.2.53 # the image\'s own\n';

const APPLETS = ['sh', 'echo', 'cat', 'grep', 'test', 'true', 'false', 'sleep', 'ls', 'rm', 'kill'];

/**
 * The smallest root `chroot` can run commands in: the host's static busybox (busybox-static)
 * with a few applet links, a fake kernel and module tree for buildImage, and no /proc, /sys,
 * /dev or /usr/sbin, so a session must create and remove those itself to leave the tree as it was.
 */
export async function busyboxRoot(dir: string): Promise<string> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile(BUSYBOX, join(dir, 'bin/busybox'));
  for (const a of APPLETS) await symlink('busybox', join(dir, 'bin', a));
  await mkdir(join(dir, 'boot'));
  await writeFile(join(dir, 'boot', `vmlinuz-${KERNEL_VERSION}`), 'not really a kernel\n');
  const modules = join(dir, 'lib/modules', KERNEL_VERSION);
  await mkdir(join(modules, 'kernel/fs'), { recursive: true });
  await writeFile(join(modules, 'kernel/fs/fake.ko'), 'not really a module\n');
  await writeFile(join(modules, 'modules.dep'), 'kernel/fs/fake.ko:\n');
  await mkdir(join(dir, 'etc'));
  await writeFile(join(dir, 'etc/hostname'), 'busybox\n');
  await writeFile(join(dir, 'etc/resolv.conf'), IMAGE_RESOLV_CONF);
  return dir;
}

/** Stands in for buildInitramfs, which needs a real module tree and kernel. */
export const stubInitrd: InitrdBuilder = async ({ kernelVersion, output }) => {
  await writeFile(output, `initrd for ${kernelVersion}\n`);
  return { kernelVersion };
};
