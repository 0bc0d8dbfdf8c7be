import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildImage, ImageBuildError, type InitrdBuilder } from './build-image.js';
import { findKernels } from '../initramfs/kernel-version.js';
import { run } from '../process/run.js';
import { ImageStore } from './store/image-store.js';
import type { RootMode } from '../config/types.js';

let work: string;
let seq = 0;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'diskless-build-image-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Stands in for buildInitramfs, which needs a real module tree; records what it was asked. */
function stubInitrd(calls: Array<{ root: string; kernelVersion: string }> = [], rootModes?: RootMode[]): InitrdBuilder {
  return async ({ root, kernelVersion, output }) => {
    calls.push({ root, kernelVersion });
    await writeFile(output, `initrd for ${kernelVersion}\n`);
    return rootModes ? { kernelVersion, rootModes } : { kernelVersion };
  };
}

async function fixtureRoot(opts: { kernels?: string[]; tag?: string } = {}): Promise<string> {
  const root = join(work, `root-${seq++}`);
  await mkdir(join(root, 'boot'), { recursive: true });
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc/hostname'), `${opts.tag ?? 'node'}\n`);
  for (const k of opts.kernels ?? ['6.1.0-test']) {
    await writeFile(join(root, 'boot', `vmlinuz-${k}`), `kernel ${k}\n`);
    await mkdir(join(root, 'lib/modules', k), { recursive: true });
    await writeFile(join(root, 'lib/modules', k, 'modules.dep'), '');
  }
  return root;
}

function setup() {
  const base = join(work, `case-${seq++}`);
  return { store: new ImageStore({ root: join(base, 'images') }), workDir: join(base, 'tmp') };
}

