// Two `diskless serve` on one PostgreSQL: each one's boot script and kernel command line name
// the other after itself (a node goes on through it if this one dies), at the other's own
// port; once a server stops, the other's next script no longer names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { startServices, type RunningServices } from './services.js';
import { freeTcpPort, freeUdpPort } from '../testing/free-ports.js';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { waitUntilAsync } from '../testing/wait-until.js';

const pg = postgresFixture();
const N1 = '52:54:00:15:0d:01';

async function serve(dir: string, address: string, state: string | undefined): Promise<{ port: number; services: RunningServices }> {
  const port = await freeTcpPort();
  const file = join(dir, `${address}.yaml`);
  await writeFile(file, `server:
  address: ${address}
  http_port: ${port}
  https_port: ${await freeTcpPort()}
  tftp_port: ${await freeUdpPort()}
  nbd_port: ${await freeTcpPort()}
  state_dir: ${join(dir, address)}
dhcp:
  mode: off
profiles:
  live:
    kernel: ${join(dir, 'vmlinuz')}
    initrd: ${join(dir, 'initrd')}
    root: { mode: live, image: ${join(dir, 'root.sqfs')} }
nodes:
  - { mac: "${N1}", hostname: n1, profile: live }
api:
  port: ${await freeTcpPort()}
${state === undefined ? '' : `state:
  url: ${state}
  secrets_key_file: ${join(dir, 'secrets.key')}
`}`);
  const services = await startServices(loadConfig(file), { watchConfig: false });
  return { port, services };
}

const script = async (address: string, port: number) => (await fetch(`http://${address}:${port}/boot/${N1}.ipxe`)).text();

test('with shared state each server\'s boot script names the other live server after itself, for each file and on the command line; a stopped one is dropped', async (t) => {
  const cluster = await pg.cluster();
  const cfg = await cluster.database();
  const url = `postgres://postgres@:${cfg.port}/${cfg.database}?host=${cfg.host}`;
  const dir = await mkdtemp(join(tmpdir(), 'diskless-shared-failover-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const f of ['vmlinuz', 'initrd', 'root.sqfs']) await writeFile(join(dir, f), f);
  const a = await serve(dir, '127.0.0.2', url);
  t.after(() => a.services.stop());
  const b = await serve(dir, '127.0.0.3', url);
  let bStopped = false;
  t.after(() => (bStopped ? undefined : b.services.stop()));
  const A = `http://127.0.0.2:${a.port}`;
  const B = `http://127.0.0.3:${b.port}`;

  // A read the servers table before B started: within a heartbeat it names B.
  let fromA = '';
  await waitUntilAsync("B in A's script", async () => (fromA = await script('127.0.0.2', a.port)).includes('set peer1'), 10_000);
  assert.match(fromA, new RegExp(`\\nset base ${A}\\nset peer1 ${B}\\n`));
  assert.match(fromA, new RegExp(`\\nkernel \\$\\{base\\}/profiles/live/kernel [^|]* diskless\\.server=${A} rd\\.diskless\\.peer=${B} [^|]* \\|\\| kernel \\$\\{peer1\\}/profiles/live/kernel [^|]* \\|\\| goto failed\\n`));
  assert.match(fromA, /\ninitrd --name initrd-0 \$\{base\}\/profiles\/live\/initrd-0 \|\| initrd --name initrd-0 \$\{peer1\}\/profiles\/live\/initrd-0 \|\| goto failed\n/);
  const fromB = await script('127.0.0.3', b.port);
  assert.match(fromB, new RegExp(` diskless\\.server=${B} rd\\.diskless\\.peer=${A} `));
  // The peer's files are there at the same paths: what the script's fallback asks for.
  assert.equal(await (await fetch(`${B}/profiles/live/kernel`)).text(), 'vmlinuz');

  // B stops cleanly (marked stopped in the database): A's next scripts name A alone.
  await b.services.stop();
  bStopped = true;
  let alone = '';
  await waitUntilAsync("B gone from A's script", async () => !(alone = await script('127.0.0.2', a.port)).includes('peer'), 10_000);
  assert.match(alone, /\nkernel \$\{base\}\/profiles\/live\/kernel [^|]* \|\| goto failed\n/);
});

test('with file state (one server) the script names no peer', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskless-file-failover-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const f of ['vmlinuz', 'initrd', 'root.sqfs']) await writeFile(join(dir, f), f);
  const a = await serve(dir, '127.0.0.2', undefined);
  t.after(() => a.services.stop());
  const s = await script('127.0.0.2', a.port);
  assert.match(s, /\nkernel \$\{base\}\/profiles\/live\/kernel /);
  assert.doesNotMatch(s, /peer/);
});
