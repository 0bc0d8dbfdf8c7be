// A machine is sent to its own subnet's boot server address in everything it is given: the
// iPXE script's base, root= arguments (live, NBD, NFS), diskless.server, the secrets URL with
// its token, pxelinux configs, and the {{server}} of its files. The boot tree finds the subnet
// from the address the machine asks from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { BootTree, subnetBaseUrl, subnetSecretsUrl } from './boot-tree.js';
import { templateValues } from '../identity/node-files.js';

async function fixture(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'dl-subnet-urls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'boot'));
  for (const f of ['vmlinuz', 'initrd', 'root.sqfs']) await writeFile(join(dir, 'boot', f), f);
  const cfg = parseConfig(`server:
  address: 10.1.0.1
  http_port: 8080
dhcp:
  mode: full
  domain: fleet.test
  subnets:
    - { network: 10.1.0.0/24, interface: up0, pool: 10.1.0.100-10.1.0.150 }
    - { network: 10.2.0.0/24, pool: 10.2.0.100-10.2.0.150, domain: rack2.test }
    - { network: 10.3.0.0/24, interface: lab3, pool: 10.3.0.100-10.3.0.150, server_address: 10.3.0.1 }
profiles:
  live: { kernel: boot/vmlinuz, initrd: boot/initrd, root: { mode: live, image: boot/root.sqfs } }
  net: { kernel: boot/vmlinuz, initrd: boot/initrd, root: { mode: nbd, image: boot/root.sqfs } }
  tree: { kernel: boot/vmlinuz, initrd: boot/initrd, root: { mode: nfs, dir: boot }, loader: pxelinux }
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, profile: live }
  - { mac: "52:54:00:00:00:02", hostname: n2, profile: net }
  - { mac: "52:54:00:00:00:03", hostname: n3, profile: tree, address: 10.3.0.33 }
`, join(dir, 'diskless.yaml'));
  const tokens: string[] = [];
  const tree = new BootTree(() => cfg, subnetBaseUrl(() => cfg), undefined, {
    tokenFor: async (mac, peer) => (tokens.push(`${mac}@${peer}`), 'T0KEN'),
    secretsUrl: subnetSecretsUrl(() => cfg),
  });
  return { cfg, tree, tokens };
}

async function text(tree: BootTree, path: string, peer: string): Promise<string> {
  const f = await tree.resolve(path, peer);
  assert.ok(f, `${path} for ${peer}`);
  return (await f.read(0, f.size)).toString();
}

test('an iPXE script names the asking machine\'s subnet server in its base, root and secrets URLs', async (t) => {
  const { tree } = await fixture(t);
  const lab3 = await text(tree, 'boot/52-54-00-00-00-01.ipxe', '10.3.0.120');
  assert.match(lab3, /\nset base http:\/\/10\.3\.0\.1:8080\n/);
  assert.match(lab3, / root=live:http:\/\/10\.3\.0\.1:8080\/images\/live\/root\.sqfs /);
  assert.match(lab3, / diskless\.server=http:\/\/10\.3\.0\.1:8080 /);
  assert.match(lab3, / rd\.diskless\.token=T0KEN diskless\.secrets=https:\/\/10\.3\.0\.1:443 /);
  // Behind the relay the subnet names no address of its own: server.address.
  const rack = await text(tree, 'boot/52-54-00-00-00-01.ipxe', '::ffff:10.2.0.120');
  assert.match(rack, /\nset base http:\/\/10\.1\.0\.1:8080\n/);
  assert.match(rack, / diskless\.secrets=https:\/\/10\.1\.0\.1:443 /);
  assert.doesNotMatch(rack, /10\.3\.0\.1/);
});

test('NBD and NFS roots and pxelinux configs use the subnet\'s server too', async (t) => {
  const { tree } = await fixture(t);
  assert.match(await text(tree, 'boot/52-54-00-00-00-02.ipxe', '10.3.0.121'), / root=nbd:10\.3\.0\.1:10809\/net /);
  assert.match(await text(tree, 'boot/52-54-00-00-00-02.ipxe', '10.2.0.121'), / root=nbd:10\.1\.0\.1:10809\/net /);
  const pxe = await text(tree, 'pxelinux.cfg/01-52-54-00-00-00-03', '10.3.0.33');
  assert.match(pxe, /\n {2}APPEND root=nfs4:10\.3\.0\.1:\/tree rd\.retry=180 diskless\.server=http:\/\/10\.3\.0\.1:8080 /);
  assert.match(await text(tree, 'pxelinux.cfg/0A030021', '10.3.0.33'), /root=nfs4:10\.3\.0\.1:\/tree/);
});

test('a node\'s {{server}} and {{domain}} are its subnet\'s', async (t) => {
  const { cfg } = await fixture(t);
  const [n1, , n3] = cfg.nodes;
  assert.deepEqual(templateValues(cfg, n3!, n3!.mac!, '10.3.0.33'), {
    hostname: 'n3', fqdn: 'n3.fleet.test', mac: '52:54:00:00:00:03', address: '10.3.0.33', profile: 'tree', domain: 'fleet.test', server: '10.3.0.1',
  });
  const rack = templateValues(cfg, n1!, n1!.mac!, '::ffff:10.2.0.120');
  assert.deepEqual([rack.server, rack.domain, rack.fqdn, rack.address], ['10.1.0.1', 'rack2.test', 'n1.rack2.test', '10.2.0.120']);
});
