import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Command, Errno, Info, Option, Reply } from './constants.js';
import { memoryLogger } from '../../log/logger.js';
import type { NbdEvent } from './events.js';
import { bufferExport, staticExports, type NbdExport } from './exports.js';
import { encodeInfoRequest, encodeOptionRequest } from './option-request.js';
import { NbdServer, type NbdServerOptions } from './server.js';
import { encodeRequest } from './transmission.js';
import { RawClient } from './testdata/raw-client.js';

const image = randomBytes(1024 * 1024 + 123);
const failing: NbdExport = { size: 4096, read: async () => { throw new Error('EIO from disk'); } };
const exports = staticExports({ root: bufferExport(image, 'test image'), failing });

/** Starts a server on a free port of 127.0.0.1, runs `body`, always stops it. */
async function withServer(
  options: Partial<NbdServerOptions>,
  body: (port: number, server: NbdServer, events: NbdEvent[]) => Promise<void>,
): Promise<void> {
  const events: NbdEvent[] = [];
  const server = new NbdServer({ address: '127.0.0.1', port: 0, exports, onEvent: (e) => events.push(e), ...options });
  await server.start();
  try {
    await body(server.address().port, server, events);
  } finally {
    await server.stop();
  }
}

/** Resolves once `cond` holds (events and logs land a tick after the socket closes). */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('Condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const read = (cookie: bigint, offset: number, length: number) => ({ flags: 0, command: Command.READ, cookie, offset: BigInt(offset), length });
const disc = { flags: 0, command: Command.DISC, cookie: 0n, offset: 0n, length: 0 };

test('GO then reads return the image bytes; DISC closes; one info line and connect/attach/disconnect events', async () => {
  const logger = memoryLogger();
  await withServer({ logger }, async (port, server, events) => {
    const c = await RawClient.connect(port);
    assert.equal(await c.attach('root'), BigInt(image.length));
    const r = await c.pread(1000, 5000, 77n);
    assert.equal(r.error, 0);
    assert.equal(r.cookie, 77n);
    assert.deepEqual(r.data, image.subarray(1000, 6000));
    const tail = await c.pread(image.length - 7, 7);
    assert.deepEqual(tail.data, image.subarray(image.length - 7));
    c.send(disc);
    assert.ok(await c.closesWithin(2000));
    await until(() => events.length === 3);
    assert.deepEqual(events.map((e) => e.type), ['connect', 'attach', 'disconnect']);
    assert.equal(events[2]?.export, 'root');
    assert.equal(events[2]?.bytesRead, 5007);
    const end = logger.lines.filter((l) => l.msg === 'connection closed');
    assert.equal(end.length, 1);
    assert.equal(end[0]?.level, 'info');
    assert.equal(end[0]?.service, 'nbd');
    assert.equal(end[0]?.export, 'root');
    assert.equal(end[0]?.bytesRead, 5007);
    assert.equal(end[0]?.requests, 3);
    assert.equal(typeof end[0]?.durationMs, 'number');
    assert.match(String(end[0]?.peer), /^127\.0\.0\.1:\d+$/);
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 0);
    assert.equal(server.connections, 0);
  });
});

test('WRITE is refused with EPERM, its payload consumed, and the connection stays in sync', async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.connect(port);
    await c.attach('root');
    // The payload is made of valid READ requests: parsed by mistake, they would get replies.
    const payload = Buffer.concat(Array.from({ length: 100 }, (_, i) => encodeRequest(read(BigInt(1000 + i), 0, 1))));
    c.send({ flags: 1, command: Command.WRITE, cookie: 5n, offset: 0n, length: payload.length }, payload);
    const w = await c.reply();
    assert.deepEqual([w.error, w.cookie], [Errno.EPERM, 5n]);
    for (const command of [Command.TRIM, Command.WRITE_ZEROES]) {
      c.send({ flags: 0, command, cookie: 6n, offset: 0n, length: 512 });
      assert.equal((await c.reply()).error, Errno.EPERM);
    }
    c.send({ flags: 0, command: Command.FLUSH, cookie: 7n, offset: 0n, length: 0 });
    assert.deepEqual([(await c.reply()).error, c.unread], [0, 0]);
    const r = await c.pread(0, 16, 8n);
    assert.deepEqual([r.error, r.cookie], [0, 8n]);
    assert.deepEqual(r.data, image.subarray(0, 16));
    c.destroy();
  });
});

