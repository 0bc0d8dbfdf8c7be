import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foreignArchProblem } from './debian-root.js';

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'debian-root-binfmt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('another architecture\'s image needs its binfmt_misc entry, enabled, with flag F; the message says how', async (t) => {
  const dir = await scratch(t);
  assert.equal(await foreignArchProblem('amd64', dir), undefined, 'the host\'s own needs nothing');
  assert.match((await foreignArchProblem('mips64el', dir))!, /architecture mips64el is not supported \(one of: amd64, arm64\)/);
  assert.match((await foreignArchProblem('arm64', dir))!, /binfmt_misc has no qemu-aarch64 entry \(apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc .*update-binfmts --enable qemu-aarch64\)/);
  await writeFile(join(dir, 'qemu-aarch64'), 'disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n');
  assert.match((await foreignArchProblem('arm64', dir))!, /entry qemu-aarch64 is disabled/);
  await writeFile(join(dir, 'qemu-aarch64'), 'enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: P\n');
  assert.match((await foreignArchProblem('arm64', dir))!, /lacks flag F/);
  await writeFile(join(dir, 'qemu-aarch64'), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n');
  assert.equal(await foreignArchProblem('arm64', dir), undefined);
});
