import { watch, readFileSync, realpathSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { nullLogger, type Logger } from '../log/logger.js';
import { parseConfig } from './load.js';
import type { DisklessConfig } from './types.js';

export interface ConfigWatcherOptions {
  /** The config the services were started with; its file is the one watched. */
  initial: DisklessConfig;
  logger?: Logger;
  /** Editors write a file in several steps (truncate, write, rename): reload once they are done. */
  debounceMs?: number;
  /** Called with each new config once it is swapped in. */
  onChange?: (config: DisklessConfig) => void;
  /**
   * The config text to serve from the file's text: the state database's inventory in place of
   * the file's own (the file's other settings kept). Default: the file as it is.
   */
  compose?: (fileText: string) => string;
}

/**
 * Keeps `current` in step with the config file while `serve` runs, so `node adopt`, `node add`
 * and hand edits apply without a restart. A file that does not parse is logged and ignored: the
 * last good config stays. Settings the running sockets were opened with are not applied (see
 * liveConfig).
 */
export class ConfigWatcher {
  readonly #started: DisklessConfig;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #onChange: ((config: DisklessConfig) => void) | undefined;
  readonly #compose: (fileText: string) => string;
  #current: DisklessConfig;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastText: string | undefined;
  /** A broken file is reported once, not on every write an editor makes to it. */
  #lastFailedText: string | undefined;

  constructor(options: ConfigWatcherOptions) {
    this.#started = options.initial;
    this.#current = options.initial;
    this.#log = (options.logger ?? nullLogger).child({ service: 'config' });
    this.#debounceMs = options.debounceMs ?? 300;
    this.#onChange = options.onChange;
    this.#compose = options.compose ?? ((t) => t);
  }

  get current(): DisklessConfig {
    return this.#current;
  }

  /**
   * Watches the directory, not the file: an editor's save and our own temp + rename replace the
   * file's inode, and a watch on the old inode would never fire again.
   */
  start(): void {
    if (this.#watchers.length) return;
    if (this.#lastText === undefined) {
      const t = readText(this.#started.file);
      this.#lastText = t === undefined ? undefined : this.#compose(t);
    }
    const targets = new Map<string, Set<string>>();
    for (const f of new Set([this.#started.file, realpathOr(this.#started.file)])) {
      const names = targets.get(dirname(f)) ?? new Set<string>();
      names.add(basename(f));
      targets.set(dirname(f), names);
    }
    try {
      for (const [dir, names] of targets) {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          // Linux always names the entry; elsewhere a null name may be ours.
          if (name === null || names.has(name.toString())) this.#schedule();
        });
        w.on('error', (e) => this.#log.log('warn', 'config watch failed', { dir, error: e.message }));
        this.#watchers.push(w);
      }
    } catch (e) {
      this.stop();
      this.#log.log('warn', 'config not watched: edits need a restart', { file: this.#started.file, error: (e as Error).message });
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }

  /** Reads the file now; true if a changed, valid config was swapped in. */
  reload(): boolean {
    const file = this.#started.file;
    let text: string | undefined;
    let next: DisklessConfig;
    try {
      const raw = readFileSync(file, 'utf8');
      // An editor that saves in place truncates the file before it writes: an empty file is a
      // save under way (or a mistake), never a config to apply, and its write brings another event.
      if (raw.trim() === '') {
        this.#log.log('warn', 'config file is empty: keeping the running config until it has content', { file });
        return false;
      }
      text = this.#compose(raw);
      if (text === this.#lastText || text === this.#lastFailedText) return false;
      next = parseConfig(text, file);
    } catch (e) {
      this.#lastFailedText = text;
      this.#log.log('error', 'config reload failed', { file, error: e instanceof Error ? e.message : String(e), kept: 'the last good config' });
      return false;
    }
    this.#lastFailedText = undefined;
    this.#lastText = text;
    const { config, needsRestart } = liveConfig(this.#started, next);
    this.#current = config;
    this.#log.log('info', 'config reloaded', { file, nodes: config.nodes.length, profiles: config.profiles.size });
    if (needsRestart.length) {
      this.#log.log('warn', 'config change needs a restart', { file, settings: needsRestart.join(', ') });
    }
    this.#onChange?.(config);
    return true;
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.reload();
    }, this.#debounceMs);
    this.#timer.unref();
  }
}

/**
 * The config to serve after an edit: nodes, profiles and default_profile from the file; server,
 * dhcp and api as the services were started with, since sockets, ports and DHCP settings are fixed
 * at start. Lists what differs, in the file's key names, for the "needs a restart" line.
 */
export function liveConfig(started: DisklessConfig, next: DisklessConfig): { config: DisklessConfig; needsRestart: string[] } {
  const needsRestart = [
    ...changedKeys('server', started.server, next.server),
    ...changedKeys('dhcp', started.dhcp, next.dhcp),
    // The API's token and read networks are fixed when its handler is built.
    ...changedKeys('api', started.api, next.api),
  ];
  // NBD and nfs-ganesha start only for the root modes profiles used at start.
  const uses = (c: DisklessConfig, mode: string) => [...c.profiles.values()].some((p) => p.root?.mode === mode);
  if (uses(next, 'nbd') && !uses(started, 'nbd')) needsRestart.push('profiles (a root of mode nbd: the NBD server is not running)');
  // ganesha's exports and versions are fixed at its start (its client list follows reloads).
  const nfsDirs = (c: DisklessConfig) => JSON.stringify([...c.profiles.values()].filter((p) => p.root?.mode === 'nfs' && p.root.nfsServer === undefined).map((p) => [p.name, p.root?.dir, p.image, p.root?.nfsVersion ?? 4]));
  if (nfsDirs(next) !== nfsDirs(started)) needsRestart.push('profiles (NFS exports)');
  return { config: { ...next, server: started.server, dhcp: started.dhcp, api: started.api }, needsRestart };
}

const YAML_NAMES: Record<string, string> = { leaseTimeSec: 'lease_time' };

function changedKeys(section: string, a: object, b: object): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const va = a as Record<string, unknown>;
  const vb = b as Record<string, unknown>;
  return [...keys]
    .filter((k) => JSON.stringify(va[k]) !== JSON.stringify(vb[k]))
    .map((k) => `${section}.${YAML_NAMES[k] ?? k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`);
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function realpathOr(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}