test('reads past the end, of length 0, over 32 MiB, and unknown commands get EINVAL; the connection goes on', async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.connect(port);
    await c.attach('root');
    for (const [offset, length] of [[image.length - 1, 2], [image.length, 1], [0, 0], [0, 32 * 1024 * 1024 + 1]] as const) {
      const r = await c.pread(offset, length, 3n);
      assert.deepEqual([r.error, r.cookie, r.data.length], [Errno.EINVAL, 3n, 0], `${offset}+${length}`);
    }
    c.send({ flags: 0, command: 42, cookie: 4n, offset: 0n, length: 1 });
    assert.equal((await c.reply()).error, Errno.EINVAL);
    assert.deepEqual((await c.pread(image.length - 1, 1)).data, image.subarray(image.length - 1));
    c.destroy();
  });
});

test('a failing provider read is answered EIO without payload; the connection goes on', async () => {
  const logger = memoryLogger();
  await withServer({ logger }, async (port) => {
    const c = await RawClient.connect(port);
    await c.attach('failing');
    assert.equal((await c.pread(0, 512)).error, Errno.EIO);
    assert.equal((await c.pread(512, 512)).error, Errno.EIO);
    assert.equal(c.unread, 0);
    assert.ok(logger.lines.some((l) => l.level === 'warn' && l.msg === 'read failed' && /EIO from disk/.test(String(l.error))));
    c.destroy();
  });
});

test('unknown export: ERR_UNKNOWN with a message, then GO for a real one works on the same connection', async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.connect(port);
    await c.handshake();
    const bad = await c.info('no-such-image', [Info.NAME]);
    assert.equal(bad.final, Reply.ERR_UNKNOWN);
    assert.equal(bad.infos.length, 0);
    assert.match(bad.message, /no-such-image/);
    const long = await c.info(Buffer.alloc(5000, 0x61));
    assert.equal(long.final, Reply.ERR_UNKNOWN);
    const info = await c.info('root', [Info.DESCRIPTION], Option.INFO);
    assert.equal(info.final, Reply.ACK);
    assert.ok(info.infos.some((i) => i.type === 'description' && i.description === 'test image'));
    const go = await c.info('root');
    assert.equal(go.final, Reply.ACK);
    assert.equal((await c.pread(0, 1)).error, 0);
    c.destroy();
  });
});

test('EXPORT_NAME: attaches with or without the 124 zeroes; an unknown or 5000-byte name closes', async () => {
  await withServer({}, async (port) => {
    for (const flags of [1, 3]) {
      const c = await RawClient.connect(port);
      await c.handshake(flags);
      c.write(encodeOptionRequest(Option.EXPORT_NAME, Buffer.from('root')));
      const reply = await c.read(flags === 3 ? 10 : 134);
      assert.equal(reply.readBigUInt64BE(0), BigInt(image.length));
      assert.equal(reply.readUInt16BE(8), 0x103);
      assert.deepEqual((await c.pread(5, 5)).data, image.subarray(5, 10));
      assert.equal(c.unread, 0, 'no padding sent after NO_ZEROES');
      c.destroy();
    }
    for (const name of [Buffer.from('nope'), Buffer.alloc(5000, 0x61)]) {
      const c = await RawClient.connect(port);
      await c.handshake();
      c.write(encodeOptionRequest(Option.EXPORT_NAME, name));
      assert.ok(await c.closesWithin(2000));
      assert.equal(c.unread, 0);
    }
  });
});

