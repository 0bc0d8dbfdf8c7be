/**
 * A boot trace: what one node asked of the boot server, in order, with the node's own think time
 * between requests, read from a packet capture of one real lab boot (tcpdump on the lab bridge).
 * The replay (bench/storm/replay-client.ts) plays it for N nodes at once.
 */

export type TraceStep =
  /** One DHCP exchange (DISCOVER … ACK) by firmware, iPXE or /init. */
  | { kind: 'dhcp'; gapMs: number; ms: number }
  /** One TFTP read: `bytes` of `file` received (less than the file when the client aborted a size probe). */
  | { kind: 'tftp'; gapMs: number; ms: number; file: string; blksize: number; bytes: number; complete: boolean }
  /** One HTTP request on connection `conn` of this node; `bytes` is the response body. */
  | { kind: 'http'; gapMs: number; ms: number; method: string; path: string; status: number; bytes: number; conn: number; tls: boolean }
  /** One NBD connection: its reads as [think ms before the request, offset, length]. */
  | { kind: 'nbd'; gapMs: number; ms: number; export: string; bytes: number; reads: Array<[number, number, number]> };

export interface BootTrace {
  mode: 'live' | 'nbd';
  source: string;
  /** First packet from the node → its last request answered. */
  recordedMs: number;
  steps: TraceStep[];
  /** What the capture could not tell (truncated segments, requests not understood). */
  notes: string[];
}

interface Packet { t: number; src: string; dst: string; proto: number; sport: number; dport: number; seq: number; flags: number; payload: Buffer; len: number }

/** Classic pcap (tcpdump -w), Ethernet frames; IPv4 UDP and TCP only. */
export function* readPcap(buf: Buffer): Generator<Packet> {
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('Cannot read capture: not a pcap file');
  const nano = (le ? magic : buf.readUInt32BE(0)) === 0xa1b23c4d;
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linktype = u32(20);
  if (linktype !== 1) throw new Error(`Cannot read capture: link type ${linktype}, expected Ethernet (1)`);
  for (let o = 24; o + 16 <= buf.length; ) {
    const t = u32(o) * 1000 + u32(o + 4) / (nano ? 1e6 : 1e3);
    const incl = u32(o + 8);
    const frame = buf.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    if (frame.length < 34 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    const total = ip.readUInt16BE(2);
    const proto = ip[9]!;
    const src = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
    const dst = `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`;
    const l4 = ip.subarray(ihl);
    if (proto === 17 && l4.length >= 8) {
      yield { t, src, dst, proto, sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), seq: 0, flags: 0, payload: l4.subarray(8), len: total - ihl - 8 };
    } else if (proto === 6 && l4.length >= 20) {
      const off = (l4[12]! >> 4) * 4;
      yield { t, src, dst, proto, sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), seq: l4.readUInt32BE(4), flags: l4[13]!, payload: l4.subarray(off), len: total - ihl - off };
    }
  }
}

const NBD_REQUEST_MAGIC = 0x25609513;

interface Open { step: TraceStep; start: number; end: number }

