import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { labImageKey, type LabImage } from './lab-image.js';
import { run } from '../process/run.js';
import { writeOciLayout } from '../testing/oci-layout.js';

/** Bumped when the tree below changes, so the cached layout is rebuilt. */
const LAYOUT_VERSION = 1;

/**
 * The lab's Debian tree made to look like Fedora/RHEL, as an OCI layout of two layers; built
 * once per lab image and kept in the cache (it is a pure function of that image).
 */
export async function redHatLayout(image: LabImage, cacheDir: string): Promise<string> {
  const dir = join(cacheDir, 'images', `redhat-layout-${labImageKey()}-${LAYOUT_VERSION}`);
  if (existsSync(join(dir, 'index.json'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const v = image.kernelVersion;
  const l1 = join(tmp, 'l1');
  const l2 = join(tmp, 'l2');
  await run(['cp', '-a', image.rootfs, l1]);
  const modules = join(l1, 'usr/lib/modules', v);
  await rename(join(l1, 'boot', `vmlinuz-${v}`), join(modules, 'vmlinuz'));
  for (const p of ['boot', 'vmlinuz', 'vmlinuz.old', 'initrd.img', 'initrd.img.old']) await rm(join(l1, p), { recursive: true, force: true });
  await run(['sh', '-c', 'find "$1" -name "*.ko" -print0 | xargs -0 -P2 -n 200 zstd -q --rm', 'sh', modules]);
  await run(['sh', '-c', 'rm "$1"/kernel/drivers/block/nbd.ko.zst', 'sh', modules]);
  await run(['depmod', '-b', l1, v]);
  await writeFile(join(l1, 'etc/diskless-victim'), 'deleted by the second layer\n');
  await mkdir(join(l1, 'opt/layered'), { recursive: true });
  await writeFile(join(l1, 'opt/layered/old'), 'hidden by the opaque directory\n');
  await writeFile(join(l1, 'etc/diskless-release'), 'first layer\n');
  await mkdir(join(l2, 'etc'), { recursive: true });
  await mkdir(join(l2, 'opt/layered'), { recursive: true });
  await writeFile(join(l2, 'etc/.wh.diskless-victim'), '');
  await writeFile(join(l2, 'opt/layered/.wh..wh..opq'), '');
  await writeFile(join(l2, 'opt/layered/new'), 'only this\n');
  await writeFile(join(l2, 'etc/diskless-release'), 'second layer\n');
  await writeOciLayout(join(tmp, 'layout'), [l1, l2]);
  await rm(dir, { recursive: true, force: true });
  await rename(join(tmp, 'layout'), dir);
  await rm(tmp, { recursive: true, force: true });
  return dir;
}

