import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { InitrdBuilder } from '../images/build-image.js';
import { RunningVersions, runningVersionsPath } from '../images/store/running-versions.js';
import { imageCommand } from './image.js';

const stubInitrd: InitrdBuilder = async ({ kernelVersion, output }) => {
  await writeFile(output, `initrd ${kernelVersion}`);
  return { kernelVersion };
};

test('image rm and gc keep what a node runs and name it; gc removes the rest', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'dl-image-gc-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const cfg = join(work, 'diskless.yaml');
  await writeFile(cfg, `server:\n  address: 10.0.0.1\n  state_dir: state\nprofiles:\n  p: { image: web }\nnodes:\n  - { mac: "52:54:00:00:00:01", hostname: n1, profile: p }\n`);
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await imageCommand([...argv, '--config', cfg], { stdout: (s) => (out += s), stderr: (s) => (err += s), buildInitrd: stubInitrd });
    return { code, out, err };
  };
  const versions: string[] = [];
  for (const tag of ['a', 'b', 'c']) {
    const root = join(work, `root-${tag}`);
    await mkdir(join(root, 'boot'), { recursive: true });
    await writeFile(join(root, 'boot/vmlinuz-6.1.0-7-amd64'), 'k');
    await mkdir(join(root, 'lib/modules/6.1.0-7-amd64'), { recursive: true });
    await writeFile(join(root, 'lib/modules/6.1.0-7-amd64/modules.dep'), '');
    await writeFile(join(root, 'tag'), tag);
    const b = await run('build', 'web', '--from', root);
    assert.equal(b.code, 0, b.err);
    const v = /web@([0-9a-f]{16})/.exec(b.out)?.[1];
    assert.ok(v, b.out);
    versions.push(v);
    assert.equal((await run('publish', 'web', v)).code, 0);
  }
  const [va, vb, vc] = versions as [string, string, string];
  // n1 was last given version a (it has not rebooted since).
  await new RunningVersions(runningVersionsPath(join(work, 'state'))).record('52:54:00:00:00:01', 'web', va);

  const refused = await run('rm', 'web', va);
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /n1 \(52:54:00:00:00:01\)/);

  assert.match((await run('gc', '--keep', 'x')).err, /--keep must be a whole number/);
  const gc = await run('gc', '--keep', '0');
  assert.equal(gc.code, 0, gc.err);
  assert.equal(gc.out, `removed web@${vb}\n1 version(s) removed\n`, 'b: not published, not a kept rollback target, run by nobody');
  const list = await run('list');
  assert.match(list.out, new RegExp(va));
  assert.match(list.out, new RegExp(vc));
  assert.doesNotMatch(list.out, new RegExp(vb));
});