test('a 4 GiB option length is answered ERR_TOO_BIG and closed without reading or allocating it', async () => {
  await withServer({}, async (port, server, events) => {
    const before = process.memoryUsage().arrayBuffers;
    const c = await RawClient.connect(port);
    await c.handshake();
    const header = encodeOptionRequest(Option.GO);
    header.writeUInt32BE(0xffffffff, 12);
    c.write(header);
    c.write(Buffer.alloc(256 * 1024, 0x61));
    const reply = await c.readOptionReply();
    assert.deepEqual([reply.option, reply.type], [Option.GO, Reply.ERR_TOO_BIG]);
    assert.ok(await c.closesWithin(2000));
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
    // EXPORT_NAME cannot carry an error: straight close.
    const d = await RawClient.connect(port);
    await d.handshake();
    const h2 = encodeOptionRequest(Option.EXPORT_NAME);
    h2.writeUInt32BE(0x7fffffff, 12);
    d.write(h2);
    assert.ok(await d.closesWithin(2000));
    assert.equal(d.unread, 0);
    await until(() => events.filter((e) => e.type === 'error').length === 2);
    assert.equal(server.connections, 0);
  });
});

test('a WRITE over 32 MiB closes the connection rather than reading 4 GiB', async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.connect(port);
    await c.attach('root');
    c.send({ flags: 0, command: Command.WRITE, cookie: 1n, offset: 0n, length: 0xffffffff });
    assert.ok(await c.closesWithin(2000));
  });
});

test('LIST names every export; ABORT is acknowledged and the server closes', async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.connect(port);
    await c.handshake();
    const list = await c.option(Option.LIST);
    assert.deepEqual(list.map((r) => r.type), [Reply.SERVER, Reply.SERVER, Reply.ACK]);
    assert.deepEqual(list.slice(0, 2).map((r) => r.data.subarray(4).toString()), ['root', 'failing']);
    const meta = await c.option(Option.SET_META_CONTEXT, Buffer.alloc(8));
    assert.equal(meta[0]?.type, Reply.ERR_UNSUP);
    const abort = await c.option(Option.ABORT);
    assert.equal(abort[0]?.type, Reply.ACK);
    assert.ok(await c.closesWithin(2000));
  });
});

test('unknown client flags close the connection', async () => {
  await withServer({}, async (port, _server, events) => {
    const c = await RawClient.connect(port);
    await c.handshake(0x80);
    assert.ok(await c.closesWithin(2000));
    await until(() => events.some((e) => e.type === 'error'));
    assert.match(String(events.find((e) => e.type === 'error')?.error), /client flags/);
  });
});

test('an idle handshake is dropped after the handshake timeout; an attached idle client is not', async () => {
  await withServer({ handshakeTimeoutMs: 150 }, async (port, _server, events) => {
    const idle = await RawClient.connect(port);
    const attached = await RawClient.connect(port);
    await attached.attach('root');
    assert.ok(await idle.closesWithin(2000));
    assert.equal(await attached.closesWithin(400), false);
    assert.equal((await attached.pread(0, 1)).error, 0);
    assert.ok(events.some((e) => e.type === 'error' && e.error === 'handshake timed out'));
    attached.destroy();
  });
});

test('connections beyond maxConnections are closed on accept', async () => {
  await withServer({ maxConnections: 2 }, async (port, server) => {
    const a = await RawClient.connect(port);
    const b = await RawClient.connect(port);
    await a.attach('root');
    await b.attach('root');
    const c = await RawClient.connect(port);
    assert.ok(await c.closesWithin(2000));
    assert.equal(c.unread, 0, 'not even a greeting');
    assert.equal(server.connections, 2);
    a.destroy();
    await until(() => server.connections === 1);
    const d = await RawClient.connect(port);
    await d.attach('root');
    b.destroy();
    d.destroy();
  });
});

