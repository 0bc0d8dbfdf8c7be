// The inventory in the state database: imported from YAML through `diskless inventory import`,
// served by every server in place of its file's own, edited through one server's API and seen
// in the other's next boot script (LISTEN/NOTIFY), exported back to YAML with the edit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveShared, stateUrl, type SharedServer } from '../testing/shared-servers.js';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { waitUntilAsync } from '../testing/wait-until.js';
import { inventoryCommand } from '../cli/inventory-db.js';
import { nodeCommand } from '../cli/inventory.js';

const pg = postgresFixture();
const N1 = '52:54:00:15:0e:11';
const N2 = '52:54:00:15:0e:12';

type Served = SharedServer;

// Each file's own inventory: what the database's replaces.
function serve(t: { after(fn: () => Promise<void>): void }, dir: string, address: string, state: string): Promise<Served> {
  return serveShared(t, { dir, address, state, inventory: `profiles:
  default:
    kernel: /nonexistent/vmlinuz
    cmdline: file-of-${address}` });
}

async function script(s: Served, mac: string): Promise<string> {
  return (await fetch(`http://${s.address}:${s.port}/boot/${mac}.ipxe`)).text();
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await inventoryCommand(argv, { stdout: (x) => (out += x), stderr: (x) => (err += x) });
  return { code, out, err };
}

test("an imported inventory is every server's; an edit through A's API is in B's next boot script; export gives it back", async (t) => {
  const cluster = await pg.cluster();
  const cfg = await cluster.database();
  const url = stateUrl(cfg);
  const dir = await mkdtemp(join(tmpdir(), 'diskless-shared-inventory-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = await serve(t, dir, '127.0.0.2', url);
  const b = await serve(t, dir, '127.0.0.3', url);
  assert.match(await script(b, N1), /cannot boot|unknown|not in the inventory/i, 'N1 is in no file');

  // A refused import names the file, the line and the key, and stores nothing.
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, `profiles:\n  default:\n    kernel: /nonexistent/vmlinuz\nnodes:\n  - mac: ${N1}\n    hostname: "not a hostname!"\n`);
  const refused = await cli(['import', bad, '--config', a.file]);
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.err, new RegExp(`${bad.replace(/[.]/g, '\\.')}:6.*hostname`));
  assert.equal((await cli(['export', '--config', a.file])).code, 1, 'nothing stored');

  const inv = join(dir, 'inventory.yaml');
  await writeFile(inv, `# the site's machines
profiles:
  default:
    kernel: /nonexistent/vmlinuz
    cmdline: shared-one
nodes:
  - mac: ${N1}
    hostname: n1 # rack 1
`);
  const imported = await cli(['import', inv, '--config', a.file]);
  assert.equal(imported.code, 0, imported.err);
  assert.match(imported.out, /imported 1 node\(s\) and 1 profile\(s\)/);
  for (const s of [a, b]) await waitUntilAsync(`${s.address} serves the imported inventory`, async () => (await script(s, N1)).includes('shared-one'));

  // An admin edit through A's API: B's next boot script has it.
  const token = (await readFile(join(a.stateDir, 'admin-token'), 'utf8')).trim();
  const call = (path: string, body: unknown) => fetch(`http://127.0.0.1:${a.apiPort}/api/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const added = await call('/nodes', { mac: N2, hostname: 'n2' });
  assert.equal(added.status, 201, await added.text());
  const edited = await call(`/nodes/${N1}`, { cmdline: 'edited-through-a' });
  assert.ok(edited.ok, await edited.text());
  const since = Date.now();
  await waitUntilAsync('B serves the edit', async () => (await script(b, N1)).includes('edited-through-a'));
  t.diagnostic(`the edit reached B's boot script in ${Date.now() - since} ms`);
  assert.match(await script(b, N2), /shared-one/, 'the node added through A boots from B');
  // B's own file is untouched: the database's inventory replaces its keys only while served.
  assert.match(await readFile(b.file, 'utf8'), /file-of-127\.0\.0\.3/);

  const exported = await cli(['export', '--config', b.file]);
  assert.equal(exported.code, 0, exported.err);
  assert.match(exported.out, /# the site's machines/);
  assert.match(exported.out, /hostname: n1 # rack 1/);
  assert.match(exported.out, /edited-through-a/);
  assert.match(exported.out, new RegExp(N2));
  assert.doesNotMatch(exported.out, /server:|state:/, 'only the inventory');

  // `diskless node set` on B's host edits the shared inventory too, not B's file.
  assert.equal(await nodeCommand(['set', N2, '--cmdline', 'via-the-cli', '--config', b.file]), 0);
  await waitUntilAsync('A serves the CLI edit', async () => (await script(a, N2)).includes('via-the-cli'));
  assert.doesNotMatch(await readFile(b.file, 'utf8'), /via-the-cli/);
});
