import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildImage } from './build-image.js';
import { spawnChrootCommand } from './chroot-command.js';
import { imageShell, type ImageShellOptions, type ImageShellResult } from './image-shell.js';
import { run } from '../process/run.js';
import { ImageStore } from './store/image-store.js';
import { busyboxRoot, IMAGE_RESOLV_CONF, stubInitrd } from './testdata/busybox-image.js';

const hasTools = ['unsquashfs', 'mksquashfs', 'chroot'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skip = process.getuid?.() !== 0 ? 'needs root for chroot and bind mounts' : !existsSync('/bin/busybox') || !hasTools ? 'needs busybox-static and squashfs-tools' : false;

const HOST_RESOLV_CONF = 'nameserver 192.0.2.1 # host-dns\n';

let work: string;
let seq = 0;

before(async () => {
  work = await realpath(await mkdtemp(join(tmpdir(), 'diskless-image-shell-')));
});
after(async () => {
  // Only once nothing is mounted: rm would otherwise descend into the host's /dev.
  if (!(await mountTable()).includes(work)) await rm(work, { recursive: true, force: true });
});

const mountTable = () => readFile('/proc/self/mounts', 'utf8');

/** A store holding one unpublished version of "bb", built from the busybox root. */
async function setup() {
  const base = join(work, `case-${seq++}`);
  const store = new ImageStore({ root: join(base, 'images') });
  const workDir = join(base, 'tmp');
  await mkdir(base);
  const hostResolvConf = join(base, 'host-resolv.conf');
  await writeFile(hostResolvConf, HOST_RESOLV_CONF);
  const first = await buildImage({ store, name: 'bb', from: await busyboxRoot(join(base, 'root')), workDir, buildInitrd: stubInitrd });
  let output = '';
  const shell = (command: string, extra: Partial<ImageShellOptions> = {}): Promise<ImageShellResult> =>
    imageShell({
      store,
      name: 'bb',
      command: ['/bin/sh', '-c', command],
      workDir,
      buildInitrd: stubInitrd,
      hostResolvConf,
      runCommand: spawnChrootCommand((s) => (output += s)),
      signals: new EventEmitter(),
      ...extra,
    });
  const versions = async () => (await store.list())[0]?.versions.map((m) => m.version) ?? [];
  /** Nothing of the session is left: no mount anywhere under the case, an empty scratch area. */
  const assertCleanedUp = async () => {
    assert.ok(!(await mountTable()).includes(base), await mountTable());
    assert.deepEqual(await readdir(workDir), []);
  };
  return { base, store, workDir, first, shell, versions, assertCleanedUp, output: () => output };
}

async function sqfsCat(sqfs: string, path: string): Promise<string> {
  return (await run(['unsquashfs', '-cat', sqfs, path])).stdout;
}

async function sqfsList(sqfs: string): Promise<string[]> {
  return (await run(['unsquashfs', '-lc', sqfs])).stdout.split('\n').filter((l) => l.startsWith('squashfs-root'));
}

describe('imageShell', { skip }, () => {
  it('stores what a successful command changed as a new unpublished version, child of the one it came from', async () => {
    const t = await setup();
    // Everything the session promises is checked from inside: proc mounted, /dev usable,
    // the host's resolver, services refused by policy-rc.d.
    const r = await t.shell(`set -e
      echo marked > /etc/marker
      grep -q ' /proc proc ' /proc/self/mounts
      grep -q ' /dev/pts devpts ' /proc/self/mounts
      echo ok > /dev/null
      grep -q host-dns /etc/resolv.conf
      s=0; /usr/sbin/policy-rc.d || s=$?; test "$s" = 101
      echo inside-done`);
    assert.equal(r.outcome, 'stored', JSON.stringify(r) + t.output());
    assert.match(t.output(), /inside-done/);
    if (r.outcome !== 'stored') return;
    assert.equal(r.status, 0);
    assert.equal(r.from, t.first.version);
    assert.equal(r.alreadyStored, false);
    assert.deepEqual(r.warnings, []);
    const m = r.manifest;
    assert.notEqual(m.version, t.first.version);
    assert.equal(m.parent, t.first.version);
    assert.equal(m.kernelVersion, '6.1.0-test');
    assert.equal((await t.store.show('bb', m.version)).published, false);
    await assert.rejects(t.store.resolve('bb'), /no published version/);

    const sqfs = t.store.paths('bb', m.version).rootSqfs;
    assert.equal(await sqfsCat(sqfs, 'etc/marker'), 'marked\n');
    assert.equal(await sqfsCat(sqfs, 'etc/resolv.conf'), IMAGE_RESOLV_CONF);
    const listing = await sqfsList(sqfs);
    assert.ok(listing.includes('squashfs-root/bin/busybox'), listing.join('\n'));
    // Mount points, /usr/sbin and policy-rc.d were the session's, not the image's.
    for (const gone of ['usr', 'proc', 'sys', 'dev']) assert.ok(!listing.includes(`squashfs-root/${gone}`), listing.join('\n'));
    await t.assertCleanedUp();
  });

  it('stores nothing when the command fails, and returns its status', async () => {
    const t = await setup();
    const r = await t.shell('echo marked > /etc/marker; exit 3');
    assert.equal(r.outcome, 'discarded');
    assert.equal(r.status, 3);
    if (r.outcome === 'discarded') assert.match(r.reason, /exited with status 3/);
    assert.deepEqual(await t.versions(), [t.first.version]);
    await t.assertCleanedUp();
  });

  it('says "unchanged" and stores nothing when the command changed nothing', async () => {
    const t = await setup();
    const r = await t.shell('true');
    assert.equal(r.outcome, 'unchanged', JSON.stringify(r));
    assert.equal(r.status, 0);
    assert.deepEqual(await t.versions(), [t.first.version]);
    await t.assertCleanedUp();
  });

  it('starts from the published version, else the newest, or the one asked for', async () => {
    const t = await setup();
    const second = await t.shell('echo two > /etc/two');
    assert.equal(second.outcome, 'stored');
    if (second.outcome !== 'stored') return;
    const v2 = second.manifest.version;
    assert.equal((await t.shell('true')).from, v2, 'newest when nothing is published');
    await t.store.publish('bb', t.first.version);
    assert.equal((await t.shell('true')).from, t.first.version, 'the published one');
    const asked = await t.shell('test -f /etc/two', { version: v2 });
    assert.equal(asked.from, v2);
    assert.equal(asked.outcome, 'unchanged');
    await t.assertCleanedUp();
  });

  it('ends the command on SIGTERM, unmounts everything and stores nothing', async () => {
    const t = await setup();
    const signals = new EventEmitter();
    const spawn = spawnChrootCommand(() => {});
    const r = await t.shell('echo marked > /etc/marker; sleep 30', {
      signals,
      runCommand: (argv, o) => {
        setTimeout(() => signals.emit('SIGTERM'), 300);
        return spawn(argv, o);
      },
    });
    assert.equal(r.outcome, 'discarded');
    assert.equal(r.status, 143);
    if (r.outcome === 'discarded') assert.equal(r.reason, 'interrupted by SIGTERM');
    assert.deepEqual(await t.versions(), [t.first.version]);
    await t.assertCleanedUp();
  });

  it('stops on SIGINT outside the command, but leaves a SIGINT during the command to the command', async () => {
    const t = await setup();
    const signals = new EventEmitter();
    const interrupted = await t.shell('echo marked > /etc/marker', {
      signals,
      runTool: (argv) => {
        if (argv[0] === 'unsquashfs') signals.emit('SIGINT');
        return run(argv);
      },
    });
    assert.equal(interrupted.outcome, 'discarded');
    assert.equal(interrupted.status, 130);
    await t.assertCleanedUp();

    // An interactive shell gets the terminal's Ctrl-C too and only clears its line.
    const spawn = spawnChrootCommand(() => {});
    const survived = await t.shell('sleep 1; echo marked > /etc/marker', {
      signals,
      runCommand: (argv, o) => {
        setTimeout(() => signals.emit('SIGINT'), 200);
        return spawn(argv, o);
      },
    });
    assert.equal(survived.outcome, 'stored', JSON.stringify(survived));
    assert.equal(signals.listenerCount('SIGINT'), 0, 'signal handlers are removed afterwards');
    await t.assertCleanedUp();
  });

  it('refuses unknown images and versions, non-root users and a missing unsquashfs before unpacking', async () => {
    const t = await setup();
    await assert.rejects(t.shell('true', { name: 'nope' }), /Unknown image nope/);
    await assert.rejects(t.shell('true', { version: '0123456789abcdef' }), /Image bb has no version 0123456789abcdef/);
    await assert.rejects(t.shell('true', { getuid: () => 1000 }), /needs? root/);
    await assert.rejects(t.shell('true', { searchPath: join(t.base, 'empty-bin') }), /unsquashfs not found \(Debian: apt-get install squashfs-tools\)/);
    assert.ok(!existsSync(t.workDir) || (await readdir(t.workDir)).length === 0);
  });
});
