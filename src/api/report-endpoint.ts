import type { NodeReport, ReportRefusal } from '../events/service-events.js';
import type { FailureReportInput } from '../events/failure-reports.js';
export type { ReportRefusal } from '../events/service-events.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeMac } from '../net/mac.js';
import type { HttpHandler } from '../http/server.js';
import { readBody } from '../http/read-body.js';
import { ENDPOINTS, endpointPath } from './endpoints.js';

/**
 * Why a report was turned away: `unknown-mac` names a machine the server never saw;
 * `from-browser` carries headers only a web browser sends (a page forging reports from an
 * admin's browser); `not-a-form` is not the form body busybox wget posts; `bad-proof` carries
 * a report proof that is not that machine's (a forgery, or a changed stage or status).
 */

export interface RefusedReport {
  reason: ReportRefusal;
  peer: string;
  /** For unknown-mac: the MAC the report named. */
  mac?: string;
}

export interface ReportEndpointOptions {
  onReport(r: NodeReport): void;
  /**
   * Whether the server knows the machine (inventory, DHCP leases and offers, sightings by its
   * own services). Only those may report: the endpoint has no authentication, and each report
   * about a new MAC would otherwise create state for a machine that does not exist.
   */
  isKnownMac(mac: string): boolean;
  /** Told of every refusal; the caller counts them and logs them in a bounded way. */
  onRefused?(r: RefusedReport): void;
  /**
   * Checks a report's `report_id` and `proof` (src/identity/report-proof.ts): when the proving
   * boot redeemed its token, or undefined when the proof is wrong. Without it proofs are ignored.
   */
  checkProof?(r: { mac: string; stage: string; status: string; id: string; proof: string }): Promise<number | undefined>;
}

/** Form fields the server reads itself, or sets on the event: never taken from a node's form as-is. */
const OWN_FIELDS = ['mac', 'stage', 'status', 'detail', 'report_id', 'proof', 'proven'];

const MAX_BODY = 4096;
const WORD = /^[a-z_]{1,32}$/;
/** What busybox wget sends with --post-data, and all that a report may be. */
const FORM_TYPE = 'application/x-www-form-urlencoded';

function answer(res: ServerResponse, status: number, text: string, close = false): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...(close ? { connection: 'close' } : {}) }).end(text + '\n');
  return true;
}

/**
 * A browser adds Origin to every cross-site POST (forms included), and Sec-Fetch-* and
 * Referer to most; busybox wget in the initramfs and the booted system's unit send none of
 * them. So any of them means a web page is posting, never a node.
 */
function sentByBrowser(req: IncomingMessage): boolean {
  return Object.keys(req.headers).some((h) => h === 'origin' || h === 'referer' || h.startsWith('sec-fetch-'));
}

function isForm(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === FORM_TYPE;
}

/**
 * POST /api/v1/report with a form body (mac, stage, status, detail, …): busybox wget in the
 * initramfs can send nothing fancier. Requests a browser made and bodies of another type are
 * refused before the body is read; bodies are capped and fields validated before use; a MAC
 * the server does not know is refused.
 */
