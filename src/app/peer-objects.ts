import { get } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { objectPath } from '../boot/urls.js';

/** A peer that sends nothing for this long is given up on (the next peer is tried). */
const IDLE_TIMEOUT_MS = 30_000;

/**
 * The bytes of the store object `sha256` from the boot server at `baseUrl` (its boot listener
 * serves objects/sha256/HEX from its own store), as the response body; undefined when the
 * peer has no such object (404). The caller verifies the hash while it streams: a peer is
 * trusted for nothing.
 */
export function fetchObject(baseUrl: string, sha256: string): Promise<IncomingMessage | undefined> {
  return new Promise((resolve, reject) => {
    const req = get(`${baseUrl}/${objectPath(sha256)}`, { timeout: IDLE_TIMEOUT_MS }, (res) => {
      if (res.statusCode === 200) {
        res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(new Error(`${baseUrl} sent nothing for ${IDLE_TIMEOUT_MS / 1000} s`)));
        resolve(res);
        return;
      }
      res.resume();
      if (res.statusCode === 404) resolve(undefined);
      else reject(new Error(`${baseUrl} answered ${res.statusCode ?? '?'} for object ${sha256}`));
    });
    req.on('timeout', () => req.destroy(new Error(`${baseUrl} did not answer within ${IDLE_TIMEOUT_MS / 1000} s`)));
    req.on('error', (e) => reject(new Error(`cannot fetch object ${sha256} from ${baseUrl}: ${e.message}`)));
  });
}
