import { nullLogger, type Logger } from '../log/logger.js';
import { normalizeMac } from '../net/mac.js';
import { readStateFile, StateFileWriter, type SetTimer, type StateFileFormat } from '../files/state-file.js';

/**
 * The part of a boot during which a node may be handed its secrets. It opens when the node's
 * firmware (PXE, iPXE, UEFI HTTP boot) gets its boot file in a DHCP exchange with us, and
 * closes at the first successful redemption of a token, at the node's switch_root or
 * "booted" report, or after `windowMs`. Only then is the booted system running, and from
 * there on nothing is handed out until the machine boots again: a process on the booted node
 * that reads its own boot script or command line gets no secret. Sending a DHCP request from
 * the client port (68) takes root on the node, and root may read the node's keys anyway.
 */
export interface SecretsWindow {
  mac: string;
  /** Milliseconds since the epoch. */
  openedAt: number;
  /**
   * The address our DHCP gave the machine in that exchange (full mode), which stands in for
   * the neighbour table when the node is behind a DHCP relay; absent in proxy mode.
   */
  ip?: string;
}

export type CloseReason = 'redeemed' | 'switch_root' | 'booted';

export interface SecretsWindowsOptions {
  /** STATE/secrets-windows.json; without it windows live in memory only. */
  path?: string;
  /** How long after the DHCP exchange a boot may still fetch its secrets. */
  windowMs: number;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Windows kept at most (a boot storm of this many machines at once); the oldest go first. */
  cap?: number;
  writeIntervalMs?: number;
  setTimer?: SetTimer;
  logger?: Logger;
}

/**
 * secrets-windows.json: `{ "format": 1, "windows": [...] }`, readable by the server's user
 * only. Entries that make no sense are skipped.
 */
const WINDOWS_FILE: StateFileFormat<SecretsWindow[]> = {
  what: 'secrets windows',
  version: 1,
  mode: 0o600,
  decode(doc) {
    if (!Array.isArray(doc.windows)) throw new Error('no "windows" list');
    const windows: SecretsWindow[] = [];
    for (const x of doc.windows as Array<Partial<SecretsWindow> | null>) {
      const mac = normalizeMac(String(x?.mac ?? ''));
      if (mac === undefined || typeof x?.openedAt !== 'number') continue;
      windows.push({ mac, openedAt: x.openedAt, ...(typeof x.ip === 'string' ? { ip: x.ip } : {}) });
    }
    return windows;
  },
  encode: (windows) => ({ windows }),
};

/**
 * Where open secrets windows are kept: STATE/secrets-windows.json for one server
 * (SecretsWindows), or the shared database of several (the postgres room), so that a node whose
 * DHCP went to one server may fetch its script and secrets from another.
 */
export interface SecretsWindowStore {
  /** A PXE DHCP exchange of `mac`: its window opens (again) from now. */
  openFor(mac: string, ip?: string): void;
  /** The open window of `mac`, if its boot may still be handed its secrets. */
  get(mac: string): SecretsWindow | undefined;
  /** Closes the window of `mac`; true if one was open. */
  close(mac: string, reason: CloseReason): boolean;
  /** Waits for writes under way (stop). */
  flush(): Promise<void>;
}

/**
 * Open secrets windows by MAC. Kept in a state file (written at most once a second, and at
 * stop) so that a server restart in the middle of a boot does not shut the node out: its
 * /init then asks its boot script for a fresh token, which is still given inside the window.
 */
export class SecretsWindows implements SecretsWindowStore {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #cap: number;
  readonly #log: Logger;
  // Insertion order is opening order: trimming walks from the front.
  readonly #open = new Map<string, SecretsWindow>();
  readonly #file: StateFileWriter<SecretsWindow[]> | undefined;

  private constructor(o: SecretsWindowsOptions) {
    if (!(o.windowMs > 0)) throw new RangeError(`SecretsWindows windowMs must be positive, got ${o.windowMs}`);
    this.#windowMs = o.windowMs;
    this.#now = o.now ?? Date.now;
    this.#cap = o.cap ?? 10_000;
    this.#log = (o.logger ?? nullLogger).child({ service: 'secrets' });
    this.#file = o.path === undefined ? undefined : new StateFileWriter({
      path: o.path,
      format: WINDOWS_FILE,
      snapshot: () => this.#live(),
      minIntervalMs: o.writeIntervalMs ?? 1000,
      now: this.#now,
      logger: this.#log,
      ...(o.setTimer ? { setTimer: o.setTimer } : {}),
    });
  }

  /** Loads the windows an earlier run left open; an unreadable file is logged and ignored. */
  static async open(o: SecretsWindowsOptions): Promise<SecretsWindows> {
    const w = new SecretsWindows(o);
    if (o.path === undefined) return w;
    try {
      for (const window of (await readStateFile(o.path, WINDOWS_FILE)) ?? []) w.#open.set(window.mac, window);
    } catch (e) {
      w.#log.log('warn', 'secrets windows not loaded: nodes booting now get their secrets only after a new PXE boot', { file: o.path, error: (e as Error).message });
    }
    return w;
  }

  /** A PXE DHCP exchange of `mac`: its window opens (again) from now. */
  openFor(mac: string, ip?: string): void {
    const m = normalizeMac(mac);
    if (m === undefined) return;
    this.#open.delete(m);
    this.#open.set(m, { mac: m, openedAt: this.#now(), ...(ip === undefined ? {} : { ip }) });
    for (const key of this.#open.keys()) {
      if (this.#open.size <= this.#cap) break;
      this.#open.delete(key);
    }
    this.#file?.changed();
  }

  /** The open window of `mac`, if its boot may still be handed its secrets. */
  get(mac: string): SecretsWindow | undefined {
    const m = normalizeMac(mac);
    const w = m === undefined ? undefined : this.#open.get(m);
    if (w === undefined) return undefined;
    if (this.#now() - w.openedAt >= this.#windowMs) {
      this.#open.delete(w.mac);
      this.#file?.changed();
      return undefined;
    }
    return w;
  }

  /** Closes the window of `mac`; true if one was open. */
  close(mac: string, reason: CloseReason): boolean {
    const m = normalizeMac(mac);
    if (m === undefined || !this.#open.delete(m)) return false;
    this.#log.log('info', 'secrets window closed', { mac: m, reason });
    this.#file?.changed();
    return true;
  }

  flush(): Promise<void> {
    return this.#file?.flush() ?? Promise.resolve();
  }

  /** Takes a window as another server opened it (a copy kept in memory of a shared store). */
  put(window: SecretsWindow): void {
    this.#open.delete(window.mac);
    this.#open.set(window.mac, { ...window });
    for (const key of this.#open.keys()) {
      if (this.#open.size <= this.#cap) break;
      this.#open.delete(key);
    }
    this.#file?.changed();
  }

  /** Forgets the window of `mac` without a log line (another server closed it and said so). */
  forget(mac: string): void {
    if (this.#open.delete(mac)) this.#file?.changed();
  }

  #live(): SecretsWindow[] {
    const now = this.#now();
    return [...this.#open.values()].filter((w) => now - w.openedAt < this.#windowMs);
  }
}
