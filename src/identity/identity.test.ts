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
import { parseProcNetArp } from './address-owner.js';
import { SecretsWindows } from './secrets-windows.js';
import { BootTokens } from './boot-tokens.js';
import { nodeFilesEndpoint, NODE_FILES_PATH } from '../api/node-files-endpoint.js';
import { renderTemplate } from '../config/template.js';

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

test('a boot script carries a token only during its machine\'s boot, and only when that machine asks for it', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'dl-tokens-'));
  t.after(() => rm(state, { recursive: true, force: true }));
  const cfg = parseConfig(CONFIG(state), join(state, 'c.yaml'));
  const logger = memoryLogger();
  const owners: Record<string, string> = { '10.77.0.11': '52:54:00:aa:bb:01', '10.77.0.12': '52:54:00:aa:bb:02' };
  const windows = await SecretsWindows.open({ windowMs: 60_000 });
  const tokens = new BootTokens(new TokenIssuer(), windows, async (ip) => owners[ip], logger);
  const tree = new BootTree(() => cfg, 'http://10.77.0.1', undefined, { tokenFor: (mac, peer) => tokens.forScript(mac, peer), secretsUrl: 'https://10.77.0.1:443' });
  const script = async (path: string, peer?: string) => {
    const f = await tree.resolve(path, peer);
    return (await f!.read(0, f!.size)).toString();
  };
  assert.doesNotMatch(await script('boot/52-54-00-aa-bb-01.ipxe', '10.77.0.11'), /token/, 'no boot in progress: no token, even for the machine itself');
  windows.openFor('52:54:00:aa:bb:01', '10.77.0.11');
  const own = await script('boot/52-54-00-aa-bb-01.ipxe', '10.77.0.11');
  assert.match(own, / rd\.diskless\.token=[A-Za-z0-9_-]{43} diskless\.secrets=https:\/\/10\.77\.0\.1:443 BOOTIF=/);
  assert.notEqual(own, await script('boot/52-54-00-aa-bb-01.ipxe', '10.77.0.11'), 'a new token per fetch');
  assert.match(await script('pxelinux.cfg/01-52-54-00-aa-bb-01', '::ffff:10.77.0.11'), /APPEND .* rd\.diskless\.token=[A-Za-z0-9_-]{43}/);
  for (const [peer, peerMac] of [['10.77.0.12', '52:54:00:aa:bb:02'], ['10.77.0.99', 'unknown']] as const) {
    assert.doesNotMatch(await script('boot/52-54-00-aa-bb-01.ipxe', peer), /token/);
    assert.ok(logger.lines.some((l) => l.alert === true && l.mac === '52:54:00:aa:bb:01' && l.peer === peer && l.peerMac === peerMac));
  }
  assert.doesNotMatch(await script('boot/52-54-00-aa-bb-01.ipxe'), /token/, 'no peer, no token');
  // Behind a relay the neighbour table knows nobody: only the address our DHCP gave that MAC
  // in this boot counts, not any address a client claims.
  assert.match(await script('boot/52-54-00-aa-bb-01.ipxe', '10.99.0.5'), /^(?!.*token)/s);
  windows.openFor('52:54:00:aa:bb:01', '10.99.0.5');
  assert.match(await script('boot/52-54-00-aa-bb-01.ipxe', '10.99.0.5'), /rd\.diskless\.token=/, 'off-link, from the address DHCP gave it');
  assert.doesNotMatch(await script('boot/52-54-00-aa-bb-01.ipxe', '10.99.0.6'), /token/, 'off-link, from another address');
  windows.close('52:54:00:aa:bb:01', 'switch_root');
  assert.doesNotMatch(await script('boot/52-54-00-aa-bb-01.ipxe', '10.77.0.11'), /token/, 'after switch_root: nothing until the next boot');
});

