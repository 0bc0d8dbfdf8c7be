import type { DhcpEvent } from '../protocols/dhcp/server.js';
import type { TftpEvent } from '../protocols/tftp/server.js';
import type { HttpEvent } from '../http/server.js';
import type { NbdEvent } from '../protocols/nbd/events.js';
import type { NodeReport } from './service-events.js';
import { macFromBootPath, parseBootPath, parseVersionExport } from '../boot/urls.js';
import type { NewBootEvent } from './boot-event.js';
import { peerIp } from './peer-address.js';
import type { MacLookup } from './peer-directory.js';

/** What a converter needs besides the event: the clock and who is behind an IP. */
export interface ConvertContext {
  now: () => number;
  lookupMac: MacLookup;
}

export function fromDhcp(e: DhcpEvent): NewBootEvent {
  const fields: Record<string, string> = { xid: `0x${e.xid.toString(16).padStart(8, '0')}` };
  if (e.file) fields.file = e.file;
  if (e.reason) fields.reason = e.reason;
  // Option 82 as the relay sent it, whether the responder trusted it, and the inventory node
  // it took the machine for: the node state keeps the machine's switch port from these.
  if (e.agent?.circuitId !== undefined) fields.circuitId = e.agent.circuitId;
  if (e.agent?.remoteId !== undefined) fields.remoteId = e.agent.remoteId;
  if (e.agent !== undefined) fields.agentTrusted = e.agent.trusted ? 'yes' : 'no';
  if (e.node !== undefined) fields.node = e.node;
  if (e.vendorClass !== undefined) fields.vendorClass = e.vendorClass;
  const detail = [e.ip, e.file, e.reason].filter(Boolean).join(' ');
  return { time: e.at, mac: e.mac, ...(e.ip ? { ip: e.ip } : {}), kind: 'dhcp', name: e.type, detail, fields };
}

/**
 * The failed step of a boot DHCP refused (an offer with `refused`): named `arch`, as the one
 * refusal today is a kernel of another architecture than the machine.
 */
export function dhcpRefusal(e: DhcpEvent): NewBootEvent {
  return {
    time: e.at,
    mac: e.mac,
    ...(e.ip ? { ip: e.ip } : {}),
    kind: 'failed',
    name: 'arch',
    detail: e.refused ?? '',
    fields: { status: 'failed', xid: `0x${e.xid.toString(16).padStart(8, '0')}` },
  };
}

export function fromTftp(e: TftpEvent, ctx: ConvertContext): NewBootEvent {
  // The peer with its port tells one transfer from another of the same machine.
  const fields: Record<string, string> = { file: e.file, peer: `${e.peer.address}:${e.peer.port}` };
  if (e.error) fields.error = e.error;
  return {
    time: ctx.now(),
    ...who(e.peer.address, ctx, macFromBootPath(e.file)),
    kind: 'tftp',
    name: e.type,
    detail: e.error ? `${e.file}: ${e.error}` : e.file,
    ...(e.type === 'start' ? {} : { durationMs: e.durationMs, bytes: e.bytes }),
    fields,
  };
}

export function fromHttp(e: HttpEvent, ctx: ConvertContext): NewBootEvent {
  const fields: Record<string, string> = { method: e.method, path: e.path, status: String(e.status) };
  if (e.error) fields.error = e.error;
  // A pinned image file names the version this node boots.
  const stored = parseBootPath(e.path);
  if (stored?.kind === 'stored' && e.status < 300) Object.assign(fields, { image: stored.image, version: stored.version });
  return {
    time: ctx.now(),
    ...who(e.peer, ctx, macFromBootPath(e.path)),
    kind: 'http',
    name: e.type,
    detail: `${e.method} ${e.path} ${e.status}${e.error ? `: ${e.error}` : ''}`,
    durationMs: e.durationMs,
    bytes: e.bytes,
    fields,
  };
}

export function fromNbd(e: NbdEvent, ctx: ConvertContext): NewBootEvent {
  const fields: Record<string, string> = { peer: e.peer };
  if (e.export !== undefined) fields.export = e.export;
  if (e.error) fields.error = e.error;
  // The export of a stored version names the version this node boots.
  const pinned = e.export === undefined ? undefined : parseVersionExport(e.export);
  if (pinned) Object.assign(fields, { image: pinned.image, version: pinned.version });
  const ended = e.type === 'disconnect' || e.type === 'error';
  return {
    time: ctx.now(),
    ...who(e.peer, ctx),
    kind: 'nbd',
    name: e.type,
    detail: [e.export, e.error].filter(Boolean).join(': '),
    ...(ended ? { durationMs: e.durationMs, bytes: e.bytesRead } : {}),
    fields,
  };
}

/**
 * A node's report: failures become `failed`, the booted system's report `booted`, everything
 * else a `stage` with its status in fields. /init sends key=value pairs in `detail`
 * ("duration_ms=812", "bytes=… duration_ms=…"); they are lifted into fields so durations and
 * sizes are numbers, not prose.
 */
export function fromReport(r: NodeReport, ctx: Pick<ConvertContext, 'now'>): NewBootEvent {
  const fromDetail = keyValues(r.detail);
  const fields: Record<string, string> = { ...fromDetail, ...r.fields, status: r.status };
  // Only the report endpoint sets it, after checking the report's proof; a node's own "proven=" in its detail is dropped.
  delete fields.proven;
  if (r.proven !== undefined) fields.proven = String(r.proven);
  const durationMs = numberField(fields, 'duration_ms') ?? secondsField(fields, 'duration_s');
  const bytes = numberField(fields, 'bytes');
  const kind = r.status === 'failed' ? 'failed' : r.stage === 'booted' ? 'booted' : 'stage';
  const ip = peerIp(r.peer);
  return {
    time: ctx.now(),
    mac: r.mac,
    ...(ip ? { ip } : {}),
    kind,
    name: r.stage,
    detail: r.detail,
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(bytes === undefined ? {} : { bytes }),
    fields,
  };
}

/** HTTP paths that are part of a boot, as opposed to the API, /metrics, node reports and the dashboard page. */
export function isBootTraffic(path: string): boolean {
  return !path.startsWith('/api/') && path !== '/metrics' && path !== '/' && path !== '/index.html' && !path.startsWith('/ui/');
}

function who(peer: string, ctx: ConvertContext, macHint?: string): { ip?: string; mac?: string } {
  const ip = peerIp(peer);
  const mac = (ip === undefined ? undefined : ctx.lookupMac(ip)) ?? macHint;
  return { ...(ip ? { ip } : {}), ...(mac ? { mac } : {}) };
}

const KEY_VALUE = /^[a-z_][a-z0-9_]{0,31}=\S*$/;

function keyValues(detail: string): Record<string, string> {
  const words = detail.trim().split(/\s+/);
  // Only a detail made wholly of pairs is data; a sentence that happens to contain "=" is not.
  if (!words.length || !words.every((w) => KEY_VALUE.test(w))) return {};
  return Object.fromEntries(words.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
}

function numberField(fields: Record<string, string>, key: string): number | undefined {
  const v = fields[key];
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v)) return undefined;
  return Number(v);
}

function secondsField(fields: Record<string, string>, key: string): number | undefined {
  const s = numberField(fields, key);
  return s === undefined ? undefined : Math.round(s * 1000);
}
