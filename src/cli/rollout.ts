import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import { DisklessError } from '../errors/diskless-error.js';
import type { BootEvent, EventPage, Rollout, RolloutList, Unpinned, VersionPinList, VersionPinRow } from '../api/wire.js';
import { active, failedNodes } from '../rollout/plan.js';
import { adminToken, apiBase, apiTls, followEvents, getJson, postJson, type ApiTls } from './server-api.js';
import type { CliIo } from './status.js';

const HELP = `Usage: diskless rollout IMAGE VERSION [--nodes N1,N2…|--profile P] [--canary N]
                        [--batch N|P%] [--max-failed N] [--timeout S] [--no-wait]
       diskless rollout status [ID] [--follow] [--json]
       diskless rollout pause|resume|abort [ID]
       diskless rollout pins [--image I] [--json]
       diskless rollout unpin NODE…|--image I

Moves nodes to a stored version of their image safely, run by "diskless serve" (it survives a
restart of the server). The version is pinned to the canaries first (--canary, default 1),
which are power-cycled through their BMC (nodes with power:) or waited for to reboot; once
each booted the version (its timeline reached "booted"), the next batch moves (--batch nodes,
or a percentage of the rollout's nodes; default 10%). A node whose boot fails (a failed
stage, a boot of another version, a BMC that refuses, or no "booted" within --timeout
seconds, default 600) is pinned back to the version it ran and rebooted into it, and the
failed stage and cause are shown. A failed canary, or more than --max-failed (default 0)
failed nodes, stops the rollout. When every node of the image moved without a failure, the
version is published and the pins are dropped; otherwise the moved nodes stay pinned to it.

"pins" lists the version pins: nodes booting a stored version other than their image's
published one (left by a rollout that stopped, was aborted or did not cover every node).
"unpin" drops the pins of the nodes named (host names, or MACs for nodes no longer listed),
or with --image every pin of that image (with nodes: only theirs); it never unpins every node
by default, and a node a rollout is still watching keeps its pin. An unpinned node boots the
published version at its next boot.

Without --nodes or --profile, every node whose profile boots IMAGE takes part.
Progress is shown as it happens until the rollout ends (--no-wait returns at once; Ctrl-C
stops watching, not the rollout). ID defaults to the rollout under way (or the last one).
Exit status: 0 when every node runs the version, 1 when a node failed or the rollout was
stopped or aborted.
Needs the admin token (api.admin_token_file) for every command but status.
`;

export interface RolloutIo extends CliIo {
  retryMs?: number;
}

