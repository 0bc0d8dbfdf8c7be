/**
 * Every endpoint under /api/v1, declared once: its method and path, the query parameters it
 * reads, who calls it and on which of the server's listeners it answers. The admin API's route
 * table (routes.ts) is built from the endpoints of the admin listener, the node endpoints
 * (report-endpoint.ts, node-files-endpoint.ts) take their paths from here, the OpenAPI document
 * (openapi.ts) is generated from it, and src/app/observability-wiring.test.ts checks that each
 * listener answers exactly the endpoints declared on it.
 */

export const API_PREFIX = '/api/v1';

/**
 * The server's HTTP listeners (src/app/services.ts starts them):
 * - `admin`: api.address and api.port, plain HTTP on loopback and HTTPS elsewhere; the API,
 *   /metrics and the dashboard, for people and their tools.
 * - `boot`: server.address and server.http_port, plain HTTP as firmware needs; boot files and
 *   node reports.
 * - `secrets`: server.address and server.https_port; node files, over TLS only, to initrds that
 *   carry the server's certificate.
 */
export type Listener = 'admin' | 'boot' | 'secrets';

/** The admin listener speaks plain HTTP on a loopback address only; anywhere else HTTPS. */
export function adminListenerIsPlainHttp(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

/** The admin listener's URL, e.g. http://127.0.0.1:8780 or https://[fd00::1]:8780. */
export function adminBaseUrl(address: string, port: number): string {
  return `${adminListenerIsPlainHttp(address) ? 'http' : 'https'}://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/**
 * Who may call an endpoint:
 * - `read`: a client in api.read_from (the dashboard, `diskless status`, scripts);
 * - `write`: whoever holds the admin token (Authorization: Bearer);
 * - `node-report`: a machine the server knows, posting the form busybox wget sends, with none
 *   of the headers a web browser adds (/init and the booted system's report unit);
 * - `boot-token`: a node in its secrets window, with the one-time token from its boot script,
 *   from the address it was issued to (/init).
 */
export type Access = 'read' | 'write' | 'node-report' | 'boot-token';

/** `admin`: people and their tools. `node`: the machines being booted. */
export type Caller = 'admin' | 'node';

export interface Endpoint {
  readonly method: 'GET' | 'POST';
  /** Below API_PREFIX, with {param} segments. */
  readonly path: string;
  readonly listener: Listener;
  readonly caller: Caller;
  readonly access: Access;
  /** The query parameters it reads, and only those. */
  readonly query: readonly string[];
  /** One line for people (the OpenAPI summary). */
  readonly summary: string;
}

/** Keyed by OpenAPI operationId; a path with two methods lists GET first. */
export const ENDPOINTS = {
  openapi: { method: 'GET', path: '/openapi.json', listener: 'admin', caller: 'admin', access: 'read', query: [], summary: 'This document' },
  listNodes: { method: 'GET', path: '/nodes', listener: 'admin', caller: 'admin', access: 'read', query: ['limit', 'after'], summary: 'Inventory nodes with their state, a page at a time in MAC order' },
  addNode: { method: 'POST', path: '/nodes', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'Add a node to the inventory' },
  getNode: { method: 'GET', path: '/nodes/{mac}', listener: 'admin', caller: 'admin', access: 'read', query: [], summary: 'A node, its state and the timeline of its latest boot' },
  setNode: { method: 'POST', path: '/nodes/{mac}', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'Change inventory fields of a node (null removes one)' },
  getFailureReport: { method: 'GET', path: '/nodes/{mac}/failure-report', listener: 'admin', caller: 'admin', access: 'read', query: [], summary: "The machine's last failure report: what /init saved when a stage failed" },
  nodeEvents: { method: 'GET', path: '/nodes/{mac}/events', listener: 'admin', caller: 'admin', access: 'read', query: ['since', 'limit'], summary: 'Events of one machine' },
  listProfiles: { method: 'GET', path: '/profiles', listener: 'admin', caller: 'admin', access: 'read', query: [], summary: 'Profiles and the nodes using each' },
  listServers: { method: 'GET', path: '/servers', listener: 'admin', caller: 'admin', access: 'read', query: [], summary: 'The boot servers sharing the state, their health and the nodes each one bound' },
  listImages: { method: 'GET', path: '/images', listener: 'admin', caller: 'admin', access: 'read', query: [], summary: 'Images, their versions and the machines running each' },
  publishImage: { method: 'POST', path: '/images/{name}/publish', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'Make a version the one new boots get' },
  rollbackImage: { method: 'POST', path: '/images/{name}/rollback', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'Publish the previously published version again' },
  listDiscovered: { method: 'GET', path: '/discovered', listener: 'admin', caller: 'admin', access: 'read', query: ['limit', 'after'], summary: 'Machines seen but not in the inventory, a page at a time in MAC order' },
  adoptDiscovered: { method: 'POST', path: '/discovered/{mac}/adopt', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'Add a discovered machine to the inventory' },
  listRollouts: { method: 'GET', path: '/rollouts', listener: 'admin', caller: 'admin', access: 'read', query: [], summary: 'The rollout under way (or the last one) and the ones before it' },
  startRollout: { method: 'POST', path: '/rollouts', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'Roll an image version out: canaries first, then batches, failed nodes sent back' },
  getRollout: { method: 'GET', path: '/rollouts/{id}', listener: 'admin', caller: 'admin', access: 'read', query: [], summary: 'A rollout and each of its nodes' },
  pauseRollout: { method: 'POST', path: '/rollouts/{id}/pause', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'Start no new batch (nodes in flight are still watched)' },
  resumeRollout: { method: 'POST', path: '/rollouts/{id}/resume', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'Go on with a paused rollout' },
  listPins: { method: 'GET', path: '/pins', listener: 'admin', caller: 'admin', access: 'read', query: ['image'], summary: 'Version pins: the nodes that boot a stored version other than their image\'s published one, and who pinned them' },
  unpin: { method: 'POST', path: '/pins/unpin', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'Drop the version pins of the nodes named, or of every node of one image (never all by default): they boot the published version again at their next boot' },
  abortRollout: { method: 'POST', path: '/rollouts/{id}/abort', listener: 'admin', caller: 'admin', access: 'write', query: [], summary: 'End a rollout: no node is moved any more (nodes in flight are still watched, a failed one still sent back)' },
  listEvents: { method: 'GET', path: '/events', listener: 'admin', caller: 'admin', access: 'read', query: ['node', 'since', 'limit'], summary: 'Boot events, newest last' },
  streamEvents: { method: 'GET', path: '/events/stream', listener: 'admin', caller: 'admin', access: 'read', query: ['node', 'since'], summary: 'Live events as Server-Sent Events (id = seq; Last-Event-ID or ?since= resumes)' },
  report: { method: 'POST', path: '/report', listener: 'boot', caller: 'node', access: 'node-report', query: [], summary: 'A node reports a stage of its boot (/init) or that it is up (the booted system)' },
  failureReport: { method: 'POST', path: '/failure-report', listener: 'boot', caller: 'node', access: 'node-report', query: [], summary: 'A node whose boot failed under rd.shell=0 sends its failure report before it reboots' },
  /**
   * The boot listener answers this path too, with 403 and where to go instead: the archive
   * holds private keys and is never sent in the clear (nodeFilesOnlyOverTls).
   */
  nodeFiles: { method: 'POST', path: '/node-files', listener: 'secrets', caller: 'node', access: 'boot-token', query: [], summary: "A booting node redeems its one-time token for its files (SSH host keys, root's keys and password, the config's files) as a cpio archive" },
} as const satisfies Record<string, Endpoint>;

export type OperationId = keyof typeof ENDPOINTS;

/** The operations declared on one listener. */
export type OperationOn<L extends Listener> = { [K in OperationId]: (typeof ENDPOINTS)[K]['listener'] extends L ? K : never }[OperationId];

/** The query parameter names of one operation. */
export type QueryOf<K extends OperationId> = (typeof ENDPOINTS)[K]['query'][number];

export const OPERATION_IDS = Object.keys(ENDPOINTS) as OperationId[];

export function operationsOn<L extends Listener>(listener: L): Array<OperationOn<L>> {
  return OPERATION_IDS.filter((id): id is OperationOn<L> => ENDPOINTS[id].listener === listener);
}

/** The full request path of an endpoint without parameters, e.g. /api/v1/report. */
export function endpointPath(id: OperationId): string {
  return API_PREFIX + ENDPOINTS[id].path;
}

/** "/nodes/{mac}" against "/nodes/52:54:…": the parameters, or undefined when it does not match. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, w] of want.entries()) {
    const g = got[i]!;
    if (w.startsWith('{') && w.endsWith('}')) {
      if (g === '') return undefined;
      params[w.slice(1, -1)] = g;
    } else if (w !== g) return undefined;
  }
  return params;
}
