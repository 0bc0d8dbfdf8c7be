import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PostgresStateConfig } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { startServices, type RunningServices } from '../app/services.js';
import { freeTcpPort, freeUdpPort } from './free-ports.js';

/** One `diskless serve` (startServices) of several sharing one state database, on loopback. */
export interface SharedServer {
  /** server.address: a loopback address of its own (127.0.0.2, 127.0.0.3…). */
  address: string;
  /** Its boot HTTP port. */
  port: number;
  /** https://ADDRESS:HTTPS_PORT, where node files are redeemed. */
  secretsUrl: string;
  apiPort: number;
  /** Its config file. */
  file: string;
  stateDir: string;
  services: RunningServices;
  /** Stops it once (the test's end stops it too). */
  stop(): Promise<void>;
}

/** The `state.url` of a test database, over the cluster's unix socket as the superuser. */
export function stateUrl(cfg: PostgresStateConfig): string {
  return `postgres://postgres@:${cfg.port}/${cfg.database}?host=${cfg.host}`;
}

/**
 * Writes DIR/ADDRESS.yaml, a server on `address` with free ports, DHCP off, state in `state`
 * with one secrets key for all (DIR/secrets.key), and `inventory` (YAML of profiles, nodes…)
 * below, then starts it.
 */
export async function serveShared(t: { after(fn: () => Promise<void>): void }, o: { dir: string; address: string; state: string; inventory: string }): Promise<SharedServer> {
  const port = await freeTcpPort();
  const httpsPort = await freeTcpPort();
  const apiPort = await freeTcpPort();
  const file = join(o.dir, `${o.address}.yaml`);
  const stateDir = join(o.dir, o.address);
  await writeFile(file, `server:
  address: ${o.address}
  http_port: ${port}
  https_port: ${httpsPort}
  tftp_port: ${await freeUdpPort()}
  state_dir: ${stateDir}
dhcp:
  mode: off
${o.inventory.trim()}
api:
  port: ${apiPort}
state:
  url: ${o.state}
  secrets_key_file: ${join(o.dir, 'secrets.key')}
`);
  return startShared(t, { address: o.address, port, secretsUrl: `https://${o.address}:${httpsPort}`, apiPort, file, stateDir });
}

/** Starts (again) the server a config file written by `serveShared` describes. */
export async function startShared(t: { after(fn: () => Promise<void>): void }, s: Omit<SharedServer, 'services' | 'stop'>): Promise<SharedServer> {
  const services = await startServices(loadConfig(s.file), { watchConfig: false });
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= services.stop());
  t.after(stop);
  return { ...s, services, stop };
}
