import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { busyboxRoot, stubInitrd } from '../images/testdata/busybox-image.js';
import { imageCommand } from './image.js';

const hasTools = ['unsquashfs', 'mksquashfs', 'chroot'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skipRoot = process.getuid?.() !== 0 ? 'needs root for chroot and bind mounts' : !existsSync('/bin/busybox') || !hasTools ? 'needs busybox-static and squashfs-tools' : false;

let work: string;
let seq = 0;

before(async () => {
  work = await realpath(await mkdtemp(join(tmpdir(), 'diskless-image-shell-cli-')));
});
after(async () => {
  if (!(await readFile('/proc/self/mounts', 'utf8')).includes(work)) await rm(work, { recursive: true, force: true });
});

async function config(): Promise<string> {
  const dir = join(work, `c${seq++}`);
  await mkdir(dir);
  const file = join(dir, 'diskless.yaml');
  await writeFile(file, 'server:\n  address: 10.0.0.1\n  state_dir: state\n');
  return file;
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string; shell: string }> {
  let out = '';
  let err = '';
  let shell = '';
  const code = await imageCommand(argv, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    buildInitrd: stubInitrd,
    shellOutput: (s) => (shell += s),
    signals: new EventEmitter(),
  });
  return { code, out, err, shell };
}

describe('diskless image shell', () => {
  it('checks its arguments', async () => {
    const cfg = await config();
    assert.match((await run('shell', '--config', cfg)).err, /image shell: expects NAME/);
    assert.match((await run('list', '--version', 'x', '--config', cfg)).err, /--version only applies to shell/);
    // Options after "--" belong to the command, not to diskless.
    const unknown = await run('shell', 'bb', '--config', cfg, '--', 'ls', '--bogus');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /image shell: Unknown image bb/);
  });

  it('stores a new version, says when nothing changed, and returns a failed command\'s status', { skip: skipRoot }, async () => {
    const cfg = await config();
    const built = await run('build', 'bb', '--from', await busyboxRoot(join(work, `root${seq++}`)), '--config', cfg);
    const v1 = /built bb@([0-9a-f]{16})/.exec(built.out)?.[1];
    assert.ok(v1, built.err);

    const changed = await run('shell', 'bb', '--config', cfg, '--', '/bin/sh', '-c', 'echo hello > /etc/motd; echo said-hello');
    assert.equal(changed.code, 0, changed.err);
    assert.match(changed.shell, /said-hello/);
    const v2 = new RegExp(`^new version bb@([0-9a-f]{16}) \\(parent ${v1}, not published\\); publish it with: diskless image publish bb \\1\\n$`).exec(changed.out)?.[1];
    assert.ok(v2, changed.out);

    const same = await run('shell', 'bb', '--version', v2, '--config', cfg, '--', '/bin/sh', '-c', 'grep -q hello /etc/motd');
    assert.deepEqual([same.code, same.out], [0, `no changes: bb@${v2} is unchanged, nothing stored\n`]);

    const failed = await run('shell', 'bb', '--config', cfg, '--', '/bin/sh', '-c', 'touch /etc/junk; exit 4');
    assert.equal(failed.code, 4);
    assert.equal(failed.out, '');
    assert.match(failed.err, new RegExp(`changes to bb@${v2} discarded: /bin/sh -c touch /etc/junk; exit 4 exited with status 4`));
    assert.equal((await run('list', '--config', cfg)).out.trimEnd().split('\n').length, 3);
    assert.ok(!(await readFile('/proc/self/mounts', 'utf8')).includes(work));
  });
});
