import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DisklessConfig } from '../config/types.js';
import { nullLogger, type Logger } from '../log/logger.js';
import { BootTree } from '../boot/boot-tree.js';
import { HttpServer, type HttpEvent } from '../http/server.js';
import { TftpServer, type TftpEvent } from '../protocols/tftp/server.js';
import { DhcpServer, type DhcpEvent } from '../protocols/dhcp/server.js';
import { LeaseStore } from '../boot/lease-store.js';
import { DEFAULT_DHCP_PORTS, type DhcpSettings } from '../boot/dhcp-settings.js';
import { dhcpNodeLookup, dhcpSettingsFromConfig, httpBaseUrl } from './dhcp-settings-from-config.js';

export interface ServiceEvents {
  dhcp?: (e: DhcpEvent) => void;
  tftp?: (e: TftpEvent) => void;
  http?: (e: HttpEvent) => void;
}

export interface StartOptions {
  logger?: Logger;
  events?: ServiceEvents;
  /** Tests move DHCP off the privileged ports. */
  dhcpPorts?: DhcpSettings['ports'];
}

export interface RunningServices {
  readonly http: HttpServer;
  readonly tftp: TftpServer;
  readonly dhcp: DhcpServer | undefined;
  stop(): Promise<void>;
}

/**
 * Starts HTTP, TFTP and (unless dhcp.mode is off) DHCP for one config. If any service cannot
 * start, those already started are stopped again before the error is thrown: nothing is left
 * half-running.
 */
export async function startServices(config: DisklessConfig, opts: StartOptions = {}): Promise<RunningServices> {
  const logger = opts.logger ?? nullLogger;
  const getConfig = () => config;
  const tree = new BootTree(getConfig, httpBaseUrl(config));
  await mkdir(config.server.stateDir, { recursive: true, mode: 0o750 });
  // TFTP needs a root directory of its own; without tftp_root it is an empty one, as every
  // file then comes from the boot tree.
  const tftpRoot = config.server.tftpRoot ?? join(config.server.stateDir, 'tftp-root');
  if (!config.server.tftpRoot) await mkdir(tftpRoot, { recursive: true });

  const http = new HttpServer({
    address: config.server.address,
    port: config.server.httpPort,
    resolve: (p) => tree.resolve(p),
    logger,
    ...(opts.events?.http ? { onEvent: opts.events.http } : {}),
  });
  const tftp = new TftpServer({
    address: config.server.address,
    port: config.server.tftpPort,
    root: tftpRoot,
    files: (p) => tree.resolve(p),
    logger,
    ...(opts.events?.tftp ? { onEvent: opts.events.tftp } : {}),
  });
  const dhcp =
    config.dhcp.mode === 'off'
      ? undefined
      : new DhcpServer({
          settings: dhcpSettingsFromConfig(config, opts.dhcpPorts ?? DEFAULT_DHCP_PORTS),
          lookupNode: dhcpNodeLookup(getConfig),
          reservedBy: (ip) => config.nodes.find((n) => n.address === ip)?.mac,
          leaseStore: new LeaseStore({ path: join(config.server.stateDir, 'dhcp-leases.json') }),
          logger,
          ...(opts.events?.dhcp ? { onEvent: opts.events.dhcp } : {}),
        });

  const started: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch((e: unknown) => logger.log('error', 'stop failed', { error: String(e) }));
  };
  try {
    for (const [name, s] of [['http', http], ['tftp', tftp], ['dhcp', dhcp]] as const) {
      if (!s) continue;
      await s.start().catch((e: unknown) => {
        throw new Error(`Cannot start ${name}: ${e instanceof Error ? e.message : String(e)}`);
      });
      started.push(s);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { http, tftp, dhcp, stop: stopAll };
}
