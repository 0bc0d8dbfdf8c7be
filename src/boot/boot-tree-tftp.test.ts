import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { TftpServer } from '../protocols/tftp/server.js';
import { encodeAck } from '../protocols/tftp/encode.js';
import { TestClient } from '../protocols/tftp/testdata/udp-client.js';
import { BootTree } from './boot-tree.js';

/**
 * The boot tree behind the TFTP server, wired as `startServices` wires it. A transfer takes
 * many reads (one per 128 KiB here); a name swapped or symlinked between them must not change
 * what the client gets: every block comes from the descriptor opened at the request.
 */

const SIZE = 600 * 1024; // five read-ahead chunks

async function fixture(t: { after(fn: () => Promise<void>): void }) {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'dl-tree-tftp-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'root'));
  await mkdir(join(dir, 'boot'));
  const original = randomBytes(SIZE);
  await writeFile(join(dir, 'root', 'file.bin'), original);
  await writeFile(join(dir, 'boot', 'vmlinuz'), original);
  await writeFile(join(dir, 'secret'), randomBytes(SIZE));
  const cfg = parseConfig(`server:
  address: 127.0.0.1
  tftp_root: root
dhcp: { mode: off }
profiles:
  default:
    kernel: boot/vmlinuz
`, join(dir, 'diskless.yaml'));
  const tree = new BootTree(() => cfg, 'http://127.0.0.1');
  const server = new TftpServer({ address: '127.0.0.1', port: 0, files: (p, peer) => tree.open(p, peer.address) });
  await server.start();
  t.after(() => server.stop());
  return { dir, original, port: server.address().port, server };
}

/** Fetches `name` in 512-byte lockstep and runs `midway` once block 1 is in. */
async function fetchSwapping(port: number, name: string, midway: () => Promise<void>): Promise<Buffer> {
  const client = await TestClient.open();
  try {
    client.sendPacket({ type: 'rrq', filename: name, mode: 'octet', options: [] }, port);
    const chunks: Buffer[] = [];
    for (let block = 1; ; block++) {
      const n = await client.next(5000);
      assert.ok(n, `block ${block}: silence`);
      if (n.packet.type === 'error') throw new Error(`ERROR ${n.packet.code} ${n.packet.message} at block ${block}`);
      assert.ok(n.packet.type === 'data' && n.packet.block === (block & 0xffff), `block ${block}`);
      chunks.push(Buffer.from(n.packet.data));
      if (block === 1) await midway();
      client.send(encodeAck(n.packet.block), n.from.port);
      if (n.packet.data.length < 512) return Buffer.concat(chunks);
    }
  } finally {
    client.close();
  }
}

test('a tftp_root file replaced mid-transfer by another of the same size: the original bytes are served', async (t) => {
  const { dir, original, port } = await fixture(t);
  await writeFile(join(dir, 'replacement'), randomBytes(SIZE));
  const got = await fetchSwapping(port, 'file.bin', () => rename(join(dir, 'replacement'), join(dir, 'root', 'file.bin')));
  assert.ok(got.equals(original), 'the replacement leaked into the transfer');
});

test('a tftp_root file swapped mid-transfer for a symlink out of the root: the original bytes are served, never the target', async (t) => {
  const { dir, original, port } = await fixture(t);
  const got = await fetchSwapping(port, 'file.bin', async () => {
    await unlink(join(dir, 'root', 'file.bin'));
    await symlink(join(dir, 'secret'), join(dir, 'root', 'file.bin'));
  });
  assert.ok(got.equals(original), 'the symlink target leaked into the transfer');
});

test('a configured kernel replaced mid-transfer: the original bytes are served', async (t) => {
  const { dir, original, port } = await fixture(t);
  await writeFile(join(dir, 'replacement'), randomBytes(SIZE));
  const got = await fetchSwapping(port, 'profiles/default/kernel', () => rename(join(dir, 'replacement'), join(dir, 'boot', 'vmlinuz')));
  assert.ok(got.equals(original));
});

test('a tftp_root file swapped for a symlink between the lookup and the open: open() refuses it', async (t) => {
  const { dir } = await fixture(t);
  const cfg = parseConfig(`server:
  address: 127.0.0.1
  tftp_root: root
dhcp: { mode: off }
profiles: {}
`, join(dir, 'diskless.yaml'));
  const tree = new BootTree(() => cfg, 'http://127.0.0.1');
  const file = await tree.resolve('file.bin');
  assert.ok(file, 'looked up while still a regular file');
  await unlink(join(dir, 'root', 'file.bin'));
  await symlink(join(dir, 'secret'), join(dir, 'root', 'file.bin'));
  assert.equal(await file.open(), undefined, 'opened through the swapped-in symlink');
});

test('over HTTP too: a tftp_root file swapped for a symlink after the lookup fails the stream, and the target is never sent', async (t) => {
  const { dir } = await fixture(t);
  const cfg = parseConfig(`server:
  address: 127.0.0.1
  tftp_root: root
dhcp: { mode: off }
profiles: {}
`, join(dir, 'diskless.yaml'));
  const tree = new BootTree(() => cfg, 'http://127.0.0.1');
  const file = await tree.resolve('file.bin');
  assert.ok(file, 'looked up while still a regular file');
  await unlink(join(dir, 'root', 'file.bin'));
  await symlink(join(dir, 'secret'), join(dir, 'root', 'file.bin'));
  const sent: Buffer[] = [];
  await assert.rejects(async () => {
    for await (const chunk of file.stream(0, file.size - 1)) sent.push(chunk as Buffer);
  }, /ELOOP/);
  assert.deepEqual(sent, []);
});

test('a name tftp_root refuses is answered "Access violation" through the boot tree, which TFTP asks alone', async (t) => {
  const { dir, port } = await fixture(t);
  await symlink(join(dir, 'secret'), join(dir, 'root', 'escape'));
  const client = await TestClient.open();
  try {
    for (const [name, code] of [['escape', 2], ['../secret', 2], ['missing.bin', 1]] as const) {
      client.sendPacket({ type: 'rrq', filename: name, mode: 'octet', options: [] }, port);
      const reply = await client.next(5000);
      assert.ok(reply?.packet.type === 'error', `${name}: ${reply?.packet.type ?? 'silence'}`);
      assert.equal(reply.packet.code, code, name);
    }
  } finally {
    client.close();
  }
});
