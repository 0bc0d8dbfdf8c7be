import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Proof that a node report comes from the machine that redeemed its boot's secrets token.
 *
 * When /init redeems its one-time token over TLS (the node-files endpoint), the answer carries a
 * report id and a report key for this boot. The key is HMAC-SHA256(server secret, MAC and id):
 * no server stores it, every server holding the same secret derives it again, and a restart
 * keeps it valid. The id starts with the time of the redemption, so a report proven with an
 * earlier boot's key (a recording replayed) is told apart from one of the boot under way. Each
 * report after the redemption carries `report_id` and `proof` = HMAC-SHA256(key, "diskless-report",
 * id, stage, status); the key itself never crosses the plain-HTTP listener, so a sniffer can
 * replay what it saw but not say anything the node did not.
 */

const ID = /^(\d{13})-[0-9a-f]{16}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** A new report id for a redemption at `now` (ms since the epoch). */
export function newReportId(now: number): string {
  return `${String(Math.floor(now)).padStart(13, '0')}-${randomBytes(8).toString('hex')}`;
}

/** When the boot whose key an id names redeemed its token; undefined for a malformed id. */
export function reportIdTime(id: string): number | undefined {
  const m = ID.exec(id);
  return m ? Number(m[1]) : undefined;
}

/** The report key of one boot of `mac` (lower-case, colon-separated), as 64 hex digits. */
export function reportKey(secret: Buffer, mac: string, id: string): string {
  return createHmac('sha256', secret).update(`diskless-report-key\n${mac}\n${id}`).digest('hex');
}

/** What a node sends as `proof` (hex): what /init computes with openssl (initramfs/lib/diskless/common.sh). */
export function reportProof(key: string, id: string, stage: string, status: string): string {
  return createHmac('sha256', Buffer.from(key, 'hex')).update(`diskless-report\n${id}\n${stage}\n${status}`).digest('hex');
}

/**
 * Checks a report's `report_id` and `proof` for `mac`: the redemption time the id names when the
 * proof is right, else undefined (wrong key, another MAC, a changed stage or status, bad format).
 */
export function checkReportProof(secret: Buffer, r: { mac: string; stage: string; status: string; id: string; proof: string }): number | undefined {
  const issued = reportIdTime(r.id);
  if (issued === undefined || !HEX64.test(r.proof)) return undefined;
  const want = Buffer.from(reportProof(reportKey(secret, r.mac, r.id), r.id, r.stage, r.status), 'hex');
  return timingSafeEqual(want, Buffer.from(r.proof, 'hex')) ? issued : undefined;
}
