import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../log/logger.js';
import { encodeAck } from './encode.js';
import { bufferReader } from '../../files/sized-reader.js';
import { TftpServer, type TftpEvent, type TftpServerOptions } from './server.js';
import { fetchFile, TestClient } from './testdata/udp-client.js';
import { waitUntil } from '../../testing/wait-until.js';

let dir = '';
let root = '';
const small = randomBytes(1000);
const exact = randomBytes(1024);
const medium = randomBytes(100 * 1024 + 17);

before(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'tftp-server-')));
  root = join(dir, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(dir, 'secret'), 'outside the root');
  await writeFile(join(root, 'small.bin'), small);
  await writeFile(join(root, 'exact.bin'), exact);
  await writeFile(join(root, 'sub', 'medium.bin'), medium);
  await symlink('../secret', join(root, 'escape'));
  await symlink('sub/medium.bin', join(root, 'alias'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts a server on a free port of 127.0.0.1, runs `body`, always stops it. */
async function withServer(
  options: Partial<TftpServerOptions>,
  body: (port: number, server: TftpServer, events: TftpEvent[]) => Promise<void>,
): Promise<void> {
  const events: TftpEvent[] = [];
  const server = new TftpServer({ address: '127.0.0.1', port: 0, root, onEvent: (e) => events.push(e), ...options });
  await server.start();
  try {
    await body(server.address().port, server, events);
  } finally {
    await server.stop();
  }
}

const opt = (name: string, value: string) => ({ name, value });

test('serves a small file and logs one info line with the transfer fields', async () => {
  const logger = memoryLogger();
  await withServer({ logger }, async (port, server, events) => {
    const r = await fetchFile(port, 'small.bin');
    assert.equal(r.error, undefined);
    assert.deepEqual(r.data, small);
    assert.equal(r.oack, undefined, 'no options asked, so no OACK');
    assert.equal(r.dataPackets, 2);
    assert.deepEqual(events.map((e) => e.type), ['start', 'done']);
    assert.equal(events[1]?.bytes, 1000);
    assert.equal(server.activeTransfers, 0);
    const done = logger.lines.filter((l) => l.msg === 'transfer done');
    assert.equal(done.length, 1);
    assert.equal(done[0]?.level, 'info');
    assert.equal(done[0]?.service, 'tftp');
    assert.equal(done[0]?.file, 'small.bin');
    assert.equal(done[0]?.bytes, 1000);
    assert.equal(done[0]?.blksize, 512);
    assert.equal(done[0]?.windowsize, 1);
    assert.equal(typeof done[0]?.durationMs, 'number');
    assert.match(String(done[0]?.peer), /^127\.0\.0\.1:\d+$/);
  });
});

test('a file that is an exact multiple of blksize ends with an empty DATA', async () => {
  await withServer({}, async (port) => {
    const r = await fetchFile(port, 'exact.bin');
    assert.deepEqual(r.data, exact);
    assert.equal(r.dataPackets, 3, '512 + 512 + 0');
  });
});

test('windowsize 4 with blksize and tsize negotiated in an OACK', async () => {
  await withServer({}, async (port) => {
    const r = await fetchFile(port, '/sub/medium.bin', [opt('tsize', '0'), opt('blksize', '1024'), opt('windowsize', '4')]);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.oack, [opt('tsize', String(medium.length)), opt('blksize', '1024'), opt('windowsize', '4')]);
    assert.deepEqual(r.data, medium);
    assert.equal(r.dataPackets, Math.floor(medium.length / 1024) + 1);
  });
});

test('blksize and windowsize above the configured maximum are lowered, not refused', async () => {
  await withServer({ maxBlksize: 1468, maxWindowsize: 8 }, async (port) => {
    const r = await fetchFile(port, 'alias', [opt('blksize', '65464'), opt('windowsize', '64')]);
    assert.deepEqual(r.oack, [opt('blksize', '1468'), opt('windowsize', '8')]);
    assert.deepEqual(r.data, medium);
  });
});

test('regression, Sorcerer\'s Apprentice: duplicated ACKs never cause a second burst', async () => {
  await withServer({ timeoutMs: 5000 }, async (port) => {
    const lockstep = await fetchFile(port, 'sub/medium.bin', [], { duplicateAcks: true });
    assert.deepEqual(lockstep.data, medium);
    assert.equal(lockstep.dataPackets, Math.floor(medium.length / 512) + 1);
    const windowed = await fetchFile(port, 'sub/medium.bin', [opt('windowsize', '4')], { duplicateAcks: true });
    assert.deepEqual(windowed.data, medium);
    assert.equal(windowed.dataPackets, Math.floor(medium.length / 512) + 1);
  });
});

test('an unacknowledged block is retransmitted on timeout, then the transfer is abandoned', async () => {
  await withServer({ timeoutMs: 100, retries: 2 }, async (port, server, events) => {
    const client = await TestClient.open();
    try {
      client.sendPacket({ type: 'rrq', filename: 'small.bin', mode: 'octet', options: [] }, port);
      // The client acknowledges block 1, so `retries` applies in full to block 2 (a client that
      // never acknowledged anything gets one retransmission: peer-limits.test.ts).
      const first = await client.next(1000);
      assert.ok(first?.packet.type === 'data' && first.packet.block === 1);
      client.send(encodeAck(1), first.from.port);
      const started = Date.now();
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const n = await client.next(1000);
        assert.ok(n, `packet ${i}`);
        seen.push(n.packet.type === 'data' ? `D${n.packet.block}` : n.packet.type === 'error' ? `E${n.packet.code}` : n.packet.type);
      }
      assert.deepEqual(seen, ['D2', 'D2', 'D2', 'E0']);
      assert.ok(Date.now() - started >= 250, 'three timeouts of 100 ms');
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(server.activeTransfers, 0);
      assert.equal(events.at(-1)?.type, 'error');
      assert.match(events.at(-1)?.error ?? '', /no ACK after 2 retransmissions/);
    } finally {
      client.close();
    }
  });
});

