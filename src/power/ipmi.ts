import { stat } from 'node:fs/promises';
import type { PowerConfig } from '../config/power.js';
import { DisklessError } from '../errors/diskless-error.js';
import { run, type RunOptions, type RunResult } from '../process/run.js';

export type PowerAction = 'on' | 'off' | 'cycle' | 'status';
export const POWER_ACTIONS: readonly PowerAction[] = ['on', 'off', 'cycle', 'status'];

/** Runs ipmitool; tests and callers that log may wrap it. */
export type IpmiRunner = (argv: readonly string[], options: RunOptions) => Promise<RunResult>;

/** What one BMC did: the power state it reports afterwards when known, or why it failed. */
export interface PowerOutcome {
  ok: boolean;
  /** The chassis power state read after the action (status, or on/off once done). */
  state?: 'on' | 'off';
  /** One line for people: "power is on", "was off: powered on", or ipmitool's complaint. */
  detail: string;
}

/** One ipmitool run: 30 s covers its own retries (4 tries, 2 s apart) with room to spare. */
const IPMITOOL_TIMEOUT_MS = 30_000;

/**
 * ipmitool's argv for `command` on this BMC: IPMI 2.0 (lanplus), the password read from the
 * file (-f), never on the command line where `ps` shows it, and the cipher suite given, so
 * ipmitool does not first ask the BMC for its list (some BMCs, and ipmi_sim, do not answer
 * that, which costs seconds per call). Every value is a separate argv word, and the config
 * checked ipmi and user so neither can read as an option.
 */
export function ipmitoolArgv(p: PowerConfig, command: readonly string[]): string[] {
  return ['ipmitool', '-I', 'lanplus', '-H', p.ipmi, '-p', String(p.port), '-U', p.user, '-f', p.passwordFile, '-C', String(p.cipherSuite), ...command];
}

/**
 * The password file must exist and be private: readable by others, the BMC password (which
 * powers machines off) is anyone's.
 */
export async function checkPasswordFile(path: string): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (e) {
    throw new DisklessError('DL_INVALID', `Cannot use the BMC password file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (e as Error).message}`);
  }
  if ((mode & 0o004) !== 0) throw new DisklessError('DL_INVALID', `Cannot use the BMC password file ${path}: others may read it (chmod 600 ${path})`);
}

/** "Chassis Power is on" → on. */
export function parsePowerStatus(output: string): 'on' | 'off' | undefined {
  const m = /Chassis Power is (on|off)/i.exec(output);
  return m ? (m[1]!.toLowerCase() as 'on' | 'off') : undefined;
}

/** ipmitool's most telling line: the last of stderr (or stdout), without its noise. */
function complaint(r: { stdout: string; stderr: string }): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^Unable to Get Channel Cipher Suites$/.test(l));
  return lines.at(-1) ?? 'no output';
}

/**
 * Does `action` on one BMC and reads the power state back. `cycle` on a machine that is off
 * powers it on (a BMC refuses to cycle an off chassis), so "cycle" always means "boot it
 * afresh". Never throws for what the BMC says: the outcome carries it.
 */
export async function ipmiPower(p: PowerConfig, action: PowerAction, runner: IpmiRunner = run): Promise<PowerOutcome> {
  try {
    await checkPasswordFile(p.passwordFile);
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
  const ipmitool = async (...command: string[]) => {
    const r = await runner(ipmitoolArgv(p, command), { check: false, timeoutMs: IPMITOOL_TIMEOUT_MS });
    if (r.timedOut) throw new Error(`the BMC at ${p.ipmi}:${p.port} did not answer within ${IPMITOOL_TIMEOUT_MS / 1000} s`);
    if (r.code !== 0) throw new Error(`ipmitool ${command.join(' ')}: ${complaint(r)}`);
    return r.stdout;
  };
  const status = async () => {
    const out = await ipmitool('chassis', 'power', 'status');
    const state = parsePowerStatus(out);
    if (state === undefined) throw new Error(`ipmitool chassis power status: unexpected answer "${out.trim()}"`);
    return state;
  };
  try {
    if (action === 'status') {
      const state = await status();
      return { ok: true, state, detail: `power is ${state}` };
    }
    if (action === 'cycle') {
      const before = await status();
      await ipmitool('chassis', 'power', before === 'off' ? 'on' : 'cycle');
      return { ok: true, state: 'on', detail: before === 'off' ? 'was off: powered on' : 'power cycled' };
    }
    await ipmitool('chassis', 'power', action);
    return { ok: true, state: action, detail: `powered ${action}` };
  } catch (e) {
    const failure = (e as { failure?: string }).failure;
    if (failure === 'not-found') return { ok: false, detail: 'ipmitool is not installed (apt install ipmitool)' };
    return { ok: false, detail: (e as Error).message };
  }
}
