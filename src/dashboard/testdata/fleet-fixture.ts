import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeConfig, ProfileConfig } from '../../config/types.js';
import type { BootEvent } from '../../events/boot-event.js';
import { createObservability, type Observability } from '../../app/observability.js';
import { T0 } from '../../events/testdata/boot-sequences.js';
import { HttpServer } from '../../http/server.js';
import type { ImageSummary, Manifest } from '../../images/store/image-store.js';
import type { NodeFields } from '../../api/deps.js';
import { dashboardHandler } from '../handler.js';
import { RolloutRunner } from '../../rollout/runner.js';
import { VersionPins } from '../../images/store/version-pins.js';
import type { DisklessConfig } from '../../config/types.js';

export const TOKEN = 'dash-7c21';
export const VERSION = '0123456789abcdef';
export const OLD_VERSION = 'fedcba9876543210';

export interface DashboardFixture {
  url: string;
  obs: Observability;
  nodes: NodeConfig[];
  /** What the API asked the inventory to add. */
  added: NodeFields[];
  /** The server's rollouts, over this fixture's events and node states (nodes have no BMC). */
  rollouts: RolloutRunner;
  /** Records BootScript events as if they happened now (the page shows "ago"). */
  replay(events: readonly BootEvent[]): void;
}

// Cast: the config types grow while this is written; the API reads only these fields.
const profile = (name: string, image: string) => ({ name, image, kernel: '', initrds: [], cmdline: 'quiet', loader: 'ipxe' }) as unknown as ProfileConfig;

/**
 * A real HttpServer on 127.0.0.1 with the API (over an event store in a temporary state
 * directory, fake inventory writes and a fake image store) and the dashboard: what
 * `diskless serve` puts together, without DHCP, TFTP or a machine.
 */
export async function startDashboard(t: { after(fn: () => unknown): void }, initial: NodeConfig[]): Promise<DashboardFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-dashboard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const obs = createObservability({ stateDir: dir });
  t.after(() => obs.close());
  const nodes = [...initial];
  const added: NodeFields[] = [];
  const manifest = (version: string, created: string, parent: string | null) => ({ name: 'debian', version, sha256: 'ab'.repeat(32), size: 312 * 1024 * 1024, kernelVersion: '6.1.0-28-amd64', created, parent }) as Manifest;
  const images: ImageSummary[] = [
    { name: 'debian', published: VERSION, publishedAt: '2025-01-14T09:00:00Z', previous: [OLD_VERSION], versions: [manifest(OLD_VERSION, '2025-01-10T09:00:00Z', null), manifest(VERSION, '2025-01-14T08:30:00Z', OLD_VERSION)] },
  ];
  const profiles = new Map([['lab', profile('lab', 'debian')], ['lab-uefi', profile('lab-uefi', 'debian')]]);
  const store = {
    list: async () => images,
    publish: async (_name: string, version: string) => ({ version, previous: [], publishedAt: '2025-01-01T00:00:00Z' }),
    rollback: async () => ({ version: '', previous: [], publishedAt: '2025-01-01T00:00:00Z' }),
    show: async (_name: string, version?: string) => ({ version: version ?? VERSION }),
    resolve: async () => ({ version: VERSION }),
  };
  const rollouts = await RolloutRunner.open({
    path: join(dir, 'rollouts.json'),
    config: () => ({ nodes, profiles, defaultProfile: 'lab', file: 'fixture.yaml', dhcp: { mode: 'full' }, state: { backend: 'files' } }) as unknown as DisklessConfig,
    images: store,
    pins: await VersionPins.read(join(dir, 'version-pins.json')),
    states: obs.states,
    events: obs.store,
    record: (e) => void obs.record(e),
    tickMs: 100,
  });
  rollouts.run();
  t.after(() => rollouts.close());
  const server = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    resolve: async () => undefined,
    handlers: [
      ...obs.handlers({
        inventory: () => ({ nodes, profiles, defaultProfile: 'lab' }),
        adminToken: TOKEN,
        readCidrs: ['127.0.0.0/8'],
        heartbeatMs: 2000,
        writes: {
          addNode: async (n) => {
            added.push(n);
            nodes.push({ ...(n.mac !== undefined ? { mac: n.mac } : {}), profile: n.profile ?? 'lab', ...(n.hostname ? { hostname: n.hostname } : {}), ...(n.address ? { address: n.address } : {}) });
          },
          setNode: async () => {},
        },
        images: store,
        rollouts,
      }),
      dashboardHandler(),
    ],
  });
  await server.start();
  t.after(() => server.stop());
  const base = Date.now();
  return {
    url: `http://127.0.0.1:${server.port}/`,
    obs,
    nodes,
    added,
    rollouts,
    replay: (events) => {
      for (const { seq: _seq, ...e } of events) obs.record({ ...e, time: e.time - T0 + base });
    },
  };
}