export async function rolloutCommand(argv: string[], io: RolloutIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const now = io.now ?? Date.now;
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      nodes: { type: 'string' },
      image: { type: 'string' },
      profile: { type: 'string' },
      canary: { type: 'string' },
      batch: { type: 'string' },
      'max-failed': { type: 'string' },
      timeout: { type: 'string' },
      'no-wait': { type: 'boolean' },
      follow: { type: 'boolean', short: 'f' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [first, ...more] = positionals;
  if (values.help || first === undefined || first === 'help') {
    out(HELP);
    return first === undefined && !values.help ? 2 : 0;
  }
  const config = loadConfigFrom(values.config);
  const base = apiBase(config);
  const tls = apiTls(config);
  const current = async (id: string | undefined): Promise<Rollout> => {
    if (id !== undefined) return getJson<Rollout>(`${base}/rollouts/${encodeURIComponent(id)}`, tls);
    const list = await getJson<RolloutList>(`${base}/rollouts`, tls);
    if (!list.current) throw new DisklessError('DL_ROLLOUT_NOT_FOUND', 'no rollout yet (diskless rollout IMAGE VERSION starts one)');
    return list.current;
  };

  if (first === 'status') {
    if (more.length > 1) throw new DisklessError('DL_USAGE', `rollout status: at most one ID\n\n${HELP}`);
    const r = await current(more[0]);
    if (values.json) {
      out(`${JSON.stringify(r, null, 2)}\n`);
      return 0;
    }
    out(rolloutText(r, now()));
    if (values.follow && active(r)) return watch(base, tls, r.id, out, io);
    return exitStatus(r);
  }
  if (first === 'pause' || first === 'resume' || first === 'abort') {
    if (more.length > 1) throw new DisklessError('DL_USAGE', `rollout ${first}: at most one ID\n\n${HELP}`);
    const id = more[0] ?? (await current(undefined)).id;
    const r = await postJson<Rollout>(`${base}/rollouts/${encodeURIComponent(id)}/${first}`, {}, adminToken(config), tls);
    out(rolloutText(r, now()));
    return 0;
  }

  if (first === 'pins') {
    if (more.length > 0) throw new DisklessError('DL_USAGE', `rollout pins: no node names (--image I picks one image)\n\n${HELP}`);
    const q = values.image === undefined ? '' : `?image=${encodeURIComponent(values.image)}`;
    const { pins } = await getJson<VersionPinList>(`${base}/pins${q}`, tls);
    out(values.json ? `${JSON.stringify(pins, null, 2)}\n` : pinsText(pins));
    return 0;
  }
  if (first === 'unpin') {
    if (more.length === 0 && values.image === undefined) throw new DisklessError('DL_USAGE', `rollout unpin: name the nodes, or give --image I for every pin of that image (nothing unpins all nodes)\n\n${HELP}`);
    const body = { ...(more.length ? { nodes: more } : {}), ...(values.image !== undefined ? { image: values.image } : {}) };
    const { unpinned } = await postJson<Unpinned>(`${base}/pins/unpin`, body, adminToken(config), tls);
    out(unpinned.length === 0 ? 'no pin matched: nothing changed\n' : `unpinned (they boot the published version at their next boot):\n${pinsText(unpinned)}`);
    return 0;
  }
  if (values.image !== undefined) throw new DisklessError('DL_USAGE', `rollout: --image goes with pins and unpin\n\n${HELP}`);
  if (more.length !== 1) throw new DisklessError('DL_USAGE', `rollout: give IMAGE and VERSION (or status, pause, resume, abort, pins, unpin)\n\n${HELP}`);
  if (values.nodes !== undefined && values.profile !== undefined) throw new DisklessError('DL_USAGE', 'rollout: give --nodes or --profile, not both');
  const whole = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d{1,9}$/.test(v)) throw new DisklessError('DL_INVALID', `rollout: --${name} must be a whole number (got "${v}")`);
    return Number(v);
  };
  let batch: number | string | undefined;
  if (values.batch !== undefined) {
    if (!/^\d{1,9}%?$/.test(values.batch)) throw new DisklessError('DL_INVALID', `rollout: --batch must be a number of nodes or a percentage, e.g. 5 or 25% (got "${values.batch}")`);
    batch = values.batch.endsWith('%') ? values.batch : Number(values.batch);
  }
  const body = {
    image: first,
    version: more[0]!,
    ...(values.nodes !== undefined ? { nodes: values.nodes.split(',').map((n) => n.trim()).filter(Boolean) } : {}),
    ...(values.profile !== undefined ? { profile: values.profile } : {}),
    ...optional('canary', whole('canary', values.canary)),
    ...(batch !== undefined ? { batch } : {}),
    ...optional('maxFailed', whole('max-failed', values['max-failed'])),
    ...optional('timeoutSec', whole('timeout', values.timeout)),
  };
  const token = adminToken(config);
  const before = await getJson<EventPage>(`${base}/events?limit=1`, tls);
  const r = await postJson<Rollout>(`${base}/rollouts`, body, token, tls);
  out(`rollout ${r.id}: ${r.spec.image}@${r.spec.version} to ${r.nodes.length} node(s) in ${r.waves} wave(s)\n`);
  if (values['no-wait']) return 0;
  return watch(base, tls, r.id, out, io, before.lastSeq);
}

function optional<K extends string>(key: K, v: number | undefined): Partial<Record<K, number>> {
  return v === undefined ? {} : ({ [key]: v } as Record<K, number>);
}

/**
 * Prints the rollout's steps as they happen (its events on the event stream) until it cannot
 * change any more, then its summary; resumes a dropped stream without losing a step.
 */