test('1000 garbage handshakes are each closed with a warn line; a valid client is served afterwards', async () => {
  const logger = memoryLogger();
  await withServer({ logger }, async (port, server) => {
    const garbage = (i: number): Buffer => {
      switch (i % 5) {
        case 0: return randomBytes(1 + (i % 300));                                   // noise as client flags + option
        case 1: return Buffer.concat([Buffer.from([0, 0, 0, 3]), randomBytes(16)]);   // bad option magic
        case 2: return Buffer.from([0xff, 0xff, 0xff, 0xff]);                         // unknown client flags
        case 3: return Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');              // wrong protocol
        default: return Buffer.concat([Buffer.from([0, 0, 0, 1]), encodeRequest(read(1n, 0, 1))]); // a request during handshake
      }
    };
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, async (_, j) => {
        const i = batch * 50 + j;
        const c = await RawClient.connect(port);
        c.write(garbage(i));
        // A few payloads are shorter than a full message: end our side so the server sees EOF.
        if (i % 5 === 0) c.socket.end();
        assert.ok(await c.closesWithin(3000), `garbage ${i} left open`);
      }));
    }
    await until(() => server.connections === 0);
    const c = await RawClient.connect(port);
    await c.attach('root');
    assert.deepEqual((await c.pread(100, 100)).data, image.subarray(100, 200));
    c.destroy();
    const warns = logger.lines.filter((l) => l.level === 'warn').length;
    assert.ok(warns >= 800, `${warns} warn lines`);
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0);
  });
});

test('20 concurrent clients each read the whole image with pipelined requests', async () => {
  await withServer({}, async (port) => {
    // Twenty clients, twenty loopback addresses (one address gets at most 8 connections).
    await Promise.all(Array.from({ length: 20 }, async (_, k) => {
      const c = await RawClient.connect(port, '127.0.0.1', `127.0.1.${k + 1}`);
      await c.attach('root');
      const chunk = 4096 * (1 + (k % 8));
      const out = Buffer.alloc(image.length);
      const offsets: number[] = [];
      for (let o = 0; o < image.length; o += chunk) offsets.push(o);
      // All requests at once: replies may come back in any order, matched by cookie.
      for (const [i, o] of offsets.entries()) c.send(read(BigInt(i), o, Math.min(chunk, image.length - o)));
      for (let n = 0; n < offsets.length; n++) {
        const header = await c.reply();
        assert.equal(header.error, 0);
        const o = offsets[Number(header.cookie)]!;
        (await c.read(Math.min(chunk, image.length - o))).copy(out, o);
      }
      assert.ok(out.equals(image), `client ${k}`);
      c.send(disc);
      assert.ok(await c.closesWithin(2000));
    }));
  });
});

test('DISC right behind reads: every reply is sent before the close', async () => {
  const slow: NbdExport = { size: image.length, read: (o, l) => new Promise((r) => setTimeout(() => r(image.subarray(o, o + l)), 50)) };
  await withServer({ exports: staticExports({ slow }) }, async (port) => {
    const c = await RawClient.connect(port);
    await c.attach('slow');
    for (let i = 0; i < 5; i++) c.send(read(BigInt(i), i * 10, 10));
    c.send(disc);
    c.socket.end();
    const cookies: bigint[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await c.reply(10);
      cookies.push(r.cookie);
      assert.deepEqual(r.data, image.subarray(Number(r.cookie) * 10, Number(r.cookie) * 10 + 10));
    }
    assert.deepEqual(cookies.sort(), [0n, 1n, 2n, 3n, 4n]);
    assert.ok(await c.closesWithin(2000));
  });
});

test('stop() closes attached and handshaking connections', async () => {
  const server = new NbdServer({ address: '127.0.0.1', port: 0, exports });
  await server.start();
  const port = server.address().port;
  const a = await RawClient.connect(port);
  await a.attach('root');
  const b = await RawClient.connect(port);
  await b.handshake();
  await server.stop();
  assert.ok(await a.closesWithin(1000));
  assert.ok(await b.closesWithin(1000));
  assert.equal(server.connections, 0);
});