test('20 concurrent transfers all complete intact', async () => {
  await withServer({}, async (port, server) => {
    // Twenty clients, twenty loopback addresses (one address gets at most 4 transfers).
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      fetchFile(port, i % 2 ? 'sub/medium.bin' : 'small.bin', [opt('blksize', '1432'), opt('windowsize', String(1 + (i % 8)))], { from: `127.0.1.${i + 1}` })));
    results.forEach((r, i) => assert.deepEqual(r.data, i % 2 ? medium : small, `transfer ${i}`));
    assert.equal(server.activeTransfers, 0);
  });
});

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const rrq = (name: number[], ...rest: number[]) => Uint8Array.from([0, 1, ...name, 0, ...ascii('octet'), 0, ...rest]);

const refusals: Array<[string, Uint8Array, number]> = [
  ['../ escape', rrq(ascii('../secret')), 2],
  ['a/../../x', rrq(ascii('a/../../x')), 2],
  ['backslash parent', rrq(ascii('..\\secret')), 2],
  ['/etc/passwd is root-relative, so not found inside the root', rrq(ascii('/etc/passwd')), 1],
  ['symlink out of the root', rrq(ascii('escape')), 2],
  ['missing file', rrq(ascii('nope.bin')), 1],
  ['a directory', rrq(ascii('sub')), 1],
  ['the root itself', rrq(ascii('/')), 1],
  ['0-byte name', Uint8Array.from([0, 1, 0, ...ascii('octet'), 0]), 4],
  ['300-byte name', rrq(ascii('a'.repeat(300))), 4],
  ['NUL-less option', rrq(ascii('small.bin'), ...ascii('blksize')), 4],
  ['option without value', rrq(ascii('small.bin'), ...ascii('blksize'), 0), 4],
  ['duplicate option', rrq(ascii('small.bin'), ...ascii('blksize'), 0, ...ascii('512'), 0, ...ascii('blksize'), 0, ...ascii('1024'), 0), 4],
  ['huge option value', rrq(ascii('small.bin'), ...ascii('blksize'), 0, ...ascii('9'.repeat(400)), 0), 4],
  ['write request (read-only server)', Uint8Array.from([0, 2, ...ascii('small.bin'), 0, ...ascii('octet'), 0]), 2],
  ['mail mode', Uint8Array.from([0, 1, ...ascii('small.bin'), 0, ...ascii('mail'), 0]), 4],
];

