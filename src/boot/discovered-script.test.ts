import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import { BootTree } from './boot-tree.js';

const yaml = (unknown: string) => `server: { address: 10.0.0.1, http_port: 8080 }
dhcp: { mode: proxy, unknown_clients: ${unknown} }
profiles:
  default: { kernel: /k }
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1 }
default_profile: default
`;

async function script(tree: BootTree, mac: string): Promise<string> {
  const f = await tree.resolve(`boot/${mac}.ipxe`, '10.0.0.77');
  assert.ok(f, 'a script');
  return (await f.read(0, f.size)).toString();
}

test('under register an unknown MAC waits to be adopted, re-chaining its own script', async () => {
  const seen: Array<[string, string | undefined]> = [];
  const tree = new BootTree(() => parseConfig(yaml('register'), 'd.yaml'), 'http://10.0.0.1:8080', undefined, { onUnknownMac: (mac, peer) => seen.push([mac, peer]) });
  const s = await script(tree, '52-54-00-00-00-99');
  assert.match(s, /^#!ipxe\n/);
  assert.match(s, /registered as discovered, waiting for `diskless node adopt 52:54:00:00:00:99`/);
  assert.match(s, /^sleep 30$/m);
  assert.match(s, /^chain --replace --autofree \$\{base\}\/boot\/52-54-00-00-00-99\.ipxe \|\| goto wait$/m);
  assert.doesNotMatch(s, /^kernel /m, 'default_profile is not booted under register');
  assert.deepEqual(seen, [['52:54:00:00:00:99', '10.0.0.77']]);
});

test('a known node boots as before and is not reported as unknown', async () => {
  const seen: string[] = [];
  const tree = new BootTree(() => parseConfig(yaml('register'), 'd.yaml'), 'http://10.0.0.1:8080', undefined, { onUnknownMac: (mac) => void seen.push(mac) });
  assert.match(await script(tree, '52-54-00-00-00-01'), /^kernel \$\{base\}\/profiles\/default\/kernel /m);
  assert.deepEqual(seen, []);
});

test('allow boots default_profile and deny explains; both still report the unknown MAC', async () => {
  const seen: string[] = [];
  const hooks = { onUnknownMac: (mac: string) => void seen.push(mac) };
  const allow = new BootTree(() => parseConfig(yaml('allow'), 'd.yaml'), 'http://10.0.0.1:8080', undefined, hooks);
  const deny = new BootTree(() => parseConfig(yaml('deny'), 'd.yaml'), 'http://10.0.0.1:8080', undefined, hooks);
  assert.match(await script(allow, '52-54-00-00-00-99'), /^kernel /m);
  assert.match(await script(deny, '52-54-00-00-00-98'), /unknown machines are denied/);
  assert.deepEqual(seen, ['52:54:00:00:00:99', '52:54:00:00:00:98']);
});
