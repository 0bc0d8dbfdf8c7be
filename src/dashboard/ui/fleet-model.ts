/**
 * The fleet table as data: one row per node, sorted and filtered. Pure, so the page and the
 * tests agree on what a row says.
 */
import type { NodeStatus, NodeSummary, StoredImage } from '../../api/wire.js';

export interface FleetRow {
  mac: string;
  hostname: string;
  address: string;
  status: NodeStatus;
  /** Where the node is: the stage running or failed, else the phase before the kernel. */
  stage: string;
  /** "debian@01234567…", or "" when nothing is known. */
  image: string;
  imageTitle: string;
  lastEvent: string;
  lastEventTime: number | undefined;
  cause: string;
}

export type SortKey = 'hostname' | 'mac' | 'address' | 'status' | 'stage' | 'image' | 'lastEvent' | 'ago';

/** Problems first, then what is moving, then what is quiet. */
const STATUS_RANK: Readonly<Record<NodeStatus, number>> = { failed: 0, initramfs: 1, loading: 2, dhcp: 3, booted: 4, discovered: 5, offline: 6 };

export type RunningImages = ReadonlyMap<string, { name: string; version: string }>;

/** Which version each MAC runs, from GET /images (the server's running-versions view). */
export function runningImages(images: readonly StoredImage[]): RunningImages {
  const out = new Map<string, { name: string; version: string }>();
  for (const img of images) for (const v of img.versions) for (const mac of v.nodes) out.set(mac, { name: img.name, version: v.version });
  return out;
}

export function fleetRow(n: NodeSummary, running: RunningImages): FleetRow {
  const img = running.get(n.mac) ?? (n.booted?.image ? { name: n.booted.image, version: n.booted.version ?? '' } : undefined);
  const ev = n.lastEvent;
  return {
    mac: n.mac,
    hostname: n.hostname ?? '',
    address: n.address ?? n.ip ?? '',
    status: n.status,
    stage: n.stage ?? (n.status === 'dhcp' ? 'dhcp' : n.status === 'loading' ? 'load' : ''),
    image: img ? `${img.name}${img.version ? `@${img.version.slice(0, 8)}` : ''}` : '',
    imageTitle: img ? `${img.name}${img.version ? `@${img.version}` : ''}` : '',
    lastEvent: ev ? `${ev.kind} ${ev.name}${ev.detail ? `: ${ev.detail}` : ''}` : '',
    lastEventTime: ev?.time,
    cause: n.cause ?? '',
  };
}

export function sortRows(rows: readonly FleetRow[], key: SortKey, descending: boolean): FleetRow[] {
  const dir = descending ? -1 : 1;
  const value = (r: FleetRow): string | number => {
    switch (key) {
      case 'status':
        return STATUS_RANK[r.status];
      case 'address':
        return addressKey(r.address);
      case 'ago':
        // Newest first when ascending: "ago" grows as the time shrinks.
        return -(r.lastEventTime ?? -Infinity);
      default:
        return r[key].toLowerCase();
    }
  };
  return [...rows].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    const c = va < vb ? -1 : va > vb ? 1 : 0;
    // Ties keep a stable, useful order: by hostname, then MAC.
    return c * dir || a.hostname.localeCompare(b.hostname) || a.mac.localeCompare(b.mac);
  });
}

/** Every word of `text` must appear in one of the row's columns; `status` '' means any. */
export function filterRows(rows: readonly FleetRow[], text: string, status: NodeStatus | ''): FleetRow[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((r) => {
    if (status && r.status !== status) return false;
    const hay = [r.hostname, r.mac, r.address, r.status, r.stage, r.imageTitle, r.lastEvent, r.cause].join(' ').toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** 10.0.0.9 before 10.0.0.10; anything else after, as text. */
function addressKey(a: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  return m ? m.slice(1).map((p) => p.padStart(3, '0')).join('.') : `~${a}`;
}