test('every refused request gets an ERROR packet with the right code', async () => {
  await withServer({}, async (port, server) => {
    for (const [name, bytes, code] of refusals) {
      const client = await TestClient.open();
      try {
        client.send(bytes, port);
        const n = await client.next(1000);
        assert.ok(n, `${name}: no reply`);
        assert.equal(n.packet.type, 'error', name);
        assert.equal(n.packet.type === 'error' && n.packet.code, code, name);
        assert.equal(n.from.port, port, `${name}: refusals come from the request port`);
      } finally {
        client.close();
      }
    }
    assert.equal(server.activeTransfers, 0);
  });
});

test('garbage on the request port is dropped without a reply', async () => {
  await withServer({}, async (port) => {
    const client = await TestClient.open();
    try {
      client.send(Uint8Array.from([0xff]), port);
      client.send(Uint8Array.from([0, 9, 1, 2]), port);
      client.send(encodeAck(3), port);
      assert.deepEqual(await client.collect(200), []);
    } finally {
      client.close();
    }
  });
});

test('virtual files are served before the disk, with the normalized path and the peer', async () => {
  const calls: string[] = [];
  const config = Buffer.from('DEFAULT linux\nLABEL linux\n  KERNEL vmlinuz\n');
  const files = async (path: string, peer: { address: string; port: number }) => {
    calls.push(`${path} from ${peer.address}`);
    if (path === 'pxelinux.cfg/01-52-54-00-12-34-56') return bufferReader(config);
    if (path === 'small.bin') return bufferReader(Buffer.from('shadowed'));
    if (path === 'boom') throw new Error('template failed');
    return undefined;
  };
  await withServer({ files }, async (port) => {
    assert.deepEqual((await fetchFile(port, '/pxelinux.cfg/01-52-54-00-12-34-56', [opt('tsize', '0')])).data, config);
    assert.deepEqual((await fetchFile(port, 'small.bin')).data, Buffer.from('shadowed'));
    assert.deepEqual((await fetchFile(port, 'exact.bin')).data, exact, 'falls through to the disk');
    assert.equal((await fetchFile(port, 'boom')).error?.code, 0);
    assert.equal((await fetchFile(port, '../x')).error?.code, 2, 'the provider never sees ".."');
    assert.deepEqual(calls, [
      'pxelinux.cfg/01-52-54-00-12-34-56 from 127.0.0.1', 'small.bin from 127.0.0.1', 'exact.bin from 127.0.0.1', 'boom from 127.0.0.1',
    ]);
  });
});

test('a packet from the wrong transfer ID gets ERROR 5 and the transfer carries on', async () => {
  await withServer({}, async (port) => {
    const client = await TestClient.open();
    const stranger = await TestClient.open();
    try {
      client.sendPacket({ type: 'rrq', filename: 'small.bin', mode: 'octet', options: [] }, port);
      const first = await client.next();
      assert.equal(first?.packet.type, 'data');
      const tid = first!.from.port;
      assert.notEqual(tid, port, 'data comes from a fresh transfer port');
      stranger.send(encodeAck(1), tid);
      const reply = await stranger.next();
      assert.ok(reply?.packet.type === 'error' && reply.packet.code === 5);
      client.send(encodeAck(1), tid);
      const second = await client.next();
      assert.ok(second?.packet.type === 'data' && second.packet.block === 2);
      client.send(encodeAck(2), tid);
    } finally {
      client.close();
      stranger.close();
    }
  });
});

