import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { LabNetwork } from './netns.js';
import type { Daemon } from '../process/daemon.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const readLog = (path: string) => readFile(path, 'utf8').catch(() => '');

/**
 * Runs `diskless serve --config CONFIG` inside the lab namespace, appending to `logPath`, and
 * waits for its "serving" line. The log may already hold an earlier run's lines (a restart):
 * only what is written after this start counts, measured before the process exists.
 */
export async function startLabServer(net: LabNetwork, configPath: string, logPath: string, timeoutMs = 30_000): Promise<Daemon> {
  return startServerIn(net, [process.execPath, CLI, 'serve', '--config', configPath], logPath, { timeoutMs });
}

/**
 * Runs a server command line (any `diskless serve`: this checkout's, an installed one) inside
 * the lab namespace, appending to `logPath`, and waits for its "serving" line.
 */
export async function startServerIn(net: LabNetwork, argv: readonly string[], logPath: string, o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Daemon> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const start = (await readLog(logPath)).length;
  const server = await net.spawn(net.name, argv, { logFile: logPath, ...(o.env ? { env: o.env } : {}) });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await readLog(logPath)).slice(start).includes('"msg":"serving"')) return server;
    if (server.status) throw new Error(`diskless serve exited (${JSON.stringify(server.status)}): ${server.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`diskless serve did not report "serving" within ${timeoutMs / 1000} s`);
}

/** The server's JSON log lines, parsed; other lines (a crash trace) are skipped. */
export async function readJsonLog(path: string): Promise<Array<Record<string, unknown>>> {
  return (await readLog(path)).split('\n').flatMap((l) => {
    try {
      return l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}
