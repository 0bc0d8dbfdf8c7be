import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InitrdBuilder } from '../images/build-image.js';
import { imageCommand } from './image.js';

let work: string;
let seq = 0;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'diskless-image-cli-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const stubInitrd: InitrdBuilder = async ({ kernelVersion, output }) => {
  await writeFile(output, `initrd ${kernelVersion}`);
  return { kernelVersion };
};

/** A config whose state_dir is a fresh directory, so every case starts with an empty store. */
async function config(): Promise<string> {
  const dir = join(work, `c${seq++}`);
  await mkdir(dir);
  const file = join(dir, 'diskless.yaml');
  await writeFile(file, 'server:\n  address: 10.0.0.1\n  state_dir: state\n');
  return file;
}

async function root(kernel: boolean, tag = 'x'): Promise<string> {
  const dir = join(work, `root${seq++}`);
  await mkdir(join(dir, 'boot'), { recursive: true });
  await writeFile(join(dir, 'hostname'), tag);
  if (kernel) {
    await writeFile(join(dir, 'boot/vmlinuz-6.1.0-7-amd64'), 'k');
    await mkdir(join(dir, 'lib/modules/6.1.0-7-amd64'), { recursive: true });
    await writeFile(join(dir, 'lib/modules/6.1.0-7-amd64/modules.dep'), '');
  }
  return dir;
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await imageCommand(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), buildInitrd: stubInitrd });
  return { code, out, err };
}

