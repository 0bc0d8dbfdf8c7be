// `image import` through the real engines: OCI layouts made here layer by layer (whiteouts, an
// opaque directory, hard links, owners, modes, xattrs), read by skopeo from a layout, an archive
// and a real registry (Debian's docker-registry on loopback, TLS from a private CA, htpasswd
// credentials), applied by umoci, stored as squashfs; the stored tree is compared with umoci's
// own unpack of the same layout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, chownSync, chmodSync, linkSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../process/daemon.js';
import { freeTcpPort } from '../testing/free-ports.js';
import { writeOciLayout } from '../testing/oci-layout.js';
import { ImageStore } from './store/image-store.js';
import { ImageBuildError, type InitrdBuilder } from './build-image.js';
import { importImage, parseImageSource, pinnedReference } from './import-oci.js';

const tools = ['skopeo', 'umoci', 'mksquashfs', 'unsquashfs', 'tar', 'setfattr', 'getfattr', 'docker-registry', 'openssl'];
const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
const skip = missing.length > 0 ? `needs ${missing.join(', ')} (scripts/install-deps.sh)` : process.getuid?.() !== 0 ? 'needs root (owners of unpacked layers)' : false;

const work = mkdtempSync(join(tmpdir(), 'dl-import-'));
after(() => rmSync(work, { recursive: true, force: true }));
let seq = 0;

