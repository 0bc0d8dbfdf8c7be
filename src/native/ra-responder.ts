import { spawn, type ChildProcess } from 'node:child_process';
import { type Logger, nullLogger } from '../log/logger.js';
import { buildStaticHelper, nativeSource } from './static-helper.js';

export const RA_RESPONDER_SOURCE = nativeSource('src/native/ra-responder.c');

export interface RaResponderOptions {
  interface: string;
  logger?: Logger;
  /** Where the compiled helper is cached. */
  cacheDir?: string;
}

/**
 * Runs diskless-ra-responder (ra-responder.c) on the boot interface: it answers IPv6 Router
 * Solicitations with "no router here" (lifetime 0, nothing else), so iPXE does not wait about
 * 13 s per boot stage for an IPv6 router that an IPv4-only LAN never has. Opt-in
 * (`server.answer_router_solicitations`): it is traffic on the admin's link.
 */
export class RaResponder {
  readonly #log: Logger;
  #child: ChildProcess | undefined;

  constructor(private readonly opts: RaResponderOptions) {
    this.#log = (opts.logger ?? nullLogger).child({ service: 'ra' });
  }

  async start(): Promise<void> {
    const bin = await buildStaticHelper(RA_RESPONDER_SOURCE, 'ra-responder', this.opts.cacheDir);
    const child = spawn(bin, [this.opts.interface], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    let tail = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('ra-responder did not start within 5 s')), 5000);
      child.stderr!.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          tail = line;
          if (line.includes('answering router solicitations')) {
            clearTimeout(timer);
            resolve();
          } else if (line.includes('told ')) {
            this.#log.log('info', 'router solicitation answered', { detail: line.replace(/^ra-responder: /, '') });
          } else {
            this.#log.log('warn', 'ra-responder', { detail: line });
          }
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (this.#child === child) {
          this.#child = undefined;
          reject(new Error(`ra-responder exited (${signal ?? code}): ${tail.replace(/^ra-responder: /, '')}`));
          this.#log.log('error', 'ra-responder exited', { code, signal, detail: tail });
        }
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await done;
  }
}
