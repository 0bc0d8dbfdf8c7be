import { type Logger, nullLogger } from '../log/logger.js';
import { Daemon } from '../process/daemon.js';
import { buildStaticHelper, nativeSource } from './static-helper.js';

export const RA_RESPONDER_SOURCE = nativeSource('src/native/ra-responder.c');

export interface RaResponderOptions {
  interface: string;
  logger?: Logger;
  /** Where the compiled helper is cached. */
  cacheDir?: string;
  /** A responder binary to run instead of the one built from ra-responder.c. */
  binary?: string;
}

/**
 * Runs diskless-ra-responder (ra-responder.c) on the boot interface: it answers IPv6 Router
 * Solicitations with "no router here" (lifetime 0, nothing else), so iPXE does not wait about
 * 13 s per boot stage for an IPv6 router that an IPv4-only LAN never has. Whether it runs is
 * decided by ra-policy.ts (`server.answer_router_solicitations`: by default only on an IPv4-only link).
 */
export class RaResponder {
  readonly #log: Logger;
  #daemon: Daemon | undefined;

  constructor(private readonly opts: RaResponderOptions) {
    this.#log = (opts.logger ?? nullLogger).child({ service: 'ra' });
  }

  async start(): Promise<void> {
    const bin = this.opts.binary ?? (await buildStaticHelper(RA_RESPONDER_SOURCE, 'ra-responder', this.opts.cacheDir));
    let tail = '';
    let ready!: () => void;
    const answering = new Promise<void>((resolve) => (ready = resolve));
    // In our process group: whatever signals `diskless serve` with everything it started (a
    // terminal's Ctrl-C, the lab's crash drill) reaches the responder too.
    const daemon = await Daemon.start([bin, this.opts.interface], {
      ownProcessGroup: false,
      onLine: (line) => {
        tail = line;
        if (line.includes('answering router solicitations')) ready();
        else if (line.includes('told ')) this.#log.log('info', 'router solicitation answered', { detail: line.replace(/^ra-responder: /, '') });
        else this.#log.log('warn', 'ra-responder', { detail: line });
      },
    });
    this.#daemon = daemon;
    const exited = daemon.exited.then(({ code, signal }) => {
      if (this.#daemon !== daemon) return;
      this.#daemon = undefined;
      this.#log.log('error', 'ra-responder exited', { code, signal, detail: tail });
      throw new Error(`ra-responder exited (${signal ?? code}): ${tail.replace(/^ra-responder: /, '')}`);
    });
    exited.catch(() => {}); // reported here when it ends during start(), logged when later
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('ra-responder did not start within 5 s')), 5000);
    });
    try {
      await Promise.race([answering, exited, late]);
    } catch (e) {
      await this.stop();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, and SIGKILL if it is still running after a grace period. */
  async stop(): Promise<void> {
    const daemon = this.#daemon;
    this.#daemon = undefined;
    await daemon?.stop();
  }
}
