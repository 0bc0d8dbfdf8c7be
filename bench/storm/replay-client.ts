// Plays a boot trace for N nodes at once against one boot server, from the client namespace:
//   node dist/bench/storm/replay-client.js JOB.json   (prints one JSON result on stdout)
// DHCP through our own codec on one socket (a MAC per node, broadcast replies), TFTP reads in
// lockstep, HTTP GETs through node:http (a keep-alive agent per node, as iPXE keeps one),
// NBD reads at queue depth 1 after a fixed-newstyle handshake. Each node waits the recorded
// think time (times `thinkScale`) between requests, as the real boot did.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Agent, get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { decodeDhcpPacket, encodeDhcpPacket, BROADCAST_FLAG } from '../../src/protocols/dhcp/packet.js';
import type { BootTrace, TraceStep } from './trace.js';

export interface ReplayJob {
  server: string;
  httpPort: number;
  tftpPort: number;
  nbdPort: number;
  nbdExport: string;
  nodes: number;
  thinkScale: number;
  trace: BootTrace;
  /** Recorded HTTP path (without its query) → the path it is replayed as. */
  httpPaths: Record<string, string>;
  /** Recorded TFTP file → the file it is replayed as. */
  tftpFiles: Record<string, string>;
  /** Node i sends its TFTP, HTTP and NBD traffic from sourceAddresses[i] (an address of its own, as real nodes have). */
  sourceAddresses: string[];
}

export interface ReplayResult {
  /** Per node: ms from the storm's start to its last request answered (null: it failed). */
  bootedMs: Array<number | null>;
  bytes: number;
  errors: string[];
  dhcpRetransmits: number;
}

const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

class DhcpClients {
  readonly #sock: UdpSocket;
  readonly #waiting = new Map<number, (type: number, packet: ReturnType<typeof decodeDhcpPacket>) => void>();
  retransmits = 0;
  constructor(readonly server: string) {
    this.#sock = createSocket({ type: 'udp4', reuseAddr: true });
    this.#sock.on('message', (msg) => {
      const d = decodeDhcpPacket(msg);
      if (!d.ok || d.packet.op !== 2) return;
      const type = d.packet.options.get(53)?.[0];
      if (type !== undefined) this.#waiting.get(d.packet.xid)?.(type, d);
    });
  }
  async open(): Promise<void> {
    await new Promise<void>((res, rej) => { this.#sock.once('error', rej); this.#sock.bind(68, '0.0.0.0', () => res()); });
    this.#sock.setBroadcast(true);
  }
  close(): void { this.#sock.close(); }

  #packet(mac: Buffer, xid: number, type: number, extra: Array<[number, Buffer]>): Buffer {
    return encodeDhcpPacket({
      op: 1, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: BROADCAST_FLAG,
      ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
      chaddr: Buffer.concat([mac, Buffer.alloc(10)]), sname: '', file: '',
      options: new Map<number, Buffer>([[53, Buffer.from([type])], [55, Buffer.from([1, 3, 6, 15, 17, 66, 67])], ...extra]),
    });
  }

  /** Sends until a reply of `want` arrives: 1 s, 2 s, 4 s … (firmware starts at 4 s; a storm wants to see drops). */
  async #exchange(xid: number, bytes: Buffer, want: number): Promise<ReturnType<typeof decodeDhcpPacket>> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let tries = 0;
      const send = () => {
        if (tries++ >= 7) { this.#waiting.delete(xid); reject(new Error(`DHCP: no reply ${want} after ${tries - 1} tries`)); return; }
        if (tries > 1) this.retransmits++;
        this.#sock.send(bytes, 67, '255.255.255.255');
        timer = setTimeout(send, 1000 * 2 ** (tries - 1));
      };
      this.#waiting.set(xid, (type, d) => {
        if (type !== want) return;
        clearTimeout(timer);
        this.#waiting.delete(xid);
        resolve(d);
      });
      send();
    });
  }

  async dora(mac: Buffer): Promise<void> {
    const xid = (Math.random() * 2 ** 32) >>> 0;
    const offer = await this.#exchange(xid, this.#packet(mac, xid, 1, []), 2);
    if (!offer.ok) throw new Error('DHCP: bad offer');
    const serverId = offer.packet.options.get(54) ?? Buffer.from(this.server.split('.').map(Number));
    const ip = Buffer.from(offer.packet.yiaddr.split('.').map(Number));
    await this.#exchange(xid, this.#packet(mac, xid, 3, [[50, ip], [54, serverId]]), 5);
  }
}