test('a token store out of reach: the script goes without a token and the redemption is answered 503, not a failed request', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'dl-tokens-'));
  t.after(() => rm(state, { recursive: true, force: true }));
  const cfg = parseConfig(CONFIG(state), join(state, 'c.yaml'));
  const logger = memoryLogger();
  const windows = await SecretsWindows.open({ windowMs: 60_000 });
  const down = { issue: async (): Promise<string> => { throw new Error('connection refused'); }, redeem: async (): Promise<never> => { throw new Error('connection refused'); } };
  const tokens = new BootTokens(down, windows, async () => '52:54:00:aa:bb:01', logger);
  const tree = new BootTree(() => cfg, 'http://10.77.0.1', undefined, { tokenFor: (mac, peer) => tokens.forScript(mac, peer), secretsUrl: 'https://10.77.0.1:443' });
  windows.openFor('52:54:00:aa:bb:01', '10.77.0.11');
  const f = await tree.resolve('boot/52-54-00-aa-bb-01.ipxe', '10.77.0.11');
  const text = (await f!.read(0, f!.size)).toString();
  assert.match(text, /kernel /);
  assert.doesNotMatch(text, /token/);
  assert.ok(logger.lines.some((l) => l.msg === 'boot script without a secrets token: the token could not be stored'));
  const secrets = await SecretStore.open({ stateDir: state });
  const http = new HttpServer({ address: '127.0.0.1', port: 0, handlers: [nodeFilesEndpoint({ config: () => cfg, tokens: down, windows, witness: async () => '52:54:00:aa:bb:01', secrets, logger })] });
  await http.start();
  t.after(() => http.stop());
  const r = await fetch(`http://127.0.0.1:${http.port}${NODE_FILES_PATH}`, { method: 'POST', body: `token=${'a'.repeat(43)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '5');
  assert.notEqual(windows.get('52:54:00:aa:bb:01'), undefined, 'the window stays open for the retry');
});

test('node-files: the asking machine gets its own bundle once, inside its boot; reuse, other machines, expiry and junk are refused', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'dl-nodefiles-'));
  t.after(() => rm(state, { recursive: true, force: true }));
  const cfg = parseConfig(CONFIG(state), join(state, 'c.yaml'));
  let now = 1_000_000;
  const issuer = new TokenIssuer({ ttlMs: 60_000, now: () => now });
  const windows = await SecretsWindows.open({ windowMs: 600_000, now: () => now });
  const secrets = await SecretStore.open({ stateDir: state });
  const logger = memoryLogger();
  const A = '52:54:00:aa:bb:01';
  const B = '52:54:00:aa:bb:02';
  // Who the neighbour table says holds 127.0.0.1.
  let onLink: string | undefined = A;
  const http = new HttpServer({ address: '127.0.0.1', port: 0, handlers: [nodeFilesEndpoint({ config: () => cfg, tokens: issuer, windows, witness: async () => onLink, secrets, logger })] });
  await http.start();
  t.after(() => http.stop());
  const post = async (body: string, method = 'POST') => {
    const r = await fetch(`http://127.0.0.1:${http.port}${NODE_FILES_PATH}`, { method, ...(method === 'POST' ? { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}) });
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type'), cache: r.headers.get('cache-control') };
  };
  const hostKey = (cpio: Buffer) => spawnSync('cpio', ['-i', '--to-stdout', '--quiet', 'etc/ssh/ssh_host_ed25519_key'], { input: cpio, encoding: 'utf8' }).stdout;

  windows.openFor(A);
  const t1 = issuer.issue(A, '127.0.0.1');
  const ok = await post(`mac=${A}&token=${t1}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.type, 'application/x-cpio');
  assert.equal(ok.cache, 'no-store');
  const listing = spawnSync('cpio', ['-t', '--quiet'], { input: ok.body, encoding: 'utf8' });
  assert.deepEqual(listing.stdout.trim().split('\n').filter((l) => l.startsWith('etc/ssh/ssh_host_')).length, 6);
  assert.equal(windows.get(A), undefined, 'the first redemption closes the window');
  assert.equal((await post(`mac=${A}&token=${t1}`)).status, 403, 'reused');

  // The MAC a client claims chooses nothing: A's token gets A's files, whatever it says.
  windows.openFor(A);
  const t2 = issuer.issue(A, '127.0.0.1');
  const claimed = await post(`mac=${B}&token=${t2}`);
  assert.equal(claimed.status, 200);
  const keyOfA = (await secrets.hostKeys(A, 'n1')).files.find((f) => f.path.endsWith('/ssh_host_ed25519_key'))!.content.toString();
  assert.equal(hostKey(claimed.body), keyOfA, 'A\'s files, never B\'s');

  // The neighbour table says another machine holds the address now.
  windows.openFor(A);
  const t3 = issuer.issue(A, '127.0.0.1');
  onLink = B;
  const stolen = await post(`token=${t3}`);
  assert.equal(stolen.status, 403);
  assert.match(stolen.body.toString(), /wrong-address/);
  onLink = A;

  windows.openFor(A);
  const t4 = issuer.issue(A, '127.0.0.1');
  now += 61_000;
  assert.match((await post(`mac=${A}&token=${t4}`)).body.toString(), /expired/);

  // A valid token outside the boot (after switch_root): refused, an alert.
  const t5 = issuer.issue(A, '127.0.0.1');
  windows.close(A, 'switch_root');
  const late = await post(`token=${t5}`);
  assert.equal(late.status, 403);
  assert.match(late.body.toString(), /outside-boot/);

  assert.equal((await post('token=x')).status, 403, 'junk outside a boot');
  assert.equal((await post(`mac=${A}&token=${'x'.repeat(2000)}`)).status, 413);
  assert.equal((await post('', 'GET')).status, 405);
  const alerts = logger.lines.filter((l) => l.alert === true).map((l) => l.reason);
  assert.deepEqual(alerts, ['reused', 'wrong-address', 'outside-boot', 'unknown']);
});