export function reportEndpoint(opts: ReportEndpointOptions): HttpHandler {
  const refuse = (req: IncomingMessage, reason: ReportRefusal, mac?: string) =>
    opts.onRefused?.({ reason, peer: req.socket.remoteAddress ?? '?', ...(mac === undefined ? {} : { mac }) });
  const { method } = ENDPOINTS.report;
  const reportPath = endpointPath('report');
  return async (req, res, path) => {
    if (path !== reportPath) return false;
    if (req.method !== method) {
      res.setHeader('allow', method);
      return answer(res, 405, 'Method not allowed: POST a form with mac, stage and status');
    }
    // The body is left unread: the connection must not carry another request.
    if (sentByBrowser(req)) {
      refuse(req, 'from-browser');
      return answer(res, 403, 'Report refused: sent by a web browser (Origin, Referer or Sec-Fetch-* header); only nodes report', true);
    }
    if (!isForm(req)) {
      refuse(req, 'not-a-form');
      return answer(res, 415, `Report refused: the body must be ${FORM_TYPE} (mac, stage, status, detail)`, true);
    }
    const body = await readBody(req, MAX_BODY);
    if (body === undefined) return answer(res, 413, `Report too large (limit ${MAX_BODY} bytes)`, true);
    const form = new URLSearchParams(body);
    const mac = normalizeMac(form.get('mac') ?? '');
    const stage = form.get('stage') ?? '';
    const status = form.get('status') ?? '';
    if (!mac) return answer(res, 400, 'Bad report: mac is missing or not a MAC address');
    if (!WORD.test(stage) || !WORD.test(status)) return answer(res, 400, 'Bad report: stage and status must be short lower-case words');
    if (!opts.isKnownMac(mac)) {
      refuse(req, 'unknown-mac', mac);
      return answer(res, 403, `Report refused: ${mac} is not a machine this server knows (not in the inventory, no DHCP lease or offer, never seen asking for an address or a boot script)`);
    }
    // A report after the node redeemed its token proves it came from that boot; one without a
    // proof is taken as before, and counts for less (a rollout never takes it as "booted").
    const id = form.get('report_id');
    const proof = form.get('proof');
    let proven: number | undefined;
    if (id !== null && proof !== null && opts.checkProof) {
      proven = await opts.checkProof({ mac, stage, status, id, proof });
      if (proven === undefined) {
        refuse(req, 'bad-proof', mac);
        return answer(res, 403, `Report refused: its proof is not ${mac}'s for this stage and status (forged or changed on the way)`);
      }
    }
    const fields: Record<string, string> = {};
    for (const [k, v] of form) if (!OWN_FIELDS.includes(k) && WORD.test(k)) fields[k] = v.slice(0, 256);
    opts.onReport({ mac, stage, status, detail: (form.get('detail') ?? '').slice(0, 1024), peer: req.socket.remoteAddress ?? '?', fields, ...(proven === undefined ? {} : { proven }) });
    return answer(res, 200, 'ok');
  };
}


export interface FailureReportEndpointOptions extends Omit<ReportEndpointOptions, 'onReport' | 'checkProof'> {
  onFailureReport(r: FailureReportInput & { peer: string }): void;
}

/**
 * The form a failure report may be at most: /init sends at most 48 KiB of text, which URL
 * encoding makes up to three times as long, plus the other fields.
 */
export const MAX_FAILURE_REPORT_BODY = 160 * 1024;

/**
 * POST /api/v1/failure-report: a node whose boot failed under rd.shell=0 sends its failure
 * report (mac, stage, cause, report) before it reboots. The same gate as stage reports: no
 * browser headers, a form body, a MAC the server knows; the body is capped, the text cleaned
 * and bounded by the store.
 */
export function failureReportEndpoint(opts: FailureReportEndpointOptions): HttpHandler {
  const refuse = (req: IncomingMessage, reason: ReportRefusal, mac?: string) =>
    opts.onRefused?.({ reason, peer: req.socket.remoteAddress ?? '?', ...(mac === undefined ? {} : { mac }) });
  const { method } = ENDPOINTS.failureReport;
  const ownPath = endpointPath('failureReport');
  return async (req, res, path) => {
    if (path !== ownPath) return false;
    if (req.method !== method) {
      res.setHeader('allow', method);
      return answer(res, 405, 'Method not allowed: POST a form with mac, stage, cause and report');
    }
    if (sentByBrowser(req)) {
      refuse(req, 'from-browser');
      return answer(res, 403, 'Report refused: sent by a web browser (Origin, Referer or Sec-Fetch-* header); only nodes report', true);
    }
    if (!isForm(req)) {
      refuse(req, 'not-a-form');
      return answer(res, 415, `Report refused: the body must be ${FORM_TYPE} (mac, stage, cause, report)`, true);
    }
    const body = await readBody(req, MAX_FAILURE_REPORT_BODY);
    if (body === undefined) return answer(res, 413, `Failure report too large (limit ${MAX_FAILURE_REPORT_BODY} bytes)`, true);
    const form = new URLSearchParams(body);
    const mac = normalizeMac(form.get('mac') ?? '');
    const stage = form.get('stage') ?? '';
    if (!mac) return answer(res, 400, 'Bad report: mac is missing or not a MAC address');
    if (!WORD.test(stage)) return answer(res, 400, 'Bad report: stage must be a short lower-case word');
    if (!opts.isKnownMac(mac)) {
      refuse(req, 'unknown-mac', mac);
      return answer(res, 403, `Report refused: ${mac} is not a machine this server knows (not in the inventory, no DHCP lease or offer, never seen asking for an address or a boot script)`);
    }
    opts.onFailureReport({ mac, stage, cause: form.get('cause') ?? '', text: form.get('report') ?? '', peer: req.socket.remoteAddress ?? '?' });
    return answer(res, 200, 'ok');
  };
}
