import type { NodeReport } from '../service-events.js';
import type { BootEvent, NewBootEvent } from '../boot-event.js';
import { fromDhcp, fromHttp, fromNbd, fromReport, fromTftp, type ConvertContext } from '../convert.js';
import { PeerDirectory } from '../peer-directory.js';
import { bootScriptPath, bootUrl, storedFilePath } from '../../boot/urls.js';

export const MAC = '52:54:00:12:34:56';
export const IP = '10.77.0.50';
export const VERSION = '0123456789abcdef';
export const T0 = Date.UTC(2025, 0, 15, 8, 0, 0);

/**
 * Builds the events of real boots the way the services emit them (BIOS PXE → undionly.kpxe →
 * iPXE → boot/MAC.ipxe → pinned kernel and initrd → /init reports → the booted unit), through
 * the converters, with a clock the script moves.
 */
export class BootScript {
  readonly events: BootEvent[] = [];
  readonly peers = new PeerDirectory();
  #now = T0;
  #xid = 0x1000;
  readonly #ctx: ConvertContext = { now: () => this.#now, lookupMac: this.peers.lookup };

  constructor(readonly mac = MAC, readonly ip = IP) {}

  at(offsetMs: number): this {
    this.#now = T0 + offsetMs;
    return this;
  }

  /**
   * DISCOVER, OFFER, REQUEST, ACK; `file` is what a PXE client is told to load next, `vendorClass`
   * the client's option 60.
   */
  dhcp(file?: string, vendorClass?: string): this {
    const xid = this.#xid++;
    const base = { mac: this.mac, xid, ...(vendorClass !== undefined ? { vendorClass } : {}) };
    for (const [type, extra] of [
      ['discover', {}],
      ['offer', { ip: this.ip, ...(file ? { file } : {}) }],
      ['request', { ip: this.ip }],
      ['ack', { ip: this.ip, ...(file ? { file } : {}) }],
    ] as const) {
      this.#push(fromDhcp({ ...base, type, ...extra, at: this.#now }));
      this.#now += 5;
    }
    return this;
  }

  /** A booted system renewing its lease: REQUEST and ACK, no boot file, no DISCOVER. */
  renew(): this {
    const base = { mac: this.mac, xid: this.#xid++, ip: this.ip };
    this.#push(fromDhcp({ ...base, type: 'request', at: this.#now }));
    return this.#push(fromDhcp({ ...base, type: 'ack', at: this.#now + 2 }));
  }

  tftp(file: string, bytes: number, ms: number): this {
    const peer = { address: this.ip, port: 2070 };
    this.#push(fromTftp({ type: 'start', peer, file, bytes: 0, durationMs: 0 }, this.#ctx));
    this.#now += ms;
    return this.#push(fromTftp({ type: 'done', peer, file, bytes, durationMs: ms }, this.#ctx));
  }

  http(path: string, bytes: number, ms: number, status = 200): this {
    this.#now += ms;
    return this.#push(fromHttp({ type: 'done', peer: `::ffff:${this.ip}`, method: 'GET', path, status, bytes, durationMs: ms }, this.#ctx));
  }

  nbd(type: 'connect' | 'attach' | 'disconnect', exportName: string, bytesRead = 0): this {
    return this.#push(fromNbd({ type, peer: `${this.ip}:40000`, export: exportName, bytesRead, durationMs: 100 }, this.#ctx));
  }

  /** One line of /init's `report STAGE STATUS DETAIL`, sent with the node's uptime. */
  /** `proven`: the report carried a proof the endpoint checked, of a key redeemed at that time. */
  report(stage: string, status: string, detail: string, uptimeMs: number, extra: Record<string, string> = {}, proven?: number): this {
    const fields = stage === 'booted' ? { uptime_s: (uptimeMs / 1000).toFixed(2), ...extra } : { uptime_ms: String(uptimeMs), ...extra };
    const r: NodeReport = { mac: this.mac, stage, status, detail, peer: `::ffff:${this.ip}`, fields, ...(proven === undefined ? {} : { proven }) };
    return this.#push(fromReport(r, this.#ctx));
  }

  /** The usual firmware-to-kernel part of a boot of image debian at VERSION. */
  firmwareToKernel(): this {
    return this.dhcp('undionly.kpxe')
      .tftp('undionly.kpxe', 70_000, 120)
      .dhcp(bootUrl('http://10.77.0.1:8080', bootScriptPath(this.mac)))
      .http(`/${bootScriptPath(this.mac)}`, 420, 3)
      .http(`/${storedFilePath('debian', VERSION, 'vmlinuz')}`, 8_000_000, 400)
      .http(`/${storedFilePath('debian', VERSION, 'initrd.img')}`, 30_000_000, 1_200);
  }

  #push(e: NewBootEvent): this {
    this.peers.learn(e);
    this.events.push({ seq: this.events.length + 1, ...e });
    return this;
  }
}

