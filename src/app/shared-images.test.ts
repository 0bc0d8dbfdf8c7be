// Two startServices on one PostgreSQL, each with its own store directory: a version built and
// published through A is fetched by B from A by content hash (verified while it streams) and
// served by B byte for byte; a corrupted copy on A is refused by B, which keeps nothing of it;
// `diskless image publish` waits for the live servers and names the ones missing and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { serveShared, startShared, stateUrl, type SharedServer } from '../testing/shared-servers.js';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { waitUntilAsync } from '../testing/wait-until.js';
import { run } from '../process/run.js';
import { openImageStore } from './state-backend.js';
import { imageCommand } from '../cli/image.js';
import { Database } from '../postgres/database.js';
import { ServerRegistry } from '../postgres/servers.js';
import type { Manifest } from '../images/store/image-store.js';
import type { Published } from '../api/wire.js';
import { copyChecks, formatResult } from '../doctor/doctor.js';

const pg = postgresFixture();
const N1 = '52:54:00:15:0c:11';

type Served = SharedServer;

function serve(t: { after(fn: () => Promise<void>): void }, dir: string, address: string, state: string): Promise<Served> {
  return serveShared(t, { dir, address, state, inventory: `profiles:
  default:
    image: lab
    root: { mode: live }
nodes:
  - mac: ${N1}
    hostname: n1` });
}

/** A version of image "lab" added through A's command-line store (listed in the database, A's copy recorded). */
async function addVersion(dir: string, a: Served, tag: string): Promise<Manifest> {
  const tree = join(dir, `tree-${tag}`);
  await mkdir(tree, { recursive: true });
  // Some size, so the transfer takes more than one chunk.
  await writeFile(join(tree, 'data'), Buffer.alloc(3 << 20, tag));
  const sqfs = join(dir, `${tag}.sqfs`);
  await run(['mksquashfs', tree, sqfs, '-noappend', '-comp', 'gzip', '-no-progress', '-quiet', '-mkfs-time', '0', '-all-time', '0']);
  await writeFile(join(dir, `k-${tag}`), `kernel ${tag}`);
  await writeFile(join(dir, `i-${tag}`), `initrd ${tag}`);
  const { store, close } = await openImageStore(loadConfig(a.file));
  try {
    return await store.addVersion('lab', { squashfs: sqfs, kernel: join(dir, `k-${tag}`), initrd: join(dir, `i-${tag}`), kernelVersion: '6.1.0-18-amd64' });
  } finally {
    await close();
  }
}

async function publish(s: Served, version: string, wait: number): Promise<{ code: number; out: string; err: string }> {
  return image(s, 'publish', 'lab', version, '--wait', String(wait));
}

async function image(s: Served, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await imageCommand([...args, '--config', s.file], { stdout: (x) => (out += x), stderr: (x) => (err += x) });
  return { code, out, err };
}

/** POST /api/v1/images/lab/publish on S's admin listener. */
async function publishViaApi(s: Served, body: Record<string, unknown>): Promise<{ status: number; body: Published & { error?: string } }> {
  const token = (await readFile(join(s.stateDir, 'admin-token'), 'utf8')).trim();
  const r = await fetch(`http://127.0.0.1:${s.services.admin.port}/api/v1/images/lab/publish`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() as Published & { error?: string } };
}

/** `diskless doctor`'s lines on the copies of the images A's profiles boot. */
async function doctorCopies(s: Served): Promise<string[]> {
  const config = loadConfig(s.file);
  const { store, db, close } = await openImageStore(config);
  try {
    return (await copyChecks(config, store, db!)).map(formatResult);
  } finally {
    await close();
  }
}

async function held(s: Served): Promise<string[]> {
  return (await readdir(join(s.stateDir, 'images', 'lab', 'versions')).catch(() => [] as string[])).sort();
}

