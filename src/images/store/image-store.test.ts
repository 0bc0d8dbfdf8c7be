import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../../process/run.js';
import { sha256File } from '../../files/digest-cache.js';
import { ImageStore, StoreError, type InUse, type PublishedPointer } from './image-store.js';

let work: string;
let seq = 0;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'diskless-store-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A real (gzip, for speed) squashfs whose content, and so whose version, depends on `tag`. */
async function squashfs(tag: string): Promise<string> {
  const dir = join(work, `src-${tag}-${seq++}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'hello.txt'), `root ${tag}\n`);
  const out = `${dir}.sqfs`;
  await run(['mksquashfs', dir, out, '-noappend', '-comp', 'gzip', '-no-progress', '-quiet', '-mkfs-time', '0', '-all-time', '0']);
  return out;
}

async function bootFiles(tag: string): Promise<{ kernel: string; initrd: string }> {
  const kernel = join(work, `vmlinuz-${tag}-${seq++}`);
  const initrd = join(work, `initrd-${tag}-${seq++}`);
  await writeFile(kernel, `kernel ${tag}`);
  await writeFile(initrd, `initrd ${tag}`);
  return { kernel, initrd };
}

async function input(tag: string, kernelTag = 'k1') {
  return { squashfs: await squashfs(tag), ...(await bootFiles(kernelTag)), kernelVersion: '6.1.0-18-amd64' };
}

/** Each reading moves one second on, so `created` orders versions deterministically. */
function fakeClock(start = Date.parse('2025-01-01T00:00:00Z')): () => Date {
  let t = start;
  return () => new Date((t += 1000));
}

async function newStore(): Promise<ImageStore> {
  return new ImageStore({ root: await mkdtemp(join(work, 'root-')), clock: fakeClock() });
}

const nobody: InUse = () => [];

describe('ImageStore', () => {
  it('addresses versions by content: the same squashfs twice is one version', async () => {
    const store = await newStore();
    const inp = await input('a');
    const m1 = await store.addVersion('lab', inp);
    const m2 = await store.addVersion('lab', { ...inp, kernel: (await bootFiles('k1')).kernel });
    assert.equal(m1.version, m2.version);
    assert.equal(m1.created, m2.created);
    const sha = await sha256File(inp.squashfs);
    assert.equal(m1.sha256, sha);
    assert.equal(m1.version, sha.slice(0, 16));
    assert.equal(m1.created, '2025-01-01T00:00:01.000Z');
    assert.equal(m1.parent, null);
    assert.equal(m1.kernelVersion, '6.1.0-18-amd64');
    assert.equal(m1.files['vmlinuz'].sha256, await sha256File(inp.kernel));
    assert.equal(m1.files['initrd.img'].size, 'initrd k1'.length);
    const [img] = await store.list();
    assert.equal(img?.versions.length, 1);
    assert.deepEqual(await readdir(join(store.root, 'lab', 'versions', m1.version)), ['initrd.img', 'manifest.json', 'root.sqfs', 'vmlinuz'].sort());
    assert.deepEqual(JSON.parse(await readFile(join(store.root, 'lab', 'versions', m1.version, 'manifest.json'), 'utf8')), m1);
    // Different squashfs → different version.
    const m3 = await store.addVersion('lab', { ...(await input('b')), parent: m1.version, link: true });
    assert.notEqual(m3.version, m1.version);
    assert.equal(m3.parent, m1.version);
  });

  it('refuses the same squashfs with a different kernel rather than silently keeping the old one', async () => {
    const store = await newStore();
    const inp = await input('a');
    await store.addVersion('lab', inp);
    await assert.rejects(store.addVersion('lab', { ...inp, ...(await bootFiles('other')) }), /different vmlinuz, initrd\.img/);
    assert.equal((await store.list())[0]?.versions.length, 1);
  });

  it('publishes onto a previous stack and rolls back along it', async () => {
    const store = await newStore();
    const [a, b, c] = [await store.addVersion('lab', await input('a')), await store.addVersion('lab', await input('b')), await store.addVersion('lab', await input('c'))];
    assert.ok(a && b && c);
    await assert.rejects(store.resolve('lab'), /no published version/);
    await assert.rejects(store.rollback('lab'), /no published version/);
    await store.publish('lab', a.version);
    await store.publish('lab', b.version);
    const p = await store.publish('lab', c.version);
    assert.deepEqual(p.previous, [b.version, a.version]);
    assert.deepEqual(await store.publish('lab', c.version), p, 'publishing the published version changes nothing');
    const onDisk = JSON.parse(await readFile(join(store.root, 'lab', 'published'), 'utf8')) as PublishedPointer;
    assert.deepEqual(onDisk, p);

    const [img] = await store.list();
    assert.equal(img?.published, c.version);
    assert.deepEqual(img?.versions.map((m) => m.version), [a.version, b.version, c.version]);
    assert.equal((await store.show('lab')).version, c.version);
    assert.equal((await store.show('lab', a.version)).published, false);

    assert.equal((await store.rollback('lab')).version, b.version);
    assert.equal((await store.resolve('lab')).version, b.version);
    const back = await store.rollback('lab');
    assert.deepEqual([back.version, back.previous], [a.version, []]);
    await assert.rejects(store.rollback('lab'), /no previous version/);
    assert.equal((await store.resolve('lab')).manifest.version, a.version);
  });

  it('gives a reader one consistent version during 200 rapid publishes', async () => {
    const store = await newStore();
    const versions = [];
    for (const t of ['a', 'b', 'c']) versions.push((await store.addVersion('lab', await input(t))).version);
    await store.publish('lab', versions[0]!);
    let done = false;
    const publisher = (async () => {
      try {
        for (let i = 0; i < 200; i++) await store.publish('lab', versions[i % 3]!);
      } finally {
        done = true;
      }
    })();
    const seen = new Set<string>();
    let reads = 0;
    const reader = async () => {
      while (!done) {
        const r = await store.resolve('lab');
        assert.equal(r.manifest.version, r.version);
        assert.equal(await sha256File(r.paths.rootSqfs), r.manifest.sha256);
        assert.equal(await sha256File(r.paths.kernel), r.manifest.files['vmlinuz'].sha256);
        seen.add(r.version);
        reads++;
      }
    };
    await Promise.all([publisher, reader(), reader(), reader()]);
    assert.ok(reads > 0);
    assert.ok(seen.size > 1, "the reader ran while publishes switched versions");
    const final = await store.resolve('lab');
    assert.equal(final.version, versions[199 % 3]);
  });

  it('refuses to remove the published version or one in use, unless forced for the latter', async () => {
    const store = await newStore();
    const a = await store.addVersion('lab', await input('a'));
    const b = await store.addVersion('lab', await input('b'));
    const c = await store.addVersion('lab', await input('c'));
    await store.publish('lab', a.version);
    await store.publish('lab', b.version);
    await store.publish('lab', c.version);
    const inUse: InUse = (name, v) => (name === 'lab' && v === b.version ? ['pc-01', 'pc-07'] : []);

    await assert.rejects(store.remove('lab', c.version, { inUse: nobody }), /published version/);
    await assert.rejects(store.remove('lab', c.version, { inUse: nobody, force: true }), /published version/);
    await assert.rejects(store.remove('lab', b.version, { inUse }), /running on pc-01, pc-07/);
    assert.equal((await store.list())[0]?.versions.length, 3);

    const r = await store.remove('lab', b.version, { inUse, force: true });
    assert.match(r.warning ?? '', /pc-01, pc-07/);
    assert.deepEqual(await store.remove('lab', a.version, { inUse: nobody }), {});
    const [img] = await store.list();
    assert.deepEqual(img?.versions.map((m) => m.version), [c.version]);
    assert.deepEqual(img?.previous, [], 'removed versions leave the rollback stack');
    assert.deepEqual((await readdir(join(store.root, 'lab'))).sort(), ['published', 'versions']);
    await assert.rejects(store.remove('lab', a.version, { inUse: nobody }), /no version/);
  });

  it('tells its refusals apart by code: not found, in use, and the rest', async () => {
    const store = await newStore();
    const code = (e: unknown) => e instanceof StoreError && e.code;
    const a = await store.addVersion('lab', await input('a'));
    await assert.rejects(store.show('lab'), (e) => code(e) === 'DL_STORE_NOT_FOUND');
    await assert.rejects(store.show('lab', '0123456789abcdef'), (e) => code(e) === 'DL_STORE_NOT_FOUND');
    await assert.rejects(store.publish('lab', '0123456789abcdef'), (e) => code(e) === 'DL_STORE_NOT_FOUND');
    await assert.rejects(store.rollback('lab'), (e) => code(e) === 'DL_STORE');
    await assert.rejects(store.show('lab', 'nothex'), (e) => code(e) === 'DL_STORE');
    await store.publish('lab', a.version);
    await assert.rejects(store.remove('lab', a.version, { inUse: nobody }), (e) => code(e) === 'DL_STORE_IN_USE');
    const b = await store.addVersion('lab', await input('b'));
    await assert.rejects(store.remove('lab', b.version, { inUse: () => ['pc-01'] }), (e) => code(e) === 'DL_STORE_IN_USE');
    // A version whose manifest vanished is not listed: list() skips "not found" only.
    await rm(join(store.root, 'lab', 'versions', b.version, 'manifest.json'));
    assert.deepEqual((await store.list())[0]?.versions.map((m) => m.version), [a.version]);
  });

  it('collects garbage but keeps published, the top two rollback targets, versions in use and unpublished new builds', async () => {
    const store = await newStore();
    const m: string[] = [];
    for (const t of ['a', 'b', 'c', 'd', 'e']) {
      const v = (await store.addVersion('lab', await input(t))).version;
      m.push(v);
      await store.publish('lab', v);
    }
    const [A, B, C, D, E] = m as [string, string, string, string, string];
    const pending = (await store.addVersion('lab', await input('f'))).version;
    const never = (await store.addVersion('other', await input('g'))).version;
    // Leftovers of an addVersion killed long ago.
    await mkdir(join(store.root, 'lab', '.add-deadbeef'));
    await writeFile(join(store.root, 'lab', '.add-deadbeef', 'root.sqfs'), 'x');
    // The temp file of a pointer write a crash interrupted (named as writeFileAtomic names it).
    await writeFile(join(store.root, 'lab', '.published.4242-0badcafe.tmp'), '{');
    const late = new ImageStore({ root: store.root, clock: fakeClock(Date.now() + 2 * 3600_000) });

    const removed = await late.collectGarbage((name, v) => (name === 'lab' && v === A ? ['pc-03'] : []));
    assert.deepEqual(removed, [{ name: 'lab', version: B }]);
    const imgs = await store.list();
    const lab = imgs.find((i) => i.name === 'lab');
    assert.deepEqual(new Set(lab?.versions.map((x) => x.version)), new Set([A, C, D, E, pending]));
    assert.equal(lab?.published, E);
    assert.deepEqual(lab?.previous, [D, C, A]);
    assert.deepEqual(imgs.find((i) => i.name === 'other')?.versions.map((x) => x.version), [never]);
    assert.deepEqual((await readdir(join(store.root, 'lab'))).sort(), ['published', 'versions']);

    // Once A is no longer in use it goes too, and a second run finds nothing more.
    assert.deepEqual(await late.collectGarbage(nobody), [{ name: 'lab', version: A }]);
    assert.deepEqual(await late.collectGarbage(nobody), []);
    assert.deepEqual((await store.list()).find((i) => i.name === 'lab')?.previous, [D, C]);
  });

  it('leaves nothing behind when addVersion fails', async () => {
    const store = await newStore();
    const good = await input('a');
    await assert.rejects(store.addVersion('lab', { ...good, initrd: join(work, 'missing') }), /ENOENT/);
    await assert.rejects(store.addVersion('lab', { ...good, squashfs: good.kernel }), /not a squashfs/);
    await assert.rejects(store.addVersion('lab', { ...good, kernel: work }), /EISDIR|ENOTSUP|EINVAL/);
    assert.deepEqual(await readdir(store.root), []);

    const m = await store.addVersion('lab', good);
    await assert.rejects(store.addVersion('lab', { ...(await input('b')), initrd: join(work, 'missing') }));
    assert.deepEqual((await readdir(join(store.root, 'lab'))).sort(), ['versions']);
    assert.deepEqual(await readdir(join(store.root, 'lab', 'versions')), [m.version]);
  });

  it('validates names and versions', async () => {
    const store = await newStore();
    const inp = await input('a');
    for (const bad of ['', '..', '.', 'a/b', 'a..b', '.hidden', 'x'.repeat(65), 'sp ace', 'é']) {
      await assert.rejects(store.addVersion(bad, inp), /Invalid image name/, bad);
    }
    await assert.rejects(store.addVersion('lab', { ...inp, kernelVersion: '6.1 ; rm' }), /Invalid kernel version/);
    await assert.rejects(store.addVersion('lab', { ...inp, parent: 'nothex' }), /Invalid image version/);
    for (const bad of ['', '0123', '0123456789ABCDEF', '../../../etc/pw', '0123456789abcdef0']) {
      await assert.rejects(store.publish('lab', bad), /Invalid image version/, bad);
      await assert.rejects(store.show('lab', bad), /Invalid image version/, bad);
    }
    assert.deepEqual(await readdir(store.root), []);
    const ok = await store.addVersion('Debian-12_lab.v2', inp);
    assert.equal((await store.show('Debian-12_lab.v2', ok.version)).manifest.sha256, ok.sha256);
    await assert.rejects(store.publish('Debian-12_lab.v2', '0123456789abcdef'), /no version/);
  });
});