function sh(argv: string[], cwd?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function file(root: string, path: string, content: string, o: { mode?: number; uid?: number; gid?: number } = {}): string {
  const p = join(root, path);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  if (o.uid !== undefined) chownSync(p, o.uid, o.gid ?? o.uid);
  if (o.mode !== undefined) chmodSync(p, o.mode);
  return p;
}

/**
 * Three layers: a base with a kernel, then one that deletes a file (whiteout), empties a
 * directory (opaque) and replaces a file, adds hard links and an xattr, then one that deletes
 * one name of the hard-linked pair.
 */
async function sampleLayout(kernel = true): Promise<string> {
  const base = join(work, `layers-${seq++}`);
  const [l1, l2, l3] = ['l1', 'l2', 'l3'].map((n) => join(base, n)) as [string, string, string];
  if (kernel) {
    file(l1, 'boot/vmlinuz-6.1.0-9-amd64', 'kernel 6.1.0-9-amd64\n');
    file(l1, 'lib/modules/6.1.0-9-amd64/modules.dep', '');
  } else {
    // A merged-/usr userland, as Debian's and Fedora's container images are.
    mkdirSync(join(l1, 'usr/lib'), { recursive: true });
    symlinkSync('usr/lib', join(l1, 'lib'));
  }
  file(l1, 'etc/hostname', 'base\n');
  file(l1, 'etc/gone', 'deleted by layer 2\n');
  file(l1, 'opt/app/old1', 'hidden by the opaque dir\n');
  file(l1, 'opt/app/sub/old2', 'hidden too\n');
  file(l1, 'srv/owned', 'owned\n', { uid: 1234, gid: 5678, mode: 0o640 });
  file(l1, 'usr/bin/tool', '#!/bin/sh\n', { mode: 0o4755 });
  symlinkSync('usr/bin', join(l1, 'bin'));

  file(l2, 'etc/.wh.gone', '');
  file(l2, 'opt/app/.wh..wh..opq', '');
  file(l2, 'opt/app/new', 'only this\n');
  file(l2, 'etc/hostname', 'replaced\n');
  const a = file(l2, 'data/a', 'linked\n', { uid: 42, gid: 43, mode: 0o600 });
  linkSync(a, join(l2, 'data/b'));
  linkSync(a, join(l2, 'data/c'));
  const x = file(l2, 'data/x', 'with xattr\n');
  sh(['setfattr', '-n', 'user.diskless', '-v', 'kept', x]);

  file(l3, 'data/.wh.a', '');
  const layout = join(base, 'layout');
  await writeOciLayout(layout, [l1, l2, l3]);
  return layout;
}

/** path → type, mode, owner, size, content hash, link target, user xattrs, and which paths share an inode. */
function listing(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (const n of readdirSync(join(root, rel)).sort()) {
      const r = rel === '' ? n : `${rel}/${n}`;
      const p = join(root, r);
      const st = lstatSync(p);
      const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : '?';
      let line = `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (type === 'f') {
        line += ` ${st.size} ${sha(readFileSync(p)).slice(0, 12)}`;
        const xattrs = spawnSync('getfattr', ['--absolute-names', '-d', '-m', '^user\\.', p], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('user.'));
        if (xattrs.length) line += ` ${xattrs.join(',')}`;
        if (st.nlink > 1) {
          const first = inodes.get(st.ino);
          if (first === undefined) inodes.set(st.ino, r);
          line += ` links=${st.nlink} same-as=${first ?? r}`;
        }
      }
      if (type === 'l') line += ` -> ${readlinkSync(p)}`;
      out[r] = line;
      if (type === 'd') walk(r);
    }
  };
  walk('');
  return out;
}

function stubInitrd(): InitrdBuilder {
  return async ({ kernelVersion, output }) => {
    writeFileSync(output, `initrd for ${kernelVersion}\n`);
    return { kernelVersion };
  };
}

function storedTree(store: ImageStore, name: string, version: string): string {
  const out = join(work, `stored-${seq++}`);
  sh(['unsquashfs', '-q', '-no-progress', '-d', out, store.paths(name, version).rootSqfs]);
  return out;
}

function umociReference(layout: string): string {
  const out = join(work, `reference-${seq++}`);
  sh(['umoci', 'raw', 'unpack', '--image', `${layout}:v1`, out]);
  return out;
}

function assertLayersApplied(tree: Record<string, string>): void {
  assert.equal(tree['etc/gone'], undefined, 'a whiteout deletes the lower file');
  assert.deepEqual(Object.keys(tree).filter((p) => p.startsWith('opt/app/')), ['opt/app/new'], 'an opaque directory hides everything below it');
  assert.equal(tree['data/a'], undefined, 'a whiteout removes one name of a hard-linked file');
  assert.match(tree['data/b'] ?? '', /^f 600 42:43 7 .* links=2 same-as=data\/b$/, 'the other names keep the inode, owner and mode');
  assert.match(tree['data/c'] ?? '', /links=2 same-as=data\/b$/);
  assert.match(tree['data/x'] ?? '', /user\.diskless="kept"/, 'xattrs are kept');
  assert.match(tree['srv/owned'] ?? '', /^f 640 1234:5678 /, 'owners and modes are kept');
  assert.match(tree['usr/bin/tool'] ?? '', /^f 4755 0:0 /, 'setuid is kept');
  assert.equal(tree['bin'], 'l 777 0:0 -> usr/bin');
  assert.doesNotMatch(JSON.stringify(Object.keys(tree)), /\.wh\./, 'no whiteout file is left in the tree');
}

function setup() {
  const dir = join(work, `state-${seq++}`);
  return { store: new ImageStore({ root: join(dir, 'images') }), workDir: join(dir, 'tmp') };
}

describe('image import', { skip }, () => {
  it('applies layers as umoci does: whiteouts, opaque dirs, hard links, owners, modes, xattrs; from a layout and an archive', async () => {
    const layout = await sampleLayout();
    const reference = listing(umociReference(layout));
    assertLayersApplied(reference);
    const { store, workDir } = setup();
    const lines: string[] = [];
    const m = await importImage({ store, name: 'app', source: `oci:${layout}:v1`, workDir, buildInitrd: stubInitrd(), progress: (l) => lines.push(l) });
    assert.equal(m.kernelVersion, '6.1.0-9-amd64');
    assert.equal(m.source?.ref, `oci:${layout}:v1`);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.equal(m.source?.digest, index.manifests[0]!.digest, 'the manifest records the digest of the image manifest');
    assert.equal((await store.show('app', m.version)).published, false, 'stored, not published');
    const stored = listing(storedTree(store, 'app', m.version));
    // The store's squashfs has its own root directory entry; everything below it is compared.
    assert.deepEqual(stored, reference);
    assertLayersApplied(stored);
    assert.ok(lines.some((l) => /Copying blob sha256:/.test(l)), `skopeo's progress is shown:\n${lines.join('\n')}`);
    assert.ok(lines.some((l) => /unpack layer/.test(l)), `umoci's progress is shown:\n${lines.join('\n')}`);
    assert.deepEqual(readdirSync(workDir), [], 'scratch space removed');

    // The same image as an oci-archive (a tar of the layout).
    const archive = join(work, `app-${seq++}.tar`);
    sh(['skopeo', 'copy', '-q', `oci:${layout}:v1`, `oci-archive:${archive}`]);
    const m2 = await importImage({ store, name: 'app2', source: `oci-archive:${archive}`, workDir, buildInitrd: stubInitrd() });
    assert.deepEqual(listing(storedTree(store, 'app2', m2.version)), reference);
  });

  it('refuses unknown sources, missing files, and images without a kernel unless --kernel-from gives one', async () => {
    assert.throws(() => parseImageSource('docker-daemon:x'), /source is one of docker:\/\/REGISTRY/);
    assert.throws(() => parseImageSource('docker://-x'), /not a registry reference/);
    assert.equal(pinnedReference('docker://127.0.0.1:5000/a/b:v1', 'sha256:ab'), 'docker://127.0.0.1:5000/a/b@sha256:ab');
    assert.equal(pinnedReference('docker://reg:5000/a', 'sha256:ab'), 'docker://reg:5000/a@sha256:ab');
    const { store, workDir } = setup();
    await assert.rejects(importImage({ store, name: 'x', source: 'oci-archive:/nonexistent.tar', workDir, buildInitrd: stubInitrd() }), /\/nonexistent\.tar is not a file/);

    const userland = await sampleLayout(false);
    await assert.rejects(
      importImage({ store, name: 'bare', source: `oci:${userland}:v1`, workDir, buildInitrd: stubInitrd() }),
      (e: unknown) => e instanceof ImageBuildError && /Cannot find a kernel in oci:.*looked for \/boot\/vmlinuz-VERSION.*--kernel-from/.test(e.message),
    );
    assert.deepEqual(await store.list(), []);

    // The kernel and its modules from a tree (here an unpacked image with one), then from a stored image.
    const kernelTree = umociReference(await sampleLayout());
    file(kernelTree, 'lib/modules/6.1.0-9-amd64/kernel/drivers/net/e1000.ko', 'module');
    const m = await importImage({ store, name: 'bare', source: `oci:${userland}:v1`, workDir, buildInitrd: stubInitrd(), kernelFrom: kernelTree });
    assert.equal(m.kernelVersion, '6.1.0-9-amd64');
    const tree = storedTree(store, 'bare', m.version);
    assert.equal(readFileSync(join(tree, 'lib/modules/6.1.0-9-amd64/vmlinuz'), 'utf8'), 'kernel 6.1.0-9-amd64\n');
    assert.equal(readFileSync(join(tree, 'lib/modules/6.1.0-9-amd64/kernel/drivers/net/e1000.ko'), 'utf8'), 'module', 'its modules come along');
    assert.equal(readFileSync(store.paths('bare', m.version).kernel, 'utf8'), 'kernel 6.1.0-9-amd64\n');

    const again = await importImage({ store, name: 'bare2', source: `oci:${userland}:v1`, workDir, buildInitrd: stubInitrd(), kernelFrom: `bare@${m.version}` });
    assert.equal(again.kernelVersion, '6.1.0-9-amd64');
    assert.equal(readFileSync(join(storedTree(store, 'bare2', again.version), 'lib/modules/6.1.0-9-amd64/kernel/drivers/net/e1000.ko'), 'utf8'), 'module');
    await assert.rejects(
      importImage({ store, name: 'twice', source: `oci:${await sampleLayout()}:v1`, workDir, buildInitrd: stubInitrd(), kernelFrom: kernelTree }),
      /already has kernel 6\.1\.0-9-amd64 of its own/,
    );
  });

  it('takes the kernel from a kernel .deb, running depmod for its modules as its postinst would', async () => {
    const hostModule = spawnSync('sh', ['-c', 'ls /lib/modules/*/kernel/drivers/net/dummy.ko | head -1'], { encoding: 'utf8' }).stdout.trim();
    assert.ok(hostModule, 'the host kernel\'s dummy.ko (linux-image-amd64)');
    const pkg = join(work, `pkg-${seq++}`);
    file(pkg, 'DEBIAN/control', 'Package: linux-image-test\nVersion: 1\nArchitecture: amd64\nMaintainer: test <test@example.org>\nDescription: test kernel\n');
    file(pkg, 'boot/vmlinuz-6.1.0-9-amd64', 'kernel from a package\n');
    mkdirSync(join(pkg, 'lib/modules/6.1.0-9-amd64/kernel/drivers/net'), { recursive: true });
    writeFileSync(join(pkg, 'lib/modules/6.1.0-9-amd64/kernel/drivers/net/dummy.ko'), readFileSync(hostModule));
    const deb = `${pkg}.deb`;
    sh(['dpkg-deb', '--root-owner-group', '-b', pkg, deb]);
    const { store, workDir } = setup();
    const m = await importImage({ store, name: 'deb', source: `oci:${await sampleLayout(false)}:v1`, workDir, buildInitrd: stubInitrd(), kernelFrom: deb });
    assert.equal(m.kernelVersion, '6.1.0-9-amd64');
    assert.equal(readFileSync(store.paths('deb', m.version).kernel, 'utf8'), 'kernel from a package\n');
    const tree = storedTree(store, 'deb', m.version);
    assert.match(readFileSync(join(tree, 'lib/modules/6.1.0-9-amd64/modules.dep'), 'utf8'), /^kernel\/drivers\/net\/dummy\.ko:$/m);
  });

  describe('from a registry', () => {
    const dir = join(work, 'registry');
    let port = 0;
    let registry: Daemon | undefined;
    const auth = join(dir, 'auth.json');
    const ca = join(dir, 'ca.crt');
    before(async () => {
      mkdirSync(dir, { recursive: true });
      // A private CA and a certificate for 127.0.0.1 signed by it.
      sh(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=diskless test CA', '-keyout', join(dir, 'ca.key'), '-out', ca]);
      sh(['openssl', 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'reg.key'), '-out', join(dir, 'reg.csr')]);
      writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
      sh(['openssl', 'x509', '-req', '-in', join(dir, 'reg.csr'), '-CA', ca, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '2', '-extfile', join(dir, 'ext'), '-out', join(dir, 'reg.crt')]);
      // htpasswd -nbB diskless s3cret-pass
      writeFileSync(join(dir, 'htpasswd'), 'diskless:$2y$05$Ok7VtmFE3F/vBHKoU2ucOeCbXFjLG4.cMHg94bXeS5zPJVrGFHrPu\n');
      port = await freeTcpPort();
      writeFileSync(join(dir, 'config.yml'), [
        'version: 0.1',
        'log: { level: warn }',
        `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }`,
        `http: { addr: "127.0.0.1:${port}", tls: { certificate: ${join(dir, 'reg.crt')}, key: ${join(dir, 'reg.key')} } }`,
        `auth: { htpasswd: { realm: diskless-test, path: ${join(dir, 'htpasswd')} } }`,
        '',
      ].join('\n'));
      writeFileSync(auth, JSON.stringify({ auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from('diskless:s3cret-pass').toString('base64') } } }));
      registry = await Daemon.start(['docker-registry', 'serve', join(dir, 'config.yml')]);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const up = await new Promise<boolean>((res) => {
          const c = connect(port, '127.0.0.1', () => { c.destroy(); res(true); }).on('error', () => res(false));
        });
        if (up) break;
        if (Date.now() > deadline) throw new Error(`docker-registry did not listen on ${port}: ${registry.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    after(async () => { await registry?.stop(); });

    it('pulls over TLS from a private CA with credentials, pinned to the digest, and records it', async () => {
      const layout = await sampleLayout();
      const ref = `docker://127.0.0.1:${port}/diskless/app:v1`;
      mkdirSync(join(dir, 'certs'), { recursive: true });
      writeFileSync(join(dir, 'certs/ca.crt'), readFileSync(ca));
      sh(['skopeo', 'copy', '-q', '--dest-cert-dir', join(dir, 'certs'), '--dest-authfile', auth, `oci:${layout}:v1`, ref]);
      const digest = sh(['skopeo', 'inspect', '--cert-dir', join(dir, 'certs'), '--authfile', auth, '--format', '{{.Digest}}', ref]).trim();
      const { store, workDir } = setup();
      await assert.rejects(
        importImage({ store, name: 'reg', source: ref, workDir, buildInitrd: stubInitrd(), registry: { authFile: auth } }),
        (e: unknown) => e instanceof ImageBuildError && /--ca FILE trusts a private CA/.test(e.message),
        'TLS is verified by default',
      );
      const wrong = join(dir, 'wrong.json');
      writeFileSync(wrong, JSON.stringify({ auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from('diskless:wrong').toString('base64') } } }));
      await assert.rejects(
        importImage({ store, name: 'reg', source: ref, workDir, buildInitrd: stubInitrd(), registry: { caFile: ca, authFile: wrong } }),
        (e: unknown) => e instanceof ImageBuildError && /credentials: --authfile FILE/.test(e.message),
        'wrong credentials are refused',
      );
      const lines: string[] = [];
      const m = await importImage({ store, name: 'reg', source: ref, workDir, buildInitrd: stubInitrd(), registry: { caFile: ca, authFile: auth }, progress: (l) => lines.push(l) });
      assert.deepEqual(m.source, { ref, digest });
      assert.ok(lines.some((l) => l.includes(`is ${digest}`)), lines.join('\n'));
      assert.deepEqual(listing(storedTree(store, 'reg', m.version)), listing(umociReference(layout)));
    });
  });
});