async function get(s: Served, path: string): Promise<{ status: number; body: Buffer }> {
  const r = await fetch(`http://${s.address}:${s.port}/${path}`);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

test('a version published through A is fetched by B by hash and served identically; a corrupted copy is refused; publish names the servers missing it', async (t) => {
  const cluster = await pg.cluster();
  const cfg = await cluster.database();
  const url = stateUrl(cfg);
  const dir = await mkdtemp(join(tmpdir(), 'diskless-shared-images-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = await serve(t, dir, '127.0.0.2', url);
  const b = await serve(t, dir, '127.0.0.3', url);

  const v1 = await addVersion(dir, a, 'one');
  const first = await publish(a, v1.version, 60);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /present on 2 live server\(s\): 127\.0\.0\.2, 127\.0\.0\.3/);
  // B holds the same bytes, got from A, and its boot script names that version.
  for (const f of ['root.sqfs', 'vmlinuz', 'initrd.img']) {
    const fromA = await readFile(join(a.stateDir, 'images', 'lab', 'versions', v1.version, f));
    assert.deepEqual(await readFile(join(b.stateDir, 'images', 'lab', 'versions', v1.version, f)), fromA, f);
    const served = await get(b, `store/lab/${v1.version}/${f}`);
    assert.equal(served.status, 200);
    assert.ok(served.body.equals(fromA), `${f} served by B differs from A's`);
  }
  assert.match((await get(b, `boot/${N1}.ipxe`)).body.toString(), new RegExp(`store/lab/${v1.version}/vmlinuz`));
  assert.equal((await get(b, `objects/sha256/${'0'.repeat(64)}`)).status, 404);

  // A's copy of the next version is damaged (one byte): B refuses it and stores nothing.
  const v2 = await addVersion(dir, a, 'two');
  const damaged = join(a.stateDir, 'images', 'lab', 'versions', v2.version, 'root.sqfs');
  const bytes = await readFile(damaged);
  const mid = bytes.length >> 1;
  bytes[mid] = bytes[mid]! ^ 0xff;
  await chmod(damaged, 0o644);
  await writeFile(damaged, bytes);
  const second = await publish(a, v2.version, 60);
  assert.equal(second.code, 1, second.out + second.err);
  assert.match(second.err, /missing on 1 of 2 live server\(s\)/);
  assert.match(second.err, /127\.0\.0\.3: fetch failed: .*root\.sqfs: sha256 [0-9a-f]{64}, its manifest names [0-9a-f]{64}; refused/);
  const bImages = join(b.stateDir, 'images', 'lab');
  assert.deepEqual((await readdir(join(bImages, 'versions'))).sort(), [v1.version]);
  assert.deepEqual((await readdir(bImages)).filter((e) => e.startsWith('.')), [], 'no temp directory left behind');
  // B does not offer a version it could not get: its script says why instead.
  const script = (await get(b, `boot/${N1}.ipxe`)).body.toString();
  assert.doesNotMatch(script, new RegExp(`store/lab/${v2.version}`));
  assert.match(script, /could not fetch/);
  const afterDamage = await doctorCopies(a);
  assert.equal(afterDamage.length, 2, afterDamage.join('\n'));
  assert.match(afterDamage[0]!, new RegExp(`^OK +copies +127\\.0\\.0\\.2: lab@${v2.version} present`));
  assert.match(afterDamage[1]!, new RegExp(`^FAIL +copies +127\\.0\\.0\\.3: lab@${v2.version} missing: its fetch failed: .*refused.*\\(make 127\\.0\\.0\\.3's peers'`));

  // A server registered and alive that never reports a copy is named too.
  const db = await Database.open(cfg);
  t.after(() => db.close());
  const c = await ServerRegistry.start(db, { address: '127.0.0.9', bootUrl: 'http://127.0.0.9:9', heartbeatMs: 500 });
  t.after(() => c.stop());
  const third = await publish(a, v1.version, 1);
  assert.equal(third.code, 1, third.out + third.err);
  assert.match(third.err, /missing on 1 of 3 live server\(s\)/);
  assert.match(third.err, /127\.0\.0\.9: no copy reported within 1 s/);
  // The API's publish waits the same way and names the server missing it, and why.
  const viaApi = await publishViaApi(a, { version: v1.version, waitSec: 1 });
  assert.equal(viaApi.status, 200, JSON.stringify(viaApi.body));
  assert.deepEqual(viaApi.body.copies?.map((c) => `${c.server} ${c.state}`), ['127.0.0.2 present', '127.0.0.3 present', '127.0.0.9 absent']);
  assert.match(viaApi.body.copies![2]!.reason ?? '', /no copy reported within 1 s/);
  assert.equal((await publishViaApi(a, { version: v1.version, waitSec: -1 })).status, 400);
  const doctor = await doctorCopies(b);
  assert.equal(doctor.length, 3, doctor.join('\n'));
  assert.match(doctor[2]!, new RegExp(`^WARN +copies +127\\.0\\.0\\.9: lab@${v1.version} missing: no copy reported \\(127\\.0\\.0\\.9 fetches published versions`));
  await waitUntilAsync('B serves v1 again', async () => (await get(b, `boot/${N1}.ipxe`)).body.toString().includes(`store/lab/${v1.version}/`));
});

test('image rm and gc through one server remove the version everywhere: the others drop their copies when told, or at their next start, and never list them again', async (t) => {
  const cluster = await pg.cluster();
  const cfg = await cluster.database();
  const url = stateUrl(cfg);
  const dir = await mkdtemp(join(tmpdir(), 'diskless-shared-image-rm-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = await serve(t, dir, '127.0.0.2', url);
  let b = await serve(t, dir, '127.0.0.3', url);
  const db = await Database.open(cfg);
  t.after(() => db.close());
  const listed = async () => (await db.query<{ version: string }>("SELECT version FROM image_versions WHERE name = 'lab' ORDER BY version")).map((r) => r.version);

  const [v1, v2, v3] = [await addVersion(dir, a, 'one'), await addVersion(dir, a, 'two'), await addVersion(dir, a, 'three')].map((m) => m.version) as [string, string, string];
  for (const v of [v1, v2]) {
    const p = await publish(a, v, 60);
    assert.equal(p.code, 0, p.err);
  }
  // Published through B's API, which lacks v3: the answer comes once both servers hold it.
  const viaApi = await publishViaApi(b, { version: v3 });
  assert.equal(viaApi.status, 200, JSON.stringify(viaApi.body));
  assert.deepEqual(viaApi.body.copies, [{ server: '127.0.0.2', state: 'present' }, { server: '127.0.0.3', state: 'present' }]);
  assert.deepEqual(await held(b), [v1, v2, v3].sort(), 'B fetched every version published');

  // Removed through B: A, which built it, drops its copy when the database announces it.
  const removed = await image(b, 'rm', 'lab', v2);
  assert.equal(removed.code, 0, removed.err);
  await waitUntilAsync('A drops its copy of v2', async () => !(await held(a)).includes(v2));
  assert.deepEqual(await held(b), [v1, v3].sort());
  assert.deepEqual(await listed(), [v1, v3].sort());
  // The published version is kept, through either server.
  const refused = await image(b, 'rm', 'lab', v3);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /it is the published version/);

  // B is away while gc through A removes v1; B drops its copy when it starts, and lists it nowhere.
  await b.stop();
  const gc = await image(a, 'gc', '--keep', '0');
  assert.equal(gc.code, 0, gc.err);
  assert.equal(gc.out, `removed lab@${v1}\n1 version(s) removed\n`);
  assert.deepEqual(await held(a), [v3]);
  assert.ok((await held(b)).includes(v1), 'B, stopped, still holds v1');
  b = await startShared(t, b);
  await waitUntilAsync('B drops its copy of v1 at start', async () => (await held(b)).join() === v3);
  assert.deepEqual(await listed(), [v3], 'B did not list its copy of v1 again');
  const copies = await db.query<{ server: string; version: string }>("SELECT server, version FROM image_copies WHERE name = 'lab' ORDER BY server");
  assert.deepEqual(copies.map((c) => `${c.server} ${c.version}`), [`127.0.0.2 ${v3}`, `127.0.0.3 ${v3}`]);

  // Stored anew (the same root built again), a removed version is listed again.
  assert.equal((await addVersion(dir, a, 'one')).version, v1);
  assert.deepEqual(await listed(), [v1, v3].sort());
});