/** Turns a capture of one node's boot against `server` into its trace. */
export function traceFromPcap(pcap: Buffer, o: { mode: 'live' | 'nbd'; server: string; httpPort?: number; httpsPort?: number; nbdPort?: number }): BootTrace {
  const httpPort = o.httpPort ?? 80;
  const httpsPort = o.httpsPort ?? 443;
  const nbdPort = o.nbdPort ?? 10809;
  const notes: string[] = [];
  const steps: Open[] = [];
  const dhcp = new Map<number, Open>(); // by xid
  const tftp = new Map<string, Open>(); // by client port
  const tftpByServerPort = new Map<string, Open>();
  const httpConns = new Map<string, { id: number; current?: Open; headerSeen: boolean; tls: boolean }>();
  const nbdConns = new Map<string, { open: Open; stream: Buffer; nextSeq?: number; lastServer: number; synced: boolean; truncated: number }>();
  let node: string | undefined;
  let first: number | undefined;
  let connIds = 0;
  const push = (step: TraceStep, t: number): Open => {
    const s = { step, start: t, end: t };
    steps.push(s);
    return s;
  };
  for (const p of readPcap(pcap)) {
    first ??= p.t;
    // DHCP: client port 68 → server port 67; the reply ends the exchange.
    if (p.proto === 17 && (p.dport === 67 || p.sport === 67) && p.payload.length >= 240) {
      const xid = p.payload.readUInt32BE(4);
      const type = dhcpMessageType(p.payload);
      if (p.dport === 67 && (type === 1 || type === 3)) {
        const open = dhcp.get(xid);
        if (type === 1 && open === undefined) dhcp.set(xid, push({ kind: 'dhcp', gapMs: 0, ms: 0 }, p.t));
      } else if (p.sport === 67 && type === 5) {
        const open = dhcp.get(xid);
        if (open) open.end = p.t;
        node ??= ipOf(p.payload.subarray(16, 20));
      }
      continue;
    }
    if (p.proto === 17 && p.dport === 69 && p.dst === o.server) {
      const rrq = parseRrq(p.payload);
      if (rrq) {
        const key = `${p.src}:${p.sport}`;
        if (!tftp.has(key) || tftp.get(key)!.step.kind !== 'tftp' || (tftp.get(key)!.step as { file: string }).file !== rrq.file || tftp.get(key)!.end !== tftp.get(key)!.start) {
          tftp.set(key, push({ kind: 'tftp', gapMs: 0, ms: 0, file: rrq.file, blksize: rrq.blksize, bytes: 0, complete: false }, p.t));
        }
      }
      continue;
    }
    if (p.proto === 17 && p.src === o.server) {
      const open = tftp.get(`${p.dst}:${p.dport}`);
      if (open && open.step.kind === 'tftp' && p.payload.length >= 4) {
        tftpByServerPort.set(`${p.sport}`, open);
        if (p.payload.readUInt16BE(0) === 6) {
          const opts = p.payload.subarray(2).toString('latin1').split('\0');
          for (let i = 0; i + 1 < opts.length; i += 2) if (opts[i]!.toLowerCase() === 'blksize') open.step.blksize = Number(opts[i + 1]) || open.step.blksize;
        } else if (p.payload.readUInt16BE(0) === 3) {
          const data = p.len - 4;
          open.step.bytes += data;
          open.end = p.t;
          if (data < open.step.blksize) open.step.complete = true;
        }
      }
      continue;
    }
    if (p.proto !== 6) continue;
    const toServer = p.dst === o.server;
    const clientKey = toServer ? `${p.src}:${p.sport}` : `${p.dst}:${p.dport}`;
    const port = toServer ? p.dport : p.sport;
    if (port === httpPort || port === httpsPort) {
      let c = httpConns.get(clientKey);
      if (c === undefined) httpConns.set(clientKey, (c = { id: connIds++, headerSeen: false, tls: port === httpsPort }));
      if (toServer && p.len > 0) {
        if (c.tls) {
          // TLS: nothing readable; one step per connection, its size from the server's records.
          c.current ??= push({ kind: 'http', gapMs: 0, ms: 0, method: 'TLS', path: '(secrets over TLS)', status: 0, bytes: 0, conn: c.id, tls: true }, p.t);
        } else {
          const line = /^(GET|HEAD|POST|PUT) (\S+) HTTP\/1\.[01]\r\n/.exec(p.payload.toString('latin1', 0, Math.min(p.payload.length, 1024)));
          if (line) {
            c.current = push({ kind: 'http', gapMs: 0, ms: 0, method: line[1]!, path: line[2]!, status: 0, bytes: 0, conn: c.id, tls: false }, p.t);
            c.headerSeen = false;
          }
        }
      } else if (!toServer && p.len > 0 && c.current && c.current.step.kind === 'http') {
        const s = c.current.step;
        c.current.end = p.t;
        if (c.tls) { s.bytes += p.len; continue; }
        if (!c.headerSeen) {
          const head = p.payload.toString('latin1');
          const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
          const split = head.indexOf('\r\n\r\n');
          if (status && split >= 0) {
            s.status = Number(status[1]);
            c.headerSeen = true;
            s.bytes += p.len - (split + 4);
          }
        } else {
          s.bytes += p.len;
        }
      }
      continue;
    }
    if (port === nbdPort) {
      let c = nbdConns.get(clientKey);
      if (c === undefined) {
        c = { open: push({ kind: 'nbd', gapMs: 0, ms: 0, export: '', bytes: 0, reads: [] }, p.t), stream: Buffer.alloc(0), lastServer: p.t, synced: false, truncated: 0 };
        nbdConns.set(clientKey, c);
      }
      if (!toServer) {
        c.lastServer = p.t;
        c.open.end = p.t;
        continue;
      }
      if (p.len === 0) continue;
      if (c.nextSeq !== undefined && p.seq !== c.nextSeq) continue; // a retransmission
      c.nextSeq = (p.seq + p.len) >>> 0;
      if (p.payload.length < p.len) c.truncated++;
      c.stream = Buffer.concat([c.stream, p.payload]);
      const step = c.open.step as Extract<TraceStep, { kind: 'nbd' }>;
      if (!step.export) step.export = exportNameOf(c.stream);
      // Requests are 28 bytes: magic, flags, type, cookie, offset, length. Find the first one,
      // then read them in step (a read-only root sends no write payloads between them).
      if (!c.synced) {
        let at = -1;
        for (let i = 0; i + 4 <= c.stream.length; i++) if (c.stream.readUInt32BE(i) === NBD_REQUEST_MAGIC) { at = i; break; }
        if (at < 0) continue;
        c.stream = c.stream.subarray(at);
        c.synced = true;
      }
      let last = c.lastServer;
      while (c.stream.length >= 28) {
        if (c.stream.readUInt32BE(0) !== NBD_REQUEST_MAGIC) { c.synced = false; notes.push('an NBD request stream lost its framing (a truncated segment): resynchronized'); break; }
        const type = c.stream.readUInt16BE(6);
        const offset = Number(c.stream.readBigUInt64BE(16));
        const length = c.stream.readUInt32BE(24);
        if (type === 0) {
          step.reads.push([Math.max(0, Math.round(p.t - last)), offset, length]);
          step.bytes += length;
          last = p.t;
        }
        c.stream = c.stream.subarray(28);
      }
    }
  }
  if (node === undefined) notes.push('no DHCP ACK seen: the node address is unknown');
  for (const c of nbdConns.values()) if (c.truncated) notes.push(`${c.truncated} NBD request segments were longer than the capture's snap length`);
  // Order by start; each step's think time is the gap since the previous step ended.
  steps.sort((a, b) => a.start - b.start);
  let prevEnd = first ?? 0;
  for (const s of steps) {
    s.step.gapMs = Math.max(0, Math.round(s.start - prevEnd));
    s.step.ms = Math.round(s.end - s.start);
    prevEnd = Math.max(prevEnd, s.end);
  }
  return {
    mode: o.mode,
    source: 'tcpdump on the lab bridge during one DebianLab boot (QEMU TCG, virtio-net) against diskless serve with its shipped defaults',
    recordedMs: Math.round(prevEnd - (first ?? 0)),
    steps: steps.map((s) => s.step),
    notes: [...new Set(notes)],
  };
}