describe('diskless image', () => {
  it('without --config reads DISKLESS_CONFIG (else /etc/diskless/diskless.yaml), and says so when it is missing', async () => {
    const saved = process.env['DISKLESS_CONFIG'];
    try {
      process.env['DISKLESS_CONFIG'] = await config();
      const r = await run('list');
      assert.equal(r.code, 0, r.err);
      process.env['DISKLESS_CONFIG'] = join(work, 'missing.yaml');
      const missing = await run('list');
      assert.equal(missing.code, 1);
      assert.match(missing.err, /missing\.yaml: \(file\): cannot read config: no such file \(named by DISKLESS_CONFIG; write one with "diskless init --interface IF"/);
    } finally {
      if (saved === undefined) delete process.env['DISKLESS_CONFIG'];
      else process.env['DISKLESS_CONFIG'] = saved;
    }
  });

  it('rejects an unknown subcommand and wrong arguments', async () => {
    const cfg = await config();
    assert.equal((await run('frobnicate', '--config', cfg)).code, 2);
    assert.match((await run('frobnicate')).err, /unknown subcommand "frobnicate"/);
    assert.match((await run('publish', 'web', '--config', cfg)).err, /expects NAME VERSION/);
    assert.match((await run('build', 'web', '--config', cfg)).err, /--from .* is required/);
    assert.match((await run('list', '--force', '--config', cfg)).err, /--force only applies to rm/);
    assert.match((await run('list', '--bogus', '--config', cfg)).err, /Unknown option '--bogus'/);
  });

  it('imports a container image as an unpublished version; refuses import options elsewhere', async () => {
    const cfg = await config();
    assert.match((await run('build', 'web', '--from', '/x', '--kernel-from', 'other', '--config', cfg)).err, /--kernel-from only applies to import/);
    assert.match((await run('import', 'web', '--config', cfg)).err, /expects NAME SOURCE/);
    assert.equal((await run('import', 'web', 'docker://r/x', '--ca', '/x.pem', '--no-tls-verify', '--config', cfg)).code, 2);
    const bad = await run('import', 'web', 'podman:x', '--config', cfg);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /Cannot import "podman:x": unknown transport; the source is one of docker:\/\//);
    // An OCI layout of a root tree with a kernel, made by umoci.
    const layout = join(work, `layout${seq++}`);
    const tree = await root(true, 'imported');
    for (const argv of [['init', '--layout', layout], ['new', '--image', `${layout}:1`], ['insert', '--image', `${layout}:1`, tree, '/']]) {
      const r = spawnSync('umoci', argv, { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const r = await run('import', 'web', `oci:${layout}:1`, '--config', cfg);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^imported web@[0-9a-f]{16} from sha256:[0-9a-f]{64} \(kernel 6\.1\.0-7-amd64, .*\); publish it with: diskless image publish web /);
    assert.match(r.err, /Copying blob sha256:/, 'skopeo\'s progress');
    const shown = JSON.parse((await run('show', 'web', r.out.split(/[@ ]/)[2]!, '--config', cfg)).out) as { source: { ref: string; digest: string }; published: boolean };
    assert.equal(shown.source.ref, `oci:${layout}:1`);
    assert.equal(shown.published, false);
  });

  it('--arch: build from mmdebstrap only, an architecture the initrd can be built for, a host that can run its programs', async () => {
    const cfg = await config();
    assert.match((await run('list', '--arch', 'arm64', '--config', cfg)).err, /--from, --include and --arch only apply to build/);
    const tree = await run('build', 'web', '--from', await root(true), '--arch', 'arm64', '--config', cfg);
    assert.equal(tree.code, 1);
    assert.match(tree.err, /--arch only applies to --from mmdebstrap:SUITE \(a tree or tar is built for the architecture of its kernel\)/);
    // Refused before mmdebstrap runs: nothing is downloaded for an architecture we cannot boot.
    const odd = await run('build', 'web', '--from', 'mmdebstrap:bookworm', '--arch', 'mips64el', '--config', cfg);
    assert.equal(odd.code, 1);
    assert.match(odd.err, /Cannot build image web for mips64el: architecture mips64el is not supported \(one of: amd64, arm64\)/);
  });

  it('lists an empty store', async () => {
    const r = await run('list', '--config', await config());
    assert.deepEqual(r, { code: 0, out: 'no images\n', err: '' });
  });

  it('refuses to build an image without a kernel, with exit 1', async () => {
    const r = await run('build', 'web', '--from', await root(false), '--config', await config());
    assert.equal(r.code, 1);
    assert.match(r.err, /Cannot find a kernel in .*: looked for \/boot\/vmlinuz-VERSION, .*--include linux-image-amd64/);
  });

  it('builds, lists, publishes, shows, rolls back and removes', async () => {
    const cfg = await config();
    const b1 = await run('build', 'web', '--from', await root(true, 'one'), '--config', cfg);
    assert.equal(b1.code, 0, b1.err);
    const v1 = /built web@([0-9a-f]{16})/.exec(b1.out)?.[1];
    assert.ok(v1, b1.out);
    assert.match(b1.err, /squashfs .*done in/);

    assert.equal((await run('publish', 'web', v1, '--config', cfg)).code, 0);
    const b2 = await run('build', 'web', '--from', await root(true, 'two'), '--config', cfg);
    const v2 = /built web@([0-9a-f]{16})/.exec(b2.out)?.[1];
    assert.ok(v2, b2.out);

    const list = await run('list', '--config', cfg);
    assert.equal(list.code, 0);
    const lines = list.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+VERSION\s+CREATED\s+SIZE\s+KERNEL\s+PUBLISHED$/);
    assert.equal(lines.length, 3);
    assert.match(lines.find((l) => l.includes(v1))!, /^web\s+[0-9a-f]{16}\s+\d{4}-\d\d-\d\dT\S+Z\s+[\d.]+ MiB\s+6\.1\.0-7-amd64\s+\*$/);
    assert.doesNotMatch(lines.find((l) => l.includes(v2))!, /\*$/);

    const shown = await run('show', 'web', v2, '--config', cfg);
    const m = JSON.parse(shown.out) as { version: string; parent: string; published: boolean };
    assert.equal(m.version, v2);
    assert.equal(m.parent, v1);
    assert.equal(m.published, false);
    assert.equal(JSON.parse((await run('show', 'web', '--config', cfg)).out).version, v1);

    assert.equal((await run('publish', 'web', v2, '--config', cfg)).code, 0);
    const rmPublished = await run('rm', 'web', v2, '--config', cfg);
    assert.equal(rmPublished.code, 1);
    assert.match(rmPublished.err, /it is the published version/);

    const rb = await run('rollback', 'web', '--config', cfg);
    assert.equal(rb.code, 0);
    assert.match(rb.out, new RegExp(`rolled web back to ${v1}`));
    assert.equal((await run('rm', 'web', v2, '--config', cfg)).code, 0);
    assert.equal((await run('list', '--config', cfg)).out.trimEnd().split('\n').length, 2);
  });

  it('reports store errors on stderr with exit 1', async () => {
    const cfg = await config();
    const r = await run('rollback', 'web', '--config', cfg);
    assert.equal(r.code, 1);
    assert.match(r.err, /diskless image rollback: Image web has no published version/);
    const bad = await run('show', 'web', 'nothex', '--config', cfg);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /Invalid image version/);
  });

  it('reports an unreadable config with exit 1', async () => {
    const r = await run('list', '--config', join(work, 'missing.yaml'));
    assert.equal(r.code, 1);
    assert.match(r.err, /config error: .*cannot read config/);
  });
});
