import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpServer } from '../../http/server.js';
import type { DisklessConfig, NodeConfig, ProfileConfig } from '../../config/types.js';
import { StoreError, type ImageSummary, type Manifest } from '../../images/store/image-store.js';
import { InventoryError } from '../../inventory/editor.js';
import { createObservability, type Observability } from '../../app/observability.js';
import type { ApiDeps, NodeFieldChanges, NodeFields } from '../deps.js';

export const TOKEN = 'tok-3f9a';
export const VERSION = '0123456789abcdef';

export interface Fixture {
  port: number;
  obs: Observability;
  nodes: NodeConfig[];
  writes: Array<['add', NodeFields] | ['set', string, NodeFieldChanges] | ['publish' | 'rollback', string, string?]>;
}

// Cast: the config types grow while this is written; the API reads only these fields.
const profile = { name: 'lab', image: 'debian', kernel: '', initrds: [], cmdline: 'quiet', loader: 'ipxe', secureBoot: false } as unknown as ProfileConfig;

/** A real HttpServer on 127.0.0.1 with the API over a temporary state directory and fake writers. */
export async function startApi(t: { after(fn: () => unknown): void }, overrides: Partial<Omit<ApiDeps, 'events' | 'states'>> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-api-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const obs = createObservability({ stateDir: dir, now: () => Date.UTC(2025, 0, 15, 8) });
  t.after(() => obs.close());
  const nodes: NodeConfig[] = [{ mac: '52:54:00:00:00:01', hostname: 'n1', profile: 'lab' }];
  const writes: Fixture['writes'] = [];
  const manifest = { name: 'debian', version: VERSION, sha256: 'ab'.repeat(32), size: 1, kernelVersion: '6.1.0', created: '2025-01-01T00:00:00Z', parent: null } as Manifest;
  const images: ImageSummary[] = [{ name: 'debian', published: VERSION, publishedAt: '2025-01-02T00:00:00Z', previous: [], versions: [manifest] }];
  const config: Pick<DisklessConfig, 'nodes' | 'profiles'> = { nodes, profiles: new Map([['lab', profile]]) };
  const server = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    resolve: async () => undefined,
    handlers: obs.handlers({
      inventory: () => config,
      adminToken: TOKEN,
      readCidrs: ['127.0.0.0/8'],
      heartbeatMs: 50,
      maxBodyBytes: 1024,
      writes: {
        addNode: async (n) => {
          if (nodes.some((x) => x.mac === n.mac)) throw new InventoryError('DL_INVENTORY', `Node ${n.mac} already exists`);
          writes.push(['add', n]);
          nodes.push({ mac: n.mac, profile: n.profile ?? 'lab', ...(n.hostname ? { hostname: n.hostname } : {}) });
        },
        setNode: async (mac, changes) => void writes.push(['set', mac, changes]),
      },
      images: {
        list: async () => images,
        publish: async (name, version) => {
          writes.push(['publish', name, version]);
          return { version, previous: [], publishedAt: 'now' };
        },
        rollback: async (name) => {
          writes.push(['rollback', name]);
          throw new StoreError('DL_STORE', `Cannot roll back ${name}: nothing to roll back to`);
        },
      },
      ...overrides,
    }),
  });
  await server.start();
  t.after(() => server.stop());
  return { port: server.port, obs, nodes, writes };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: any;
}

export function call(port: number, method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json', ...opts.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const auth = { authorization: `Bearer ${TOKEN}` };