test('a malformed packet from the peer gets ERROR 4 and ends the transfer', async () => {
  await withServer({}, async (port, server) => {
    const client = await TestClient.open();
    try {
      client.sendPacket({ type: 'rrq', filename: 'small.bin', mode: 'octet', options: [] }, port);
      const first = await client.next();
      client.send(Uint8Array.from([0, 4, 0]), first!.from.port);
      const reply = await client.next();
      assert.ok(reply?.packet.type === 'error' && reply.packet.code === 4);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(server.activeTransfers, 0);
    } finally {
      client.close();
    }
  });
});

test('an ERROR 8 in answer to the OACK ends the transfer quietly', async () => {
  await withServer({ timeoutMs: 100 }, async (port, server, events) => {
    const client = await TestClient.open();
    try {
      client.sendPacket({ type: 'rrq', filename: 'small.bin', mode: 'octet', options: [opt('blksize', '1024')] }, port);
      const oack = await client.next();
      assert.equal(oack?.packet.type, 'oack');
      client.sendPacket({ type: 'error', code: 8, message: 'blksize refused' }, oack!.from.port);
      assert.deepEqual(await client.collect(300), [], 'no reply and no retransmitted OACK');
      assert.equal(server.activeTransfers, 0);
      assert.match(events.at(-1)?.error ?? '', /ERROR 8/);
    } finally {
      client.close();
    }
  });
});

test('when maxTransfers are running, a new request gets ERROR 0 "Server busy"', async () => {
  await withServer({ maxTransfers: 1, timeoutMs: 5000 }, async (port) => {
    const holder = await TestClient.open();
    const late = await TestClient.open();
    try {
      holder.sendPacket({ type: 'rrq', filename: 'small.bin', mode: 'octet', options: [] }, port);
      assert.equal((await holder.next())?.packet.type, 'data');
      late.sendPacket({ type: 'rrq', filename: 'small.bin', mode: 'octet', options: [] }, port);
      const reply = await late.next();
      assert.ok(reply?.packet.type === 'error' && reply.packet.code === 0);
      assert.equal(reply.packet.message, 'Server busy');
    } finally {
      holder.close();
      late.close();
    }
  });
});

test('stop() ends running transfers with ERROR 0 and closes their sockets', async () => {
  const server = new TftpServer({ address: '127.0.0.1', port: 0, root, timeoutMs: 5000 });
  await server.start();
  const client = await TestClient.open();
  try {
    client.sendPacket({ type: 'rrq', filename: 'small.bin', mode: 'octet', options: [] }, server.address().port);
    const first = await client.next();
    assert.equal(first?.packet.type, 'data');
    await server.stop();
    const bye = await client.next();
    assert.ok(bye?.packet.type === 'error' && bye.packet.code === 0);
    assert.equal(server.activeTransfers, 0);
    // The transfer port is closed: nothing answers there any more.
    client.send(encodeAck(1), first!.from.port);
    assert.deepEqual(await client.collect(100), []);
  } finally {
    client.close();
  }
});

test('ACKs read off the datagram: a padded ACK moves the transfer on, a 3-byte one ends it as malformed', async () => {
  await withServer({}, async (port, server, events) => {
    const client = await TestClient.open();
    try {
      client.sendPacket({ type: 'rrq', filename: 'small.bin', mode: 'octet', options: [] }, port);
      const first = await client.next();
      assert.equal(first?.packet.type, 'data');
      // ACK 1 with two bytes after the block number, as some clients pad it.
      client.send(Buffer.concat([encodeAck(1), Buffer.from([0xde, 0xad])]), first!.from.port);
      const second = await client.next();
      assert.ok(second?.packet.type === 'data' && second.packet.block === 2, 'the padded ACK was taken');
      // Opcode 4 and one byte: not an ACK, not to be read as block 0 or as garbage.
      client.send(Buffer.from([0, 4, 2]), first!.from.port);
      const error = await client.next();
      assert.ok(error?.packet.type === 'error' && error.packet.code === 4, `got ${JSON.stringify(error?.packet)}`);
      assert.equal(error.packet.message, 'Malformed packet');
      await waitUntil('the transfer ended', () => server.activeTransfers === 0);
      assert.deepEqual(events.map((e) => e.type), ['start', 'error']);
    } finally {
      client.close();
    }
  });
});

