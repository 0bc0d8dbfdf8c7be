import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { memoryLogger } from '../log/logger.js';
import { HttpServer } from '../http/server.js';
import { BootTree } from '../boot/boot-tree.js';
import { SecretStore } from '../secrets/secret-store.js';
import { TokenIssuer } from '../secrets/tokens.js';
import { parseProcNetArp, firstOwner } from './address-owner.js';
import { BootTokens } from './boot-tokens.js';
import { nodeFilesEndpoint, NODE_FILES_PATH } from './node-files-endpoint.js';
import { renderTemplate } from './template.js';

// /proc/net/arp as Linux 6.1 prints it: one complete entry, one incomplete (flags 0x0).
const ARP = `IP address       HW type     Flags       HW address            Mask     Device
10.77.0.11       0x1         0x2         52:54:00:aa:bb:01     *        br0
10.77.0.12       0x1         0x0         00:00:00:00:00:00     *        br0
10.77.0.13       0x1         0x6         52:54:00:AA:BB:03     *        br0
`;

test('the neighbour table gives complete entries only, MACs normalized', () => {
  assert.deepEqual([...parseProcNetArp(ARP)], [['10.77.0.11', '52:54:00:aa:bb:01'], ['10.77.0.13', '52:54:00:aa:bb:03']]);
  assert.deepEqual([...parseProcNetArp('')], []);
  assert.deepEqual([...parseProcNetArp('header\ngarbage line\n\n')], []);
});

test('firstOwner asks each source in turn', async () => {
  const owner = firstOwner(async () => undefined, async (ip) => (ip === '10.0.0.5' ? '52:54:00:00:00:05' : undefined));
  assert.equal(await owner('10.0.0.5'), '52:54:00:00:00:05');
  assert.equal(await owner('10.0.0.6'), undefined);
});

test('templates fill known names and refuse unknown ones; nothing else is syntax', () => {
  const v = { hostname: 'n1', fqdn: 'n1.lab', mac: 'm', address: 'a', profile: 'p', domain: 'lab', server: 's' };
  assert.equal(renderTemplate('{{hostname}} {{ fqdn }} $HOME `x` %s {{mac}}', v), 'n1 n1.lab $HOME `x` %s m');
  assert.throws(() => renderTemplate('{{password}}', v), /unknown template variable \{\{password\}\}/);
});

const CONFIG = (state: string) => `
server: { address: 10.77.0.1, state_dir: ${state} }
dhcp: { mode: off }
profiles:
  p:
    kernel: /k
    root: { mode: nfs, dir: /srv }
nodes:
  - { mac: "52:54:00:aa:bb:01", hostname: n1, profile: p }
  - { mac: "52:54:00:aa:bb:02", hostname: n2, profile: p }
`;

test('a boot script carries a token only when its own machine asks for it', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'dl-tokens-'));
  t.after(() => rm(state, { recursive: true, force: true }));
  const cfg = parseConfig(CONFIG(state), join(state, 'c.yaml'));
  const logger = memoryLogger();
  const owners: Record<string, string> = { '10.77.0.11': '52:54:00:aa:bb:01', '10.77.0.12': '52:54:00:aa:bb:02' };
  const tokens = new BootTokens(new TokenIssuer(), async (ip) => owners[ip], logger);
  const tree = new BootTree(() => cfg, 'http://10.77.0.1', undefined, { tokenFor: (mac, peer) => tokens.forScript(mac, peer) });
  const script = async (path: string, peer?: string) => {
    const f = await tree.resolve(path, peer);
    return (await f!.read(0, f!.size)).toString();
  };
  const own = await script('boot/52-54-00-aa-bb-01.ipxe', '10.77.0.11');
  assert.match(own, / rd\.diskless\.token=[A-Za-z0-9_-]{43} BOOTIF=/);
  assert.notEqual(own, await script('boot/52-54-00-aa-bb-01.ipxe', '10.77.0.11'), 'a new token per fetch');
  assert.match(await script('pxelinux.cfg/01-52-54-00-aa-bb-01', '::ffff:10.77.0.11'), /APPEND .* rd\.diskless\.token=[A-Za-z0-9_-]{43}/);
  for (const [peer, peerMac] of [['10.77.0.12', '52:54:00:aa:bb:02'], ['10.77.0.99', 'unknown']] as const) {
    assert.doesNotMatch(await script('boot/52-54-00-aa-bb-01.ipxe', peer), /token/);
    assert.ok(logger.lines.some((l) => l.alert === true && l.mac === '52:54:00:aa:bb:01' && l.peer === peer && l.peerMac === peerMac));
  }
  assert.doesNotMatch(await script('boot/52-54-00-aa-bb-01.ipxe'), /token/, 'no peer, no token');
});

test('node-files: the right node gets its bundle once; other MACs, reuse, expiry and junk are refused', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'dl-nodefiles-'));
  t.after(() => rm(state, { recursive: true, force: true }));
  const cfg = parseConfig(CONFIG(state), join(state, 'c.yaml'));
  let now = 1_000_000;
  const issuer = new TokenIssuer({ ttlMs: 60_000, now: () => now });
  const secrets = await SecretStore.open({ stateDir: state });
  const logger = memoryLogger();
  const http = new HttpServer({ address: '127.0.0.1', port: 0, resolve: async () => undefined, handlers: [nodeFilesEndpoint({ config: () => cfg, tokens: issuer, secrets, logger })] });
  await http.start();
  t.after(() => http.stop());
  const post = async (body: string, method = 'POST') => {
    const r = await fetch(`http://127.0.0.1:${http.port}${NODE_FILES_PATH}`, { method, ...(method === 'POST' ? { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}) });
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type'), cache: r.headers.get('cache-control') };
  };
  const A = '52:54:00:aa:bb:01';
  const B = '52:54:00:aa:bb:02';

  const t1 = issuer.issue(A, '127.0.0.1');
  const ok = await post(`mac=${A}&token=${t1}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.type, 'application/x-cpio');
  assert.equal(ok.cache, 'no-store');
  const listing = spawnSync('cpio', ['-t', '--quiet'], { input: ok.body, encoding: 'utf8' });
  assert.deepEqual(listing.stdout.trim().split('\n').filter((l) => l.startsWith('etc/ssh/ssh_host_')).length, 6);
  assert.equal((await post(`mac=${A}&token=${t1}`)).status, 403, 'reused');

  const t2 = issuer.issue(A, '127.0.0.1');
  const other = await post(`mac=${B}&token=${t2}`);
  assert.equal(other.status, 403, 'A\'s token for B\'s files');
  assert.match(other.body.toString(), /wrong-address/);

  const t3 = issuer.issue(A, '127.0.0.1');
  now += 61_000;
  assert.match((await post(`mac=${A}&token=${t3}`)).body.toString(), /expired/);

  assert.equal((await post('mac=nonsense&token=x')).status, 400);
  assert.equal((await post(`mac=${A}&token=${'x'.repeat(2000)}`)).status, 413);
  assert.equal((await post('', 'GET')).status, 405);
  const alerts = logger.lines.filter((l) => l.alert === true).map((l) => l.reason);
  assert.deepEqual(alerts, ['reused', 'wrong-address']);
});
