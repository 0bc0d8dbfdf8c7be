import type { ServerResponse } from 'node:http';
import type { DisklessConfig, NodeConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { normalizeMac } from '../net/mac.js';
import type { HttpHandler } from '../http/server.js';
import { readBody } from '../http/read-body.js';
import { ENDPOINTS, endpointPath } from './endpoints.js';
import type { TokenStore } from '../secrets/tokens.js';
import type { SecretSource } from '../secrets/secret-store.js';
import { bundleFiles, nodeSecretFiles } from '../secrets/bundle.js';
import { nodeByMac, nodeKey } from '../boot/boot-target.js';
import { configuredNodeFiles, templateValues } from '../identity/node-files.js';
import type { AlertHook } from '../identity/alerts.js';
import { peerIp } from '../events/peer-address.js';
import type { AddressOwner } from '../identity/address-owner.js';
import type { SecretsWindowStore } from '../identity/secrets-windows.js';
import { newReportId, reportKey } from '../identity/report-proof.js';

/** The answer's header that hands /init its report id and key for this boot: "ID KEY". */
export const REPORT_KEY_HEADER = 'x-diskless-report-key';

export const NODE_FILES_PATH = endpointPath('nodeFiles');
const MAX_BODY = 1024;

export interface NodeFilesDeps {
  config: () => DisklessConfig;
  /** The inventory node a machine is (by MAC, or by the switch port a trusted relay saw it on); default by MAC. */
  nodeOf?: (config: DisklessConfig, mac: string) => NodeConfig | undefined;
  tokens: TokenStore;
  /** Only a boot in progress may redeem; its window closes at the first redemption. */
  windows: SecretsWindowStore;
  /** Which MAC holds an address on our link (the neighbour table); undefined off-link. */
  witness: AddressOwner;
  secrets: SecretSource;
  logger: Logger;
  /** Hears the refusals logged as alerts (a reused token, one tried from another address). */
  onAlert?: AlertHook;
}

function answer(res: ServerResponse, status: number, text: string): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(text + '\n');
  return true;
}

/**
 * POST /api/v1/node-files (form: token; mac is informative) → the node's files as a cpio
 * archive: SSH host keys, root's authorized_keys and password hash, and the profile's and
 * node's `files:`; and in a header the key this boot proves its reports with. The token comes from the node's own boot script; it works once, from the
 * address it was issued to, by the machine the neighbour table says holds that address (never
 * the MAC the client claims), within token_ttl and inside the node's secrets window, which
 * the redemption closes. Any refusal outside a boot in progress is an alert: nothing asks for
 * secrets then but someone who should not.
 */
export function nodeFilesEndpoint(deps: NodeFilesDeps): HttpHandler {
  return async (req, res, path) => {
    if (path !== NODE_FILES_PATH) return false;
    if (req.method !== ENDPOINTS.nodeFiles.method) {
      res.setHeader('allow', ENDPOINTS.nodeFiles.method);
      return answer(res, 405, 'Method not allowed: POST a form with the token');
    }
    const text = await readBody(req, MAX_BODY);
    if (text === undefined) return answer(res, 413, `Request too large (limit ${MAX_BODY} bytes)`);
    const form = new URLSearchParams(text);
    const peer = req.socket.remoteAddress ?? '';
    const ip = peerIp(peer);
    if (ip === undefined) return answer(res, 400, 'Bad request: no client address');
    const claimed = normalizeMac(form.get('mac') ?? '');
    const witnessed = await deps.witness(ip);
    let r;
    try {
      r = await deps.tokens.redeem(form.get('token') ?? '', { ip, ...(witnessed === undefined ? {} : { mac: witnessed }) });
    } catch (e) {
      // The shared token store (the state database) is out of reach: nothing was decided, the
      // token is still good; /init tries again.
      deps.logger.log('error', 'secrets token not checked: the token store is unreachable', { service: 'secrets', peer, error: e instanceof Error ? e.message : String(e) });
      res.setHeader('retry-after', '5');
      return answer(res, 503, 'Unavailable: the token cannot be checked now; try again');
    }
    const mac = r.mac ?? witnessed ?? claimed;
    const inWindow = mac !== undefined && deps.windows.get(mac) !== undefined;
    const refuse = (reason: string, alert: boolean): true => {
      deps.logger.log(alert ? 'warn' : 'info', alert ? 'secrets token refused: possible theft' : 'secrets token refused', {
        service: 'secrets', alert, reason, mac, claimedMac: claimed, peerMac: witnessed, peer,
      });
      if (alert) {
        deps.onAlert?.({
          name: 'token-refused', ...(mac ? { mac } : {}), ip,
          detail: `secrets token refused (${reason}): possible theft`,
          fields: { reason, ...(r.mac ? { tokenMac: r.mac } : {}), ...(witnessed ? { peerMac: witnessed } : {}) },
        });
      }
      return answer(res, 403, `Refused: token ${reason} (a node gets a new one from its boot script while it boots)`);
    };
    // Unknown or expired inside a boot is a server restart or a slow boot: /init asks its
    // boot script for a fresh token. Outside a boot nothing legitimate asks at all.
    if (!r.ok) return refuse(r.reason, r.alert || !inWindow);
    if (!inWindow) return refuse('outside-boot', true);
    const cfg = deps.config();
    const node = (deps.nodeOf ?? nodeByMac)(cfg, r.mac);
    if (!node) return answer(res, 404, `No node ${r.mac} in the inventory`);
    let body: Buffer;
    let reportHeader: string;
    try {
      const hostname = templateValues(cfg, node, r.mac, peer).hostname;
      // Secrets belong to the node, not to the machine: a node known by its port keeps its
      // keys when its mainboard (and MAC) is replaced.
      const files = [...(await nodeSecretFiles(deps.secrets, nodeKey(node), hostname)), ...(await configuredNodeFiles(cfg, node, r.mac, peer))];
      body = await bundleFiles(files);
      // The key this boot proves its later reports with (src/identity/report-proof.ts).
      const id = newReportId(Date.now());
      reportHeader = `${id} ${reportKey(await deps.secrets.reportSecret(), r.mac, id)}`;
      // Closed once the files are ready: a failure above leaves the boot able to try again.
      deps.windows.close(r.mac, 'redeemed');
      deps.logger.log('info', 'node files sent', { service: 'secrets', mac: r.mac, node: nodeKey(node), peer, files: files.length, bytes: body.length });
    } catch (e) {
      deps.logger.log('error', 'node files failed', { service: 'secrets', mac: r.mac, node: nodeKey(node), error: (e as Error).message });
      return answer(res, 500, `Cannot assemble this node's files: ${(e as Error).message}`);
    }
    res.writeHead(200, { 'content-type': 'application/x-cpio', 'content-length': String(body.length), 'cache-control': 'no-store', [REPORT_KEY_HEADER]: reportHeader }).end(body);
    return true;
  };
}

/**
 * On the plain-HTTP listener: the node-files path answers only where to go instead. The
 * archive holds private keys, so it is never sent in the clear, not even to a valid token.
 */
export function nodeFilesOnlyOverTls(httpsUrl: string): HttpHandler {
  return async (_req, res, path) => {
    if (path !== NODE_FILES_PATH) return false;
    return answer(res, 403, `Refused: node files are served over HTTPS only, at ${httpsUrl}${NODE_FILES_PATH} (this initrd is too old: rebuild it)`);
  };
}
