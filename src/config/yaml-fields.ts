import { isMap, isScalar, isSeq, type LineCounter, type Node, type YAMLMap } from 'yaml';
import { DisklessError } from '../errors/diskless-error.js';

/** A config problem, located: "FILE:LINE: KEY: what is wrong (how to fix)". */
export class ConfigError extends DisklessError {
  override name = 'ConfigError';

  constructor(readonly file: string, readonly line: number | undefined, readonly key: string, problem: string) {
    super('DL_CONFIG', `${file}${line ? `:${line}` : ''}: ${key}: ${problem}`);
  }
}

/**
 * Reads typed values out of a YAML mapping while remembering where each came from, so every
 * error names the key path and the line. Unknown keys are errors: a typo must not be ignored.
 */
export class Fields {
  readonly #seen = new Set<string>();

  constructor(
    readonly file: string,
    readonly lines: LineCounter,
    readonly path: string,
    readonly node: YAMLMap | undefined,
    readonly line: number | undefined,
  ) {}

  lineOf(node: Node | null | undefined): number | undefined {
    const start = node?.range?.[0];
    return start === undefined ? this.line : this.lines.linePos(start).line;
  }

  keyPath(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  fail(key: string, problem: string, node?: Node | null): never {
    throw new ConfigError(this.file, this.lineOf(node), this.keyPath(key), problem);
  }

  raw(key: string): Node | undefined {
    this.#seen.add(key);
    const v = this.node?.get(key, true) as Node | null | undefined;
    return v ?? undefined;
  }

  has(key: string): boolean {
    return this.node?.has(key) ?? false;
  }

  /** Present and explicitly empty (`key:` or `key: null`): "remove what I would inherit". */
  isNull(key: string): boolean {
    const n = this.raw(key);
    return n !== undefined && isScalar(n) && n.value === null;
  }

  string(key: string, fallback?: string): string {
    const v = this.optString(key);
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    return this.fail(key, 'is required');
  }

  optString(key: string): string | undefined {
    const n = this.raw(key);
    if (n === undefined || (isScalar(n) && n.value === null)) return undefined;
    if (!isScalar(n) || (typeof n.value !== 'string' && typeof n.value !== 'number')) {
      return this.fail(key, 'must be a string', n);
    }
    return String(n.value);
  }

  int(key: string, fallback: number, min: number, max: number): number {
    const n = this.raw(key);
    if (n === undefined) return fallback;
    if (!isScalar(n) || typeof n.value !== 'number' || !Number.isInteger(n.value)) {
      return this.fail(key, `must be an integer between ${min} and ${max}`, n);
    }
    if (n.value < min || n.value > max) return this.fail(key, `must be between ${min} and ${max} (got ${n.value})`, n);
    return n.value;
  }

  bool(key: string, fallback: boolean): boolean {
    const n = this.raw(key);
    if (n === undefined || (isScalar(n) && n.value === null)) return fallback;
    if (!isScalar(n) || typeof n.value !== 'boolean') return this.fail(key, 'must be true or false', n);
    return n.value;
  }

  oneOf<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const v = this.optString(key);
    if (v === undefined) return fallback;
    if (!(choices as readonly string[]).includes(v)) {
      return this.fail(key, `must be one of ${choices.join(', ')} (got "${v}")`, this.raw(key));
    }
    return v as T;
  }

  /** A string or a list of strings. */
  strings(key: string): string[] {
    const n = this.raw(key);
    if (n === undefined || (isScalar(n) && n.value === null)) return [];
    if (isScalar(n) && typeof n.value === 'string') return [n.value];
    if (!isSeq(n)) return this.fail(key, 'must be a string or a list of strings', n);
    return n.items.map((item) => {
      if (!isScalar(item) || typeof item.value !== 'string') return this.fail(key, 'must be a list of strings', item as Node);
      return item.value;
    });
  }

  map(key: string): Fields {
    const n = this.raw(key);
    if (n !== undefined && !(isScalar(n) && n.value === null) && !isMap(n)) return this.fail(key, 'must be a mapping', n);
    return new Fields(this.file, this.lines, this.keyPath(key), isMap(n) ? n : undefined, this.lineOf(n));
  }

  /** Entries of a mapping whose keys are names (e.g. profiles). */
  entries(key: string): Array<[string, Fields]> {
    const sub = this.map(key);
    if (!sub.node) return [];
    return sub.node.items.map((pair) => {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      sub.#seen.add(k);
      const v = pair.value as Node | null;
      if (v !== null && !(isScalar(v) && v.value === null) && !isMap(v)) sub.fail(k, 'must be a mapping', v);
      return [k, new Fields(this.file, this.lines, sub.keyPath(k), isMap(v) ? v : undefined, sub.lineOf((pair.key as Node) ?? null))];
    });
  }

  /** Items of a list of mappings (e.g. nodes). */
  list(key: string): Fields[] {
    const n = this.raw(key);
    if (n === undefined || (isScalar(n) && n.value === null)) return [];
    if (!isSeq(n)) return this.fail(key, 'must be a list', n);
    return n.items.map((item, i) => {
      const path = `${this.keyPath(key)}[${i}]`;
      if (!isMap(item)) throw new ConfigError(this.file, this.lineOf(item as Node), path, 'must be a mapping');
      return new Fields(this.file, this.lines, path, item, this.lineOf(item));
    });
  }

  /** Call after reading every known key: any other key is a typo or an unsupported setting. */
  rejectUnknown(): void {
    for (const pair of this.node?.items ?? []) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (!this.#seen.has(k)) {
        throw new ConfigError(this.file, this.lineOf(pair.key as Node), this.keyPath(k), 'unknown setting (check the spelling; see README "Configuration")');
      }
    }
  }
}