async function watch(base: string, tls: ApiTls | undefined, id: string, out: (s: string) => void, io: RolloutIo, afterSeq?: number): Promise<number> {
  const ac = new AbortController();
  io.signal?.addEventListener('abort', () => ac.abort(), { once: true });
  let final: Rollout | undefined;
  let check = Promise.resolve();
  let published = false;
  const since = afterSeq ?? (await getJson<EventPage>(`${base}/events?limit=1`, tls)).lastSeq;
  const finished = async () => {
    const r = await getJson<Rollout>(`${base}/rollouts/${encodeURIComponent(id)}`, tls);
    if (active(r)) return;
    // A rollout that ends well over the whole image publishes the version just after.
    if (r.status === 'completed' && r.wholeImage && failedNodes(r).length === 0 && !published) return;
    final = r;
    ac.abort();
  };
  const follow = followEvents(`${base}/events/stream`, (data) => {
    const e = JSON.parse(data) as BootEvent;
    if (e.kind !== 'rollout' || e.fields.rollout !== id) return;
    out(`${clock(e.time)}  ${e.name.padEnd(18)} ${e.detail}\n`);
    if (e.name === 'published' || e.name === 'publish-failed') published = true;
    check = check.then(finished).catch(() => {});
  }, { afterSeq: since, signal: ac.signal, ...(tls ? { tls } : {}), ...(io.retryMs !== undefined ? { retryMs: io.retryMs } : {}) });
  // A rollout that ended before the stream opened sends no more steps.
  check = check.then(finished).catch(() => {});
  await follow;
  await check;
  if (!final) {
    out(`stopped watching; rollout ${id} goes on in the server (diskless rollout status ${id})\n`);
    return 0;
  }
  out(rolloutText(final, Date.now()));
  return exitStatus(final);
}

function exitStatus(r: Rollout): number {
  return r.status === 'completed' && failedNodes(r).length === 0 ? 0 : active(r) ? 0 : 1;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** One line per pin: node, image, version, since, by. */
export function pinsText(pins: readonly VersionPinRow[]): string {
  if (pins.length === 0) return 'no version pins: every node boots its image\'s published version\n';
  const width = Math.max(4, ...pins.map((p) => (p.node ?? p.mac).length));
  const image = Math.max(5, ...pins.map((p) => p.image.length));
  const lines = [`  ${'NODE'.padEnd(width)}  ${'IMAGE'.padEnd(image)}  VERSION           SINCE                 BY`];
  for (const p of pins) lines.push(`  ${(p.node ?? p.mac).padEnd(width)}  ${p.image.padEnd(image)}  ${p.version}  ${p.since.slice(0, 19).padEnd(20)}  ${p.by}`.trimEnd());
  return `${lines.join('\n')}\n`;
}

/** The rollout as people read it: one summary line, then one line per node. */
export function rolloutText(r: Rollout, now: number): string {
  const batch = 'count' in r.spec.batch ? String(r.spec.batch.count) : `${r.spec.batch.percent}%`;
  const lines = [
    `rollout ${r.id}  ${r.spec.image}@${r.spec.version}  ${r.status}${r.status === 'running' || r.status === 'paused' ? ` (wave ${Math.max(0, r.wave) + 1} of ${r.waves})` : ''}`,
    `  canary ${r.spec.canary}, batch ${batch}, max failed ${r.spec.maxFailed}, timeout ${r.spec.timeoutSec} s${r.message ? `\n  ${r.message}` : ''}`,
  ];
  const width = Math.max(4, ...r.nodes.map((n) => n.name.length));
  lines.push(`  ${'NODE'.padEnd(width)}  WAVE    STATUS           DETAIL`);
  for (const n of r.nodes) {
    const wave = n.wave === 0 ? 'canary' : `batch ${n.wave}`;
    const detail = [
      n.failure ? `failed in ${n.failure.stage}: ${n.failure.cause}` : '',
      n.rollbackFailure ? `back to ${n.previousVersion} failed in ${n.rollbackFailure.stage}: ${n.rollbackFailure.cause}` : '',
      n.status === 'waiting' && n.deadline !== undefined ? `${Math.max(0, Math.round((n.deadline - now) / 1000))} s left` : '',
      n.status === 'rolled-back' ? `runs ${n.previousVersion} again` : '',
    ].filter(Boolean).join('; ');
    lines.push(`  ${n.name.padEnd(width)}  ${wave.padEnd(6)}  ${n.status.padEnd(15)}  ${detail}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}
