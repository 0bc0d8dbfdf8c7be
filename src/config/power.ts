import { isIPv4, isIPv6 } from 'node:net';
import type { Fields } from './yaml-fields.js';

/** How to reach a node's BMC over IPMI (ipmitool -I lanplus). Profiles hold defaults, nodes the rest. */
export interface PowerSettings {
  /** The BMC's address or name. */
  ipmi?: string;
  /** UDP port of its IPMI-over-LAN service (default 623). */
  port?: number;
  user?: string;
  /** A file holding the BMC password (ipmitool -f): never on a command line. */
  passwordFile?: string;
  /** RMCP+ cipher suite (default 3: HMAC-SHA1 and AES-CBC-128, which every IPMI 2.0 BMC has). */
  cipherSuite?: number;
}

/** A node's BMC with every setting resolved. */
export interface PowerConfig {
  ipmi: string;
  port: number;
  user: string;
  passwordFile: string;
  cipherSuite: number;
}

export const IPMI_DEFAULT_PORT = 623;
export const IPMI_DEFAULT_CIPHER_SUITE = 3;

// A DNS name: labels of letters, digits and inner hyphens (so never an option to ipmitool).
const HOST = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
// IPMI user names are at most 16 bytes; printable, no space, not starting with "-".
const USER = /^[A-Za-z0-9_.@][A-Za-z0-9_.@-]{0,15}$/;

/** Reads a `power:` block (profile defaults or a node's own); keys not given stay undefined. */
export function readPowerSettings(f: Fields, path: (p: string) => string): PowerSettings {
  const ipmi = f.optString('ipmi');
  if (ipmi !== undefined && !isIPv4(ipmi) && !isIPv6(ipmi) && !HOST.test(ipmi)) f.fail('ipmi', `${JSON.stringify(ipmi)} is not an address or host name`, f.raw('ipmi'));
  const user = f.optString('user');
  if (user !== undefined && !USER.test(user)) f.fail('user', `${JSON.stringify(user)} is not an IPMI user name (1 to 16 letters, digits, "_", ".", "@", "-"; not starting with "-")`, f.raw('user'));
  const passwordFile = f.optString('password_file');
  const s: PowerSettings = {
    ...(ipmi !== undefined ? { ipmi } : {}),
    ...(f.has('port') ? { port: f.int('port', IPMI_DEFAULT_PORT, 1, 65535) } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(passwordFile !== undefined ? { passwordFile: path(passwordFile) } : {}),
    ...(f.has('cipher_suite') ? { cipherSuite: f.int('cipher_suite', IPMI_DEFAULT_CIPHER_SUITE, 0, 17) } : {}),
  };
  f.rejectUnknown();
  return s;
}

/**
 * A node's BMC: its own `power:` over its profile's. A node has a BMC when `ipmi` is set; then
 * `user` and `password_file` must be known too, from either place.
 */
export function resolvePower(node: PowerSettings | undefined, profile: PowerSettings | undefined, fail: (key: string, problem: string) => never, profileName: string): PowerConfig | undefined {
  const m = { ...profile, ...node };
  if (m.ipmi === undefined) {
    if (node !== undefined && Object.keys(node).length > 0) fail('power.ipmi', `is required: the address of this node's BMC (profile ${profileName} gives none)`);
    return undefined;
  }
  if (m.user === undefined) fail('power.user', `is required with power.ipmi (here or in profile ${profileName}'s power)`);
  if (m.passwordFile === undefined) fail('power.password_file', `is required with power.ipmi (here or in profile ${profileName}'s power): a file holding the BMC password`);
  return { ipmi: m.ipmi, port: m.port ?? IPMI_DEFAULT_PORT, user: m.user!, passwordFile: m.passwordFile!, cipherSuite: m.cipherSuite ?? IPMI_DEFAULT_CIPHER_SUITE };
}