/** The export an option asks for: NBD_OPT_EXPORT_NAME (1) carries the name, INFO (6) and GO (7) a length first. */
function exportNameOf(stream: Buffer): string {
  const at = stream.indexOf('IHAVEOPT', 0, 'latin1');
  if (at < 0 || stream.length < at + 16) return '';
  const option = stream.readUInt32BE(at + 8);
  const data = stream.subarray(at + 16, at + 16 + stream.readUInt32BE(at + 12));
  const name = option === 1 ? data : (option === 6 || option === 7) && data.length >= 4 ? data.subarray(4, 4 + data.readUInt32BE(0)) : Buffer.alloc(0);
  return name.toString('latin1').replace(/[^\x20-\x7e]/g, '');
}

function dhcpMessageType(p: Buffer): number | undefined {
  if (p.readUInt32BE(236) !== 0x63825363) return undefined;
  for (let i = 240; i + 1 < p.length; ) {
    const code = p[i]!;
    if (code === 0) { i++; continue; }
    if (code === 255) break;
    const len = p[i + 1]!;
    if (code === 53 && len === 1 && i + 2 < p.length) return p[i + 2];
    i += 2 + len;
  }
  return undefined;
}

function ipOf(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function parseRrq(p: Buffer): { file: string; blksize: number } | undefined {
  if (p.length < 4 || p.readUInt16BE(0) !== 1) return undefined;
  const parts = p.subarray(2).toString('latin1').split('\0');
  const file = parts[0];
  if (!file) return undefined;
  let blksize = 512;
  for (let i = 2; i + 1 < parts.length; i += 2) if (parts[i]!.toLowerCase() === 'blksize') blksize = Number(parts[i + 1]) || 512;
  return { file, blksize };
}