describe('buildImage', () => {
  it('stores a DIR root as a version with its kernel and initrd, and cleans its temp dir', async () => {
    const { store, workDir } = setup();
    const from = await fixtureRoot();
    const calls: Array<{ root: string; kernelVersion: string }> = [];
    const lines: string[] = [];
    const m = await buildImage({ store, name: 'web', from, workDir, buildInitrd: stubInitrd(calls), progress: (l) => lines.push(l) });
    assert.equal(m.name, 'web');
    assert.match(m.version, /^[0-9a-f]{16}$/);
    assert.equal(m.kernelVersion, '6.1.0-test');
    assert.equal(m.parent, null);
    assert.deepEqual(calls, [{ root: from, kernelVersion: '6.1.0-test' }]);
    const shown = await store.show('web', m.version);
    assert.equal(shown.published, false);
    assert.equal(await readFile(shown.paths.kernel, 'utf8'), 'kernel 6.1.0-test\n');
    assert.equal(await readFile(shown.paths.initrd, 'utf8'), 'initrd for 6.1.0-test\n');
    assert.equal((await readFile(shown.paths.rootSqfs)).subarray(0, 4).toString('latin1'), 'hsqs');
    assert.deepEqual(await readdir(workDir), []);
    assert.ok(lines.some((l) => /squashfs.*done in \d+\.\d s/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /initrd.*done in \d+\.\d s/.test(l)), lines.join('\n'));
  });

  it('keeps the image\'s SSH host keys out of the squashfs, and the source tree as it was', async () => {
    const { store, workDir } = setup();
    const from = await fixtureRoot();
    await mkdir(join(from, 'etc/ssh'));
    for (const f of ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub', 'ssh_host_rsa_key', 'sshd_config']) await writeFile(join(from, 'etc/ssh', f), `${f}\n`);
    const lines: string[] = [];
    const m = await buildImage({ store, name: 'ssh', from, workDir, buildInitrd: stubInitrd(), progress: (l) => lines.push(l) });
    const { stdout } = await run(['unsquashfs', '-l', '-d', '', store.paths('ssh', m.version).rootSqfs]);
    const listed = stdout.split('\n').filter((l) => l.startsWith('/etc/ssh'));
    assert.deepEqual(listed, ['/etc/ssh', '/etc/ssh/sshd_config']);
    assert.deepEqual((await readdir(join(from, 'etc/ssh'))).sort(), ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub', 'ssh_host_rsa_key', 'sshd_config']);
    assert.ok(lines.some((l) => /leaving out \/etc\/ssh\/ssh_host_ed25519_key, .*ssh_host_rsa_key: every node would share them/.test(l)), lines.join('\n'));
  });

  it('takes the newest kernel and builds the initrd for that one', async () => {
    const { store, workDir } = setup();
    const from = await fixtureRoot({ kernels: ['6.1.0-9-amd64', '6.1.0-10-amd64', '5.10.0-30-amd64'] });
    const calls: Array<{ root: string; kernelVersion: string }> = [];
    const m = await buildImage({ store, name: 'k', from, workDir, buildInitrd: stubInitrd(calls) });
    assert.equal(m.kernelVersion, '6.1.0-10-amd64');
    assert.equal(calls[0]?.kernelVersion, '6.1.0-10-amd64');
    assert.equal(await readFile(store.paths('k', m.version).kernel, 'utf8'), 'kernel 6.1.0-10-amd64\n');
  });

  it('builds a tree laid out the Red Hat way (kernel only beside its modules, no /boot), and the kernel named of several', async () => {
    const { store, workDir } = setup();
    const from = join(work, `root-${seq++}`);
    for (const v of ['5.14.0-503.el9.x86_64', '5.14.0-427.el9.x86_64']) {
      await mkdir(join(from, 'usr/lib/modules', v), { recursive: true });
      await writeFile(join(from, 'usr/lib/modules', v, 'modules.dep'), '');
      await writeFile(join(from, 'usr/lib/modules', v, 'vmlinuz'), `kernel ${v}\n`);
    }
    await symlink('usr/lib', join(from, 'lib'));
    const calls: Array<{ root: string; kernelVersion: string }> = [];
    const lines: string[] = [];
    const m = await buildImage({ store, name: 'rhel', from, workDir, buildInitrd: stubInitrd(calls, ['live', 'nfs']), progress: (l) => lines.push(l) });
    assert.equal(m.kernelVersion, '5.14.0-503.el9.x86_64');
    assert.equal(await readFile(store.paths('rhel', m.version).kernel, 'utf8'), 'kernel 5.14.0-503.el9.x86_64\n');
    assert.deepEqual(m.rootModes, ['live', 'nfs'], 'what the initrd can attach is recorded');
    assert.ok(lines.some((l) => /note: kernel 5\.14\.0-503\.el9\.x86_64 lacks the modules for nbd roots: profiles with root mode nbd will refuse this version/.test(l)), lines.join('\n'));
    const older = await buildImage({ store, name: 'rhel-old', from, workDir, kernel: '5.14.0-427.el9.x86_64', buildInitrd: stubInitrd(calls) });
    assert.equal(older.kernelVersion, '5.14.0-427.el9.x86_64');
    assert.equal(calls.at(-1)?.kernelVersion, '5.14.0-427.el9.x86_64');
    await assert.rejects(
      buildImage({ store, name: 'x', from, workDir, kernel: '6.1.0-9-amd64', buildInitrd: stubInitrd() }),
      (e: unknown) => e instanceof ImageBuildError && /Cannot build image x: Cannot find kernel 6\.1\.0-9-amd64 in .*: it has 5\.14\.0-503\.el9\.x86_64, 5\.14\.0-427\.el9\.x86_64/.test(e.message),
    );
  });

  it('records the published version as parent', async () => {
    const { store, workDir } = setup();
    const first = await buildImage({ store, name: 'web', from: await fixtureRoot({ tag: 'a' }), workDir, buildInitrd: stubInitrd() });
    await store.publish('web', first.version);
    const second = await buildImage({ store, name: 'web', from: await fixtureRoot({ tag: 'b' }), workDir, buildInitrd: stubInitrd() });
    assert.notEqual(second.version, first.version);
    assert.equal(second.parent, first.version);
    assert.equal((await store.resolve('web')).version, first.version, 'a build never publishes');
  });

  it('extracts a TAR root and gets the same version as the directory it came from', async () => {
    const { store, workDir } = setup();
    const from = await fixtureRoot({ tag: 'tarred' });
    const tar = join(work, `root-${seq++}.tar`);
    await run(['tar', '-cf', tar, '--numeric-owner', '-C', from, '.']);
    const fromDir = await buildImage({ store, name: 'a', from, workDir, buildInitrd: stubInitrd() });
    const fromTar = await buildImage({ store, name: 'b', from: tar, workDir, buildInitrd: stubInitrd() });
    assert.equal(fromTar.version, fromDir.version);
    assert.deepEqual(await readdir(workDir), []);
  });

  it('refuses a root without a kernel, says where it looked and to include a kernel package', async () => {
    const { store, workDir } = setup();
    const from = await fixtureRoot({ kernels: [] });
    await assert.rejects(
      buildImage({ store, name: 'nokernel', from, workDir, buildInitrd: stubInitrd() }),
      (e: unknown) => e instanceof ImageBuildError && /looked for \/boot\/vmlinuz-VERSION, \/usr\/lib\/modules\/VERSION\/vmlinuz.*--include linux-image-amd64/.test(e.message),
    );
    assert.deepEqual(await readdir(workDir), []);
    assert.deepEqual(await store.list(), []);
  });

  it('never follows a kernel symlink out of the root', async () => {
    const from = await fixtureRoot({ kernels: [] });
    const outside = join(work, `outside-${seq++}`);
    await writeFile(outside, 'host kernel');
    await symlink(outside, join(from, 'boot', 'vmlinuz-6.1.0-host'));
    await mkdir(join(from, 'lib/modules/6.1.0-host'), { recursive: true });
    await writeFile(join(from, 'lib/modules/6.1.0-host/modules.dep'), '');
    assert.deepEqual((await findKernels(from)).kernels, []);
  });

  it('removes its temp dir and stores nothing when the initrd build fails', async () => {
    const { store, workDir } = setup();
    const from = await fixtureRoot();
    const failing: InitrdBuilder = async ({ output }) => {
      await writeFile(output, 'partial');
      throw new Error('modules.dep missing');
    };
    await assert.rejects(buildImage({ store, name: 'x', from, workDir, buildInitrd: failing }), /modules\.dep missing/);
    assert.deepEqual(await readdir(workDir), []);
    assert.deepEqual(await store.list(), []);
  });

  it('refuses an initrd built for another kernel than the one stored', async () => {
    const { store, workDir } = setup();
    const wrong: InitrdBuilder = async ({ output }) => {
      await writeFile(output, 'x');
      return { kernelVersion: '9.9.9' };
    };
    await assert.rejects(buildImage({ store, name: 'x', from: await fixtureRoot(), workDir, buildInitrd: wrong }), /initrd is for kernel 9\.9\.9, not 6\.1\.0-test/);
  });

  it('refuses bad names, missing sources and --include without mmdebstrap before doing any work', async () => {
    const { store, workDir } = setup();
    const from = await fixtureRoot();
    await assert.rejects(buildImage({ store, name: '../x', from, workDir, buildInitrd: stubInitrd() }), /Invalid image name/);
    await assert.rejects(buildImage({ store, name: 'x', from: join(work, 'nope'), workDir, buildInitrd: stubInitrd() }), /does not exist/);
    await assert.rejects(buildImage({ store, name: 'x', from, include: ['vim'], workDir, buildInitrd: stubInitrd() }), /--include only applies to --from mmdebstrap/);
    await assert.rejects(buildImage({ store, name: 'x', from: 'mmdebstrap:Bad Suite', workDir, buildInitrd: stubInitrd() }), /Invalid suite/);
  });
});
