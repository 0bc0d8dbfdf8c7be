// `diskless serve` in a lab namespace exporting a stored image's version over NFSv3 and v4:
// ganesha registers with the namespace's own rpcbind, a real user-space NFS client (libnfs)
// reads the pinned version's tree from a listed address, and a host on the same subnet that
// nfs_clients does not list is refused over both versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabNetwork } from './netns.js';
import { startLabRpcbind, startLabServer } from './lab-server.js';
import { ImageStore } from '../images/store/image-store.js';

test('serve: a stored version exported over NFSv3 (rpcbind in the namespace) and v4, only to nfs_clients', { skip: process.getuid?.() !== 0 ? 'needs root for namespaces' : false, timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-nfs-serve-'));
  const net = await LabNetwork.create({ foreignAddress: '10.77.0.2/24' });
  t.after(async () => {
    await net.destroy();
    if (!process.env['KEEP']) await rm(dir, { recursive: true, force: true });
  });
  const src = join(dir, 'src');
  await mkdir(join(src, 'etc'), { recursive: true });
  await writeFile(join(src, 'etc', 'os-release'), 'ID=tiny\n');
  execFileSync('mksquashfs', [src, join(dir, 'root.sqfs'), '-comp', 'gzip', '-noappend', '-quiet', '-no-progress', '-all-root']);
  await writeFile(join(dir, 'k'), 'kernel');
  await writeFile(join(dir, 'i'), 'initrd');
  const store = new ImageStore({ root: join(dir, 'state', 'images') });
  const { version } = await store.addVersion('tiny', { squashfs: join(dir, 'root.sqfs'), kernel: join(dir, 'k'), initrd: join(dir, 'i'), kernelVersion: '6.1.0-test' });
  await store.publish('tiny', version);
  const config = join(dir, 'diskless.yaml');
  await writeFile(config, `server:
  address: 10.77.0.1
  interface: br0
  http_port: 80
  state_dir: ${join(dir, 'state')}
  nfs_clients: [10.77.0.1]
dhcp: { mode: off }
profiles:
  v3: { image: tiny, root: { mode: nfs, version: 3 } }
`);
  await startLabRpcbind(net);
  await startLabServer(net, config, join(dir, 'server.log'), 60_000, { privateRun: true });
  const path = `/images/tiny/${version}/etc/os-release`;
  const cat = (ns: string, v: number) => net.exec(ns, ['nfs-cat', `nfs://10.77.0.1${path}?version=${v}`], { check: false, timeoutMs: 30_000 });
  // The published version's tree is unpacked in the background after start.
  for (const deadline = Date.now() + 60_000; (await cat(net.name, 3)).code !== 0; await new Promise((r) => setTimeout(r, 500))) {
    if (Date.now() > deadline) throw new Error('the tree was not readable over NFSv3 within 60 s');
  }
  assert.equal((await cat(net.name, 3)).stdout, 'ID=tiny\n', 'NFSv3 from a listed address');
  const ls = (ns: string, v: number) => net.exec(ns, ['nfs-ls', `nfs://10.77.0.1/images/tiny/${version}/etc?version=${v}`], { check: false, timeoutMs: 30_000 });
  for (const v of [3, 4]) {
    const r = await ls(net.name, v);
    assert.match(r.stdout, /os-release/, `NFSv${v} from a listed address: ${r.stderr}`);
  }
  const rpc = await net.exec(net.name, ['rpcinfo', '-p', '10.77.0.1']);
  assert.match(rpc.stdout, /100005\s+3\s+tcp/, 'MOUNT v3 registered with the namespace\'s rpcbind');
  for (const v of [3, 4]) {
    const r = await ls(net.foreignName!, v);
    assert.notEqual(r.code, 0, `NFSv${v} from 10.77.0.2 (not listed) must fail: ${r.stdout}`);
    assert.match(r.stderr, v === 3 ? /MNT3ERR_ACCES/ : /NFS4ERR_NOENT|NFS4ERR_ACCESS|NFS4ERR_PERM/);
  }
});
