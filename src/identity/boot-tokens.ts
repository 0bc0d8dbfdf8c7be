import type { Logger } from '../log/logger.js';
import { normalizeIp, type TokenStore } from '../secrets/tokens.js';
import type { AddressOwner } from './address-owner.js';
import type { AlertHook } from './alerts.js';
import type { SecretsWindowStore } from './secrets-windows.js';

/**
 * Hands a one-time secrets token to a node's own boot script, and to no one else: only while
 * that node's secrets window is open (from its PXE DHCP exchange to its first redemption or
 * switch_root), and only when the machine asking is that node. The neighbour table witnesses
 * which machine asked; a node behind a DHCP relay is not in it, and then the asking address
 * must be the one our DHCP gave that MAC in the exchange that opened the window (a config
 * reservation alone proves nothing: anyone can claim an address off-link).
 */
export class BootTokens {
  constructor(
    private readonly issuer: TokenStore,
    private readonly windows: SecretsWindowStore,
    private readonly witness: AddressOwner,
    private readonly logger: Logger,
    private readonly onAlert: AlertHook = () => {},
  ) {}

  async forScript(mac: string, peer: string | undefined): Promise<string | undefined> {
    const ip = peer === undefined ? undefined : normalizeIp(peer);
    if (ip === undefined) return undefined;
    const owner = await this.witness(ip);
    const window = this.windows.get(mac);
    // Another machine asking is suspect whether or not a boot is on; an off-link asker is
    // judged only inside a window, by the address our DHCP gave the node in it.
    const other = owner !== undefined ? owner !== mac : window !== undefined && window.ip !== ip;
    if (other) {
      const who = owner ?? 'an unknown machine';
      this.logger.log('warn', 'boot script for another machine: no secrets token in it', {
        service: 'secrets', alert: true, mac, peer: ip, peerMac: owner ?? 'unknown',
      });
      this.onAlert({
        name: 'script-for-other-machine', mac, ip,
        detail: `boot script for ${mac} fetched by ${who}: no secrets token in it`,
        fields: { peerMac: owner ?? 'unknown' },
      });
      return undefined;
    }
    if (window === undefined) {
      this.logger.log('info', 'boot script without a secrets token: no boot of this machine in progress', {
        service: 'secrets', mac, peer: ip, hint: 'a secrets window opens when the machine gets its boot file over DHCP',
      });
      return undefined;
    }
    try {
      return await this.issuer.issue(mac, ip);
    } catch (e) {
      // A shared token store out of reach (the state database) must not fail the boot
      // script: it goes without a token, as outside a window, and /init asks for it again.
      this.logger.log('error', 'boot script without a secrets token: the token could not be stored', {
        service: 'secrets', mac, peer: ip, error: e instanceof Error ? e.message : String(e),
      });
      return undefined;
    }
  }
}
