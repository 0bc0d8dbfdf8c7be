import type { Logger } from '../log/logger.js';
import { normalizeIp, type TokenIssuer } from '../secrets/tokens.js';
import type { AddressOwner } from './address-owner.js';
import type { AlertHook } from './alerts.js';

/**
 * Hands a one-time secrets token to a node's own boot script, and to no one else: the script
 * for MAC M gets a token only when the machine asking is M (by the address it asked from).
 * Anyone may still read any script, but a script fetched for another machine carries no token.
 */
export class BootTokens {
  constructor(
    private readonly issuer: TokenIssuer,
    private readonly owner: AddressOwner,
    private readonly logger: Logger,
    private readonly onAlert: AlertHook = () => {},
  ) {}

  async forScript(mac: string, peer: string | undefined): Promise<string | undefined> {
    const ip = peer === undefined ? undefined : normalizeIp(peer);
    if (ip === undefined) return undefined;
    const owner = await this.owner(ip);
    if (owner !== mac) {
      this.logger.log('warn', 'boot script for another machine: no secrets token in it', {
        service: 'secrets', alert: true, mac, peer: ip, peerMac: owner ?? 'unknown',
      });
      this.onAlert({
        name: 'script-for-other-machine', mac, ip,
        detail: `boot script for ${mac} fetched by ${owner ?? 'an unknown machine'}: no secrets token in it`,
        fields: { peerMac: owner ?? 'unknown' },
      });
      return undefined;
    }
    return this.issuer.issue(mac, ip);
  }
}
