import type { ServerResponse } from 'node:http';
import type { DisklessConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { normalizeMac } from '../net/mac.js';
import type { HttpHandler } from '../http/server.js';
import { readBody } from '../http/read-body.js';
import type { TokenIssuer } from '../secrets/tokens.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { bundleFiles, nodeSecretFiles } from '../secrets/bundle.js';
import { nodeByMac } from '../boot/boot-target.js';
import { configuredNodeFiles, templateValues } from './node-files.js';
import type { AlertHook } from './alerts.js';
import { peerIp } from '../events/peer-address.js';

export const NODE_FILES_PATH = '/api/v1/node-files';
const MAX_BODY = 1024;

export interface NodeFilesDeps {
  config: () => DisklessConfig;
  tokens: TokenIssuer;
  secrets: SecretStore;
  logger: Logger;
  /** Hears the refusals logged as alerts (a reused token, one tried from another address). */
  onAlert?: AlertHook;
}

function answer(res: ServerResponse, status: number, text: string): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(text + '\n');
  return true;
}

/**
 * POST /api/v1/node-files (form: mac, token) → the node's files as a cpio archive: SSH host
 * keys, root's authorized_keys and password hash, and the profile's and node's `files:`.
 * The token comes from the node's own boot script; it works once, from that node's address,
 * within token_ttl. A reused token, or one tried from another address, is an alert.
 */
export function nodeFilesEndpoint(deps: NodeFilesDeps): HttpHandler {
  return async (req, res, path) => {
    if (path !== NODE_FILES_PATH) return false;
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return answer(res, 405, 'Method not allowed: POST a form with mac and token');
    }
    const text = await readBody(req, MAX_BODY);
    if (text === undefined) return answer(res, 413, `Request too large (limit ${MAX_BODY} bytes)`);
    const form = new URLSearchParams(text);
    const peer = req.socket.remoteAddress ?? '';
    const claimed = normalizeMac(form.get('mac') ?? '');
    if (!claimed) return answer(res, 400, 'Bad request: mac is missing or not a MAC address');
    const r = deps.tokens.redeem(form.get('token') ?? '', { mac: claimed, ip: peer });
    if (!r.ok) {
      deps.logger.log(r.alert ? 'warn' : 'info', r.alert ? 'secrets token refused: possible theft' : 'secrets token refused', {
        service: 'secrets', alert: r.alert, reason: r.reason, mac: claimed, tokenMac: r.mac, peer,
      });
      if (r.alert) {
        const ip = peerIp(peer);
        deps.onAlert?.({
          name: 'token-refused', mac: claimed, ...(ip ? { ip } : {}),
          detail: `secrets token refused (${r.reason}): possible theft`,
          fields: { reason: r.reason, ...(r.mac ? { tokenMac: r.mac } : {}) },
        });
      }
      return answer(res, 403, `Refused: token ${r.reason} (the node gets a new one from its boot script at the next boot)`);
    }
    const cfg = deps.config();
    const node = nodeByMac(cfg, r.mac);
    if (!node) return answer(res, 404, `No node ${r.mac} in the inventory`);
    let body: Buffer;
    try {
      const hostname = templateValues(cfg, node, peer).hostname;
      const files = [...(await nodeSecretFiles(deps.secrets, node.mac, hostname)), ...(await configuredNodeFiles(cfg, node, peer))];
      body = await bundleFiles(files);
      deps.logger.log('info', 'node files sent', { service: 'secrets', mac: node.mac, peer, files: files.length, bytes: body.length });
    } catch (e) {
      deps.logger.log('error', 'node files failed', { service: 'secrets', mac: node.mac, error: (e as Error).message });
      return answer(res, 500, `Cannot assemble this node's files: ${(e as Error).message}`);
    }
    res.writeHead(200, { 'content-type': 'application/x-cpio', 'content-length': String(body.length), 'cache-control': 'no-store' }).end(body);
    return true;
  };
}