function tftpRead(from: string, server: string, port: number, file: string, blksize: number, stopAfter: number | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    let got = 0;
    let expect = 1;
    let peerPort: number | undefined;
    let last: Buffer = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0blksize\0${blksize}\0`, 'latin1')]);
    let lastTo = port;
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (e?: Error) => { clearTimeout(timer); sock.close(); if (e) reject(e); else resolve(got); };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > 8) return finish(new Error(`TFTP ${file}: no answer`));
        sock.send(last, lastTo, server);
        arm();
      }, 1000);
    };
    const send = (b: Buffer, to: number) => { last = b; lastTo = to; tries = 0; sock.send(b, to, server); arm(); };
    const ack = (n: number) => Buffer.from([0, 4, (n >> 8) & 0xff, n & 0xff]);
    sock.on('message', (msg, rinfo) => {
      if (peerPort === undefined) peerPort = rinfo.port;
      if (rinfo.port !== peerPort || msg.length < 4) return;
      const op = msg.readUInt16BE(0);
      if (op === 6) {
        const opts = msg.subarray(2).toString('latin1').split('\0');
        for (let i = 0; i + 1 < opts.length; i += 2) if (opts[i]!.toLowerCase() === 'blksize') blksize = Number(opts[i + 1]);
        return send(ack(0), peerPort);
      }
      if (op === 5) return finish(new Error(`TFTP ${file}: ${msg.subarray(4).toString('latin1').replace(/\0.*$/, '')}`));
      if (op !== 3) return;
      const block = msg.readUInt16BE(2);
      if (block !== (expect & 0xffff)) { if (block === ((expect - 1) & 0xffff)) sock.send(ack(block), peerPort, server); return; }
      got += msg.length - 4;
      expect++;
      if (msg.length - 4 < blksize) { sock.send(ack(block), peerPort, server); return finish(); }
      if (stopAfter !== undefined && got >= stopAfter) {
        sock.send(Buffer.concat([Buffer.from([0, 5, 0, 0]), Buffer.from('size probe done\0')]), peerPort, server);
        return finish();
      }
      send(ack(block), peerPort);
    });
    sock.bind(0, from, () => send(last, port));
  });
}

function httpGet(agent: Agent, from: string, server: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: server, port, path, agent, localAddress: from }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => { n += c.length; });
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`HTTP ${path}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`HTTP ${path}: no data for 60 s`)));
    req.on('error', reject);
  });
}