test('a throwing onEvent hook is logged, not fatal', async () => {
  const logger = memoryLogger();
  await withServer({ logger, onEvent: () => { throw new Error('hook bug'); } }, async (port) => {
    const c = await RawClient.connect(port);
    await c.attach('root');
    assert.equal((await c.pread(0, 1)).error, 0);
    c.destroy();
  });
  assert.ok(logger.lines.some((l) => l.level === 'error' && /hook bug/.test(String(l.error))));
});

test('a client that pipelines thousands of reads without reading replies is throttled, and others are still served', async () => {
  let reads = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const counting: NbdExport = {
    size: image.length,
    read: async (o, l) => {
      reads++;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return Buffer.from(image.subarray(o, o + l));
    },
  };
  await withServer({ exports: staticExports({ root: counting }) }, async (port) => {
    const greedy = await RawClient.connect(port);
    await greedy.attach('root');
    greedy.socket.pause();
    const many = Buffer.concat(Array.from({ length: 4000 }, (_, i) => encodeRequest(read(BigInt(i), 0, 256 * 1024))));
    greedy.socket.write(many);
    await new Promise((r) => setTimeout(r, 300));
    // Without backpressure all 4000 reads (1 GB) would be queued for a client that reads nothing.
    assert.ok(reads > 0 && reads < 200, `${reads} reads served to a client that reads nothing`);
    assert.ok(maxInFlight <= 16, `${maxInFlight} reads in flight on one connection`);
    const other = await RawClient.connect(port);
    await other.attach('root');
    assert.deepEqual((await other.pread(7, 7)).data, image.subarray(7, 14));
    greedy.destroy();
    other.destroy();
  });
});

test('handshake codes reach the wire in one piece for GO with several infos', async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.connect(port);
    await c.handshake();
    c.write(encodeOptionRequest(Option.GO, encodeInfoRequest('root', [Info.NAME, Info.BLOCK_SIZE, Info.DESCRIPTION])));
    const types: number[] = [];
    for (;;) {
      const r = await c.readOptionReply();
      types.push(r.type);
      if (r.type === Reply.ACK) break;
    }
    assert.deepEqual(types, [Reply.INFO, Reply.INFO, Reply.INFO, Reply.INFO, Reply.ACK]);
    c.destroy();
  });
});

test('with structured replies, READ gets one final OFFSET_DATA chunk and READ errors an ERROR chunk', async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.connect(port);
    await c.handshake();
    assert.equal((await c.option(Option.STRUCTURED_REPLY))[0]?.type, Reply.ACK);
    assert.equal((await c.info('root')).final, Reply.ACK);
    c.send(read(11n, image.length - 100, 100));
    const ok = await c.chunk();
    assert.deepEqual([ok.flags, ok.type, ok.cookie, ok.offset], [1, 1, 11n, BigInt(image.length - 100)]);
    assert.deepEqual(ok.data, image.subarray(image.length - 100));
    c.send(read(12n, image.length - 100, 101));
    const err = await c.chunk();
    assert.deepEqual([err.flags, err.type, err.cookie, err.error], [1, 0x8001, 12n, Errno.EINVAL]);
    assert.match(err.message ?? '', /past the end/);
    // Other commands keep simple replies, which the spec allows for payload-less answers.
    c.send({ flags: 0, command: Command.WRITE, cookie: 13n, offset: 0n, length: 3 }, Buffer.from('abc'));
    assert.deepEqual(await c.reply(), { error: Errno.EPERM, cookie: 13n, data: Buffer.alloc(0) });
    c.destroy();
  });
});

test('a client looping over options is disconnected after 256 of them', async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.connect(port);
    await c.handshake();
    for (let i = 0; i < 256; i++) assert.equal((await c.option(Option.LIST)).at(-1)?.type, Reply.ACK);
    c.write(encodeOptionRequest(Option.LIST));
    assert.ok(await c.closesWithin(2000));
  });
});
