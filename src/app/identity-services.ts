import { join } from 'node:path';
import type { DisklessConfig, NodeConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { BootTreeHooks } from '../boot/boot-tree.js';
import type { HttpHandler } from '../http/server.js';
import { SecretStore, type SecretSource } from '../secrets/secret-store.js';
import { TokenIssuer, type TokenStore } from '../secrets/tokens.js';
import { BootTokens } from '../identity/boot-tokens.js';
import { neighbourTableOwner } from '../identity/address-owner.js';
import { nodeFilesEndpoint } from '../api/node-files-endpoint.js';
import { SecretsWindows, type SecretsWindowStore } from '../identity/secrets-windows.js';
import { RunningVersions, runningVersionsPath, type RunningVersionStore } from '../images/store/running-versions.js';
import type { AlertHook } from '../identity/alerts.js';
import { checkReportProof } from '../identity/report-proof.js';

export interface IdentityServices {
  hooks: BootTreeHooks;
  /** POST /api/v1/node-files, for the HTTPS listener only: the answer holds private keys. */
  handler: HttpHandler;
  /** Which boots may be handed their secrets now (opened by DHCP, closed by reports). */
  windows: SecretsWindowStore;
  running: RunningVersionStore;
  /** A node report's proof checked (src/identity/report-proof.ts): when its boot redeemed, or undefined. */
  checkReportProof(r: { mac: string; stage: string; status: string; id: string; proof: string }): Promise<number | undefined>;
}

/**
 * Per-node identity for the boot services: secrets in STATE/secrets (refused at start if their
 * modes were widened), one-time tokens in boot scripts while a boot's secrets window is open,
 * the node-files endpoint, and the record of which node was given which image version.
 * `onAlert` hears the security alerts it logs.
 */
export async function startIdentity(
  config: () => DisklessConfig,
  logger: Logger,
  onAlert: AlertHook = () => {},
  nodeOf?: (config: DisklessConfig, mac: string) => NodeConfig | undefined,
  /**
   * Kept in the state database several servers share; default: windows in
   * STATE/secrets-windows.json, tokens in memory, running versions in STATE/running-versions.json.
   */
  shared: { windows?: SecretsWindowStore; tokens?: TokenStore; secrets?: SecretSource; running?: RunningVersionStore } = {},
): Promise<IdentityServices> {
  const cfg = config();
  const secrets = shared.secrets ?? await SecretStore.open({ stateDir: cfg.server.stateDir, logger });
  const tokens = shared.tokens ?? new TokenIssuer({ ttlMs: cfg.server.tokenTtlSec * 1000 });
  const windows = shared.windows ?? await SecretsWindows.open({ path: join(cfg.server.stateDir, 'secrets-windows.json'), windowMs: cfg.server.secretsWindowSec * 1000, logger });
  // The neighbour table is the only witness of which machine holds an address on our link.
  const witness = neighbourTableOwner();
  const bootTokens = new BootTokens(tokens, windows, witness, logger, onAlert);
  const running = shared.running ?? await RunningVersions.read(runningVersionsPath(cfg.server.stateDir));
  return {
    hooks: {
      tokenFor: (mac, peer) => bootTokens.forScript(mac, peer),
      onPinned: (mac, image, version) => {
        running.record(mac, image, version).catch((e: unknown) => logger.log('error', 'cannot record running version', { service: 'images', mac, error: String(e) }));
      },
    },
    handler: nodeFilesEndpoint({ config, tokens, windows, witness, secrets, logger, onAlert, ...(nodeOf ? { nodeOf } : {}) }),
    windows,
    running,
    checkReportProof: async (r) => checkReportProof(await secrets.reportSecret(), r),
  };
}