/** A fixed-newstyle NBD client: NBD_OPT_EXPORT_NAME, simple replies, one read in flight. */
class NbdReader {
  #buf: Buffer = Buffer.alloc(0);
  #want = 0;
  #wake: (() => void) | undefined;
  #err: Error | undefined;
  private constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => { this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d; if (this.#buf.length >= this.#want) this.#wake?.(); });
    sock.on('error', (e) => { this.#err = e; this.#wake?.(); });
    sock.on('close', () => { this.#err ??= new Error('NBD: connection closed'); this.#wake?.(); });
  }
  static async open(from: string, server: string, port: number, name: string): Promise<NbdReader> {
    const sock = connect({ host: server, port, localAddress: from });
    sock.setNoDelay(true);
    // A deadline, so a connection that stops answering fails its node instead of hanging the storm.
    sock.setTimeout(60_000, () => sock.destroy(new Error('NBD: no data for 60 s')));
    const r = new NbdReader(sock);
    const greeting = await r.#take(18);
    if (greeting.toString('latin1', 0, 8) !== 'NBDMAGIC' || greeting.toString('latin1', 8, 16) !== 'IHAVEOPT') throw new Error('NBD: not a newstyle server');
    const noZeroes = (greeting.readUInt16BE(16) & 2) !== 0;
    const opt = Buffer.alloc(16);
    opt.write('IHAVEOPT', 0, 'latin1');
    opt.writeUInt32BE(1, 8); // NBD_OPT_EXPORT_NAME
    opt.writeUInt32BE(Buffer.byteLength(name), 12);
    sock.write(Buffer.concat([Buffer.from([0, 0, 0, noZeroes ? 3 : 1]), opt, Buffer.from(name)]));
    await r.#take(noZeroes ? 10 : 134);
    return r;
  }
  async #take(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      if (this.#err) throw this.#err;
      this.#want = n;
      await new Promise<void>((res) => (this.#wake = res));
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }
  async read(offset: number, length: number): Promise<void> {
    const req = Buffer.alloc(28);
    req.writeUInt32BE(0x25609513, 0);
    req.writeBigUInt64BE(1n, 8);
    req.writeBigUInt64BE(BigInt(offset), 16);
    req.writeUInt32BE(length, 24);
    this.sock.write(req);
    const head = await this.#take(16);
    if (head.readUInt32BE(0) !== 0x67446698) throw new Error('NBD: bad reply magic');
    if (head.readUInt32BE(4) !== 0) throw new Error(`NBD: read error ${head.readUInt32BE(4)} at ${offset}+${length}`);
    await this.#take(length);
  }
  close(): void {
    const disc = Buffer.alloc(28);
    disc.writeUInt32BE(0x25609513, 0);
    disc.writeUInt16BE(2, 6);
    this.sock.end(disc);
  }
}

async function runNode(job: ReplayJob, i: number, dhcp: DhcpClients, t0: number, count: (n: number) => void): Promise<number> {
  const mac = Buffer.from([0x02, 0x18, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 0x01]);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const step of job.trace.steps) {
      await sleep(step.gapMs * job.thinkScale);
      await playStep(job, step, job.sourceAddresses[i]!, mac, agent, dhcp, count);
    }
  } finally {
    agent.destroy();
  }
  return Date.now() - t0;
}

async function playStep(job: ReplayJob, step: TraceStep, from: string, mac: Buffer, agent: Agent, dhcp: DhcpClients, count: (n: number) => void): Promise<void> {
  switch (step.kind) {
    case 'dhcp':
      return dhcp.dora(mac);
    case 'tftp': {
      const file = job.tftpFiles[step.file] ?? step.file;
      count(await tftpRead(from, job.server, job.tftpPort, file, step.blksize, step.complete ? undefined : Math.max(1, step.bytes)));
      return;
    }
    case 'http': {
      if (step.tls || step.method !== 'GET') return; // reports and the TLS secrets fetch: not replayed
      const path = job.httpPaths[step.path.split('?')[0]!];
      if (path === undefined) return;
      count(await httpGet(agent, from, job.server, job.httpPort, path));
      return;
    }
    case 'nbd': {
      const nbd = await NbdReader.open(from, job.server, job.nbdPort, job.nbdExport);
      try {
        for (const [think, offset, length] of step.reads) {
          await sleep(think * job.thinkScale);
          await nbd.read(offset, length);
          count(length);
        }
      } finally {
        nbd.close();
      }
    }
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ReplayJob;
  const dhcp = new DhcpClients(job.server);
  await dhcp.open();
  let bytes = 0;
  const errors: string[] = [];
  const t0 = Date.now();
  const booted = await Promise.all(Array.from({ length: job.nodes }, (_, i) => runNode(job, i, dhcp, t0, (n) => { bytes += n; }).catch((e: unknown) => {
    if (errors.length < 20) errors.push(`node ${i}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  })));
  dhcp.close();
  const result: ReplayResult = { bootedMs: booted, bytes, errors, dhcpRetransmits: dhcp.retransmits };
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1]?.endsWith('replay-client.js')) {
  main().catch((e: unknown) => {
    process.stderr.write(`replay-client: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
}
