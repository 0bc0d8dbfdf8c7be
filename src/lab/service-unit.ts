/**
 * Just enough of a systemd service unit to start its program as systemd would on a host
 * without systemd as PID 1 (the lab's): the command line of ExecStart, the environment of
 * Environment= and EnvironmentFile=, and the capability bounding set with NoNewPrivileges, which
 * `setpriv` applies. The file-system sandboxing (ProtectSystem and friends) is not reproduced.
 */
export interface ServiceUnit {
  /** ExecStart's words, `$VAR` and `${VAR}` not yet expanded. */
  execStart: string[];
  /** Environment= assignments, in order. */
  environment: Array<[string, string]>;
  /** EnvironmentFile= paths; a leading "-" (missing is fine) is kept in `optional`. */
  environmentFiles: Array<{ path: string; optional: boolean }>;
  /** CapabilityBoundingSet=, e.g. CAP_NET_RAW; undefined when the unit does not restrict it. */
  capabilityBoundingSet: string[] | undefined;
  noNewPrivileges: boolean;
}

export function parseServiceUnit(text: string): ServiceUnit {
  const unit: ServiceUnit = { execStart: [], environment: [], environmentFiles: [], capabilityBoundingSet: undefined, noNewPrivileges: false };
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    switch (key) {
      case 'ExecStart':
        unit.execStart = splitWords(value.replace(/^[-@:+!]+/, ''));
        break;
      case 'Environment':
        for (const word of splitWords(value)) {
          const i = word.indexOf('=');
          if (i > 0) unit.environment.push([word.slice(0, i), word.slice(i + 1)]);
        }
        break;
      case 'EnvironmentFile':
        unit.environmentFiles.push(value.startsWith('-') ? { path: value.slice(1), optional: true } : { path: value, optional: false });
        break;
      case 'CapabilityBoundingSet':
        // Several lines add up; an empty one resets.
        unit.capabilityBoundingSet = value === '' ? [] : [...(unit.capabilityBoundingSet ?? []), ...value.split(/\s+/)];
        break;
      case 'NoNewPrivileges':
        unit.noNewPrivileges = /^(yes|true|1|on)$/i.test(value);
        break;
    }
  }
  if (unit.execStart.length === 0) throw new Error('Cannot use the unit: it has no ExecStart= in [Service]');
  return unit;
}

/** An EnvironmentFile's assignments (KEY=VALUE lines, # comments, optional quotes). */
export function parseEnvironmentFile(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const raw of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(raw);
    if (!m || raw.trim().startsWith('#')) continue;
    const v = m[2]!.trim();
    out.push([m[1]!, /^".*"$|^'.*'$/.test(v) ? v.slice(1, -1) : v]);
  }
  return out;
}

/**
 * ExecStart's argv with the environment substituted as systemd does: `${VAR}` is one word,
 * an unquoted `$VAR` standing alone splits into words (and vanishes when empty).
 */
export function expandExecStart(words: readonly string[], env: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const w of words) {
    const alone = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(w);
    if (alone) {
      out.push(...(env[alone[1]!] ?? '').split(/\s+/).filter(Boolean));
      continue;
    }
    out.push(w.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, k: string) => env[k] ?? ''));
  }
  return out;
}

/**
 * `setpriv` arguments that give a root process what the unit allows: its capability bounding
 * set (so root holds only those capabilities) and no_new_privs.
 */
export function setprivArgs(unit: ServiceUnit): string[] {
  const args: string[] = [];
  if (unit.capabilityBoundingSet !== undefined) {
    const caps = unit.capabilityBoundingSet.map((c) => `+${c.replace(/^CAP_/i, '').toLowerCase()}`);
    args.push(`--bounding-set=-all${caps.length ? `,${caps.join(',')}` : ''}`, '--inh-caps=-all');
  }
  if (unit.noNewPrivileges) args.push('--no-new-privs');
  return args;
}

/** Words as systemd splits a setting: on spaces, with "double" and 'single' quoted parts kept whole. */
function splitWords(value: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(value); m !== null; m = re.exec(value)) words.push(m[1] ?? m[2] ?? m[3] ?? '');
  return words;
}
