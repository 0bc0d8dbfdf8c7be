import { spawn } from 'node:child_process';
import { DisklessError } from '../errors/diskless-error.js';

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs an external engine (mmdebstrap, mksquashfs, …) and fails with its last lines of output
 * when it exits non-zero. `onLine` receives each stderr/stdout line for progress display.
 */
export function runTool(argv: readonly string[], opts: { onLine?: (line: string) => void; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ToolResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new Error('Cannot run a tool: empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env: opts.env ?? process.env });
    let out = '';
    let err = '';
    const feed = (which: 'out' | 'err') => {
      let partial = '';
      return (chunk: Buffer) => {
        const s = chunk.toString();
        if (which === 'out') out = (out + s).slice(-200_000);
        else err = (err + s).slice(-200_000);
        if (!opts.onLine) return;
        const lines = (partial + s).split(/\r?\n|\r/);
        partial = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) opts.onLine(l);
      };
    };
    child.stdout.on('data', feed('out'));
    child.stderr.on('data', feed('err'));
    child.on('error', (e) => reject(new DisklessError('DL_TOOL', `Cannot run ${cmd}: ${e.message} (is it installed? scripts/install-deps.sh installs it)`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout: out, stderr: err });
      else {
        const tail = (err || out).trim().split('\n').slice(-15).join('\n');
        reject(new DisklessError('DL_TOOL', `${cmd} failed (${signal ?? `exit ${code}`}):\n${tail}`));
      }
    });
  });
}
