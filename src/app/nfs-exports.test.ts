import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import { ImageStore } from '../images/store/image-store.js';
import { nfsClients, nfsPlan } from './nfs-exports.js';

const store = new ImageStore({ root: '/var/lib/diskless/images' });
const base = `server: { address: 10.77.0.1, interface: br0, state_dir: /var/lib/diskless }
dhcp: { mode: off }
`;

test('nfsPlan: v4 is always served; a v3 profile adds v3 beside it, never instead of it', () => {
  const v4 = nfsPlan(parseConfig(base + 'profiles:\n  a: { image: deb, root: { mode: nfs } }\n', 'x.yaml'), store);
  assert.deepEqual(v4?.versions, [4]);
  const v3 = nfsPlan(parseConfig(base + 'profiles:\n  a: { image: deb, root: { mode: nfs, version: 3 } }\n', 'x.yaml'), store);
  assert.deepEqual(v3?.versions, [3, 4]);
  assert.deepEqual(v3?.exports, [{ id: 1, path: '/var/lib/diskless/images/deb/trees', pseudo: '/images/deb' }]);
  assert.deepEqual(v3?.images, ['deb']);
});

test('nfsPlan: a filer we do not serve needs no ganesha; no NFS profile, no plan', () => {
  assert.equal(nfsPlan(parseConfig(base + 'profiles:\n  a: { image: deb, root: { mode: nfs, server: 10.9.0.5, path: /export/deb, version: 3 } }\n', 'x.yaml'), store), undefined);
  assert.equal(nfsPlan(parseConfig(base + 'profiles:\n  a: { image: deb }\n', 'x.yaml'), store), undefined);
});

test('nfsClients: the inventory keyword lists the reserved addresses, once each', () => {
  const c = parseConfig(base.replace('state_dir: /var/lib/diskless', 'state_dir: /var/lib/diskless, nfs_clients: inventory') + `profiles:
  a: { image: deb, root: { mode: nfs } }
  b: { image: deb }
nodes:
  - { mac: 52:54:00:00:00:02, profile: a, address: 10.77.0.20 }
  - { mac: 52:54:00:00:00:01, profile: a, address: 10.77.0.10 }
  - { mac: 52:54:00:00:00:03, profile: b }
`, 'x.yaml');
  assert.deepEqual(nfsClients(c), ['10.77.0.10', '10.77.0.20']);
});
