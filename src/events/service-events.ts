import type { DhcpEvent } from '../protocols/dhcp/server.js';
import type { TftpEvent } from '../protocols/tftp/server.js';
import type { NbdEvent } from '../protocols/nbd/events.js';
import type { HttpEvent } from '../http/server.js';

/** What a node's /init (or its booted system) says about its boot. */
export interface NodeReport {
  mac: string;
  stage: string;
  status: string;
  detail: string;
  peer: string;
  /** Anything else the node sent, e.g. uptime_ms. */
  fields: Record<string, string>;
  /**
   * Set when the report carried a valid proof (src/identity/report-proof.ts): when the boot
   * whose key proved it redeemed its token (ms since the epoch).
   */
  proven?: number;
}

/** Why a node report was turned away (see the report endpoint). */
export type ReportRefusal = 'unknown-mac' | 'from-browser' | 'not-a-form' | 'bad-proof';

/** The hooks every service reports through; each becomes a boot event (convert.ts). */
export interface ServiceEvents {
  dhcp?: (e: DhcpEvent) => void;
  tftp?: (e: TftpEvent) => void;
  http?: (e: HttpEvent) => void;
  nbd?: (e: NbdEvent) => void;
  node?: (r: NodeReport) => void;
}
