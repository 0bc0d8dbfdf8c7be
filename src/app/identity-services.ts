import { join } from 'node:path';
import type { DisklessConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { BootTreeHooks } from '../boot/boot-tree.js';
import type { HttpHandler } from '../http/server.js';
import { SecretStore } from '../secrets/secret-store.js';
import { TokenIssuer } from '../secrets/tokens.js';
import { BootTokens } from '../identity/boot-tokens.js';
import { firstOwner, neighbourTableOwner } from '../identity/address-owner.js';
import { nodeFilesEndpoint } from '../identity/node-files-endpoint.js';
import { RunningVersions, runningVersionsPath } from '../images/store/running-versions.js';
import type { AlertHook } from '../identity/alerts.js';
import { nodeByAddress } from '../boot/boot-target.js';

export interface IdentityServices {
  hooks: BootTreeHooks;
  handler: HttpHandler;
  running: RunningVersions;
}

/**
 * Per-node identity for the boot services: secrets in STATE/secrets (refused at start if their
 * modes were widened), one-time tokens in boot scripts, the node-files endpoint, and the record
 * of which node was given which image version. `onAlert` hears the security alerts it logs.
 */
export async function startIdentity(config: () => DisklessConfig, logger: Logger, onAlert: AlertHook = () => {}): Promise<IdentityServices> {
  const cfg = config();
  const secrets = await SecretStore.open({ stateDir: cfg.server.stateDir, logger });
  const tokens = new TokenIssuer({ ttlMs: cfg.server.tokenTtlSec * 1000 });
  // The neighbour table is the witness; a reservation stands in only when the node is not on
  // our link (a DHCP relay in between), where the table cannot know it.
  const reserved = async (ip: string) => nodeByAddress(config(), ip)?.mac;
  const bootTokens = new BootTokens(tokens, firstOwner(neighbourTableOwner(), reserved), logger, onAlert);
  const running = await RunningVersions.read(runningVersionsPath(cfg.server.stateDir));
  return {
    hooks: {
      tokenFor: (mac, peer) => bootTokens.forScript(mac, peer),
      onPinned: (mac, image, version) => {
        running.record(mac, image, version).catch((e: unknown) => logger.log('error', 'cannot record running version', { service: 'images', mac, error: String(e) }));
      },
    },
    handler: nodeFilesEndpoint({ config, tokens, secrets, logger, onAlert }),
    running,
  };
}
