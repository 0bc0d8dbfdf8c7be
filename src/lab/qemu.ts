import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { type Logger, nullLogger } from '../log/logger.js';
import { cleanConsole, lastLines } from './console-text.js';
import { onExitCleanup } from '../process/exit-cleanup.js';
import type { LabNetwork } from './netns.js';
import { type BootMethod, type Firmware, type NicModel, type NicSpec, type QemuSpec, qemuArgs, qemuBinary, qemuOptionValue, randomMac, uefiFlash, type UefiNetBoot } from './qemu-args.js';
import type { ProcessExit } from '../process/command.js';
import { Daemon } from '../process/daemon.js';

export type { BootMethod, Firmware, NicModel, UefiNetBoot } from './qemu-args.js';

export interface QemuOptions {
  boot: BootMethod;
  firmware?: Firmware;
  /** UEFI firmwares: PXE first (default), or HTTP boot only. */
  uefiNetBoot?: UefiNetBoot;
  memoryMiB?: number;
  machine?: 'pc' | 'q35';
  /** Runs QEMU inside this lab's namespace with one NIC on a tap; without it: no NIC, host namespace. */
  network?: LabNetwork;
  /** An existing tap of `network`; by default a new one is added. */
  tap?: string;
  /** QEMU -netdev options used instead of a tap (see NicSpec.netdev); `tap` then names the bridge port. */
  netdev?: string;
  nicModel?: NicModel;
  mac?: string;
  optionRom?: boolean;
  /** Keeps the console log and UEFI variables here; by default a temp dir removed by stop(). */
  dir?: string;
  name?: string;
  extraArgs?: readonly string[];
  logger?: Logger;
  /** Accept input on the serial console (see type()). */
  interactive?: boolean;
  /** A guest reboot restarts the machine instead of ending QEMU. */
  allowReboot?: boolean;
}

interface Waiter {
  pattern: RegExp;
  since: number;
  resolve: (m: RegExpExecArray) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const POLL_MS = 100;
const TAIL_LINES = 40;

/** One QEMU machine whose serial console is captured to a file and watched for patterns. */
export class QemuMachine {
  readonly exited: Promise<ProcessExit>;
  #raw = '';
  #clean = '';
  #cleanedLength = 0;
  #offset = 0;
  readonly #decoder = new TextDecoder();
  #waiters = new Set<Waiter>();
  readonly #poll: NodeJS.Timeout;
  #stopped = false;
  #consoleSocket: string | undefined;
  #input: Socket | undefined;

  /** The QEMU process (its pid, output(), status). */
  readonly process: Daemon;
  /** When QEMU was started (Date.now()): the machine's power-on, where its own boot time begins. */
  readonly startedAt: number;

  private constructor(
    readonly name: string,
    qemu: Daemon,
    readonly argv: readonly string[],
    readonly consolePath: string,
    readonly mac: string | undefined,
    /** The lab network's tap port this machine's NIC is on (undefined: no NIC). */
    readonly tap: string | undefined,
    private readonly ownDir: string | undefined,
    private readonly unregisterDir: () => void,
  ) {
    this.process = qemu;
    this.startedAt = Date.now();
    this.#poll = setInterval(() => this.#check(), POLL_MS);
    this.exited = qemu.exited.then((status) => {
      clearInterval(this.#poll);
      this.#check();
      const why = this.#stopped ? 'stopped' : `QEMU exited (${describeExit(status)})`;
      for (const w of this.#waiters) this.#fail(w, why);
      return status;
    });
  }

  static async start(options: QemuOptions): Promise<QemuMachine> {
    const name = options.name ?? `vm-${randomBytes(3).toString('hex')}`;
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), `diskless-${name}-`));
    const ownDir = options.dir === undefined ? dir : undefined;
    const unregisterDir = ownDir === undefined ? () => {} : onExitCleanup(() => rmSync(ownDir, { recursive: true, force: true }));
    try {
      const firmware = options.firmware ?? 'bios';
      const consolePath = join(dir, `${name}.console.log`);
      rmSync(consolePath, { force: true });
      let uefiVarsPath: string | undefined;
      if (firmware !== 'bios') {
        // Each machine writes its own boot entries into the store; a shared one leaks boot order between runs.
        uefiVarsPath = join(dir, `${name}.VARS.fd`);
        copyFileSync(uefiFlash(firmware).vars, uefiVarsPath);
      }
      let nic: NicSpec | undefined;
      if (options.network !== undefined) {
        nic = {
          tap: options.tap ?? (await options.network.addTap()),
          model: options.nicModel ?? 'virtio-net-pci',
          mac: options.mac ?? randomMac(),
          optionRom: options.optionRom ?? true,
          ...(options.netdev === undefined ? {} : { netdev: options.netdev }),
        };
      } else if (options.tap !== undefined) {
        throw new Error(`Cannot attach tap ${options.tap}: no lab network given`);
      }
      const spec: QemuSpec = {
        boot: options.boot,
        firmware,
        memoryMiB: options.memoryMiB ?? 512,
        machine: options.machine ?? 'q35',
        consolePath,
        ...(uefiVarsPath === undefined ? {} : { uefiVarsPath }),
        ...(options.uefiNetBoot === undefined ? {} : { uefiNetBoot: options.uefiNetBoot }),
        ...(nic === undefined ? {} : { nic }),
        ...(options.extraArgs === undefined ? {} : { extraArgs: options.extraArgs }),
        ...(options.interactive ? { consoleSocket: join(dir, `${name}.console.sock`) } : {}),
        ...(options.allowReboot ? { allowReboot: true } : {}),
      };
      const argv = [qemuBinary(firmware), '-name', qemuOptionValue(name), ...qemuArgs(spec)];
      const proc = options.network === undefined
        ? await Daemon.start(argv)
        : await options.network.spawn(options.network.name, argv);
      (options.logger ?? nullLogger).log('info', 'qemu started', {
        service: 'lab', vm: name, pid: proc.pid, firmware, boot: spec.boot.kind, mac: nic?.mac,
      });
      const vm = new QemuMachine(name, proc, argv, consolePath, nic?.mac, nic?.tap, ownDir, unregisterDir);
      vm.#consoleSocket = spec.consoleSocket;
      return vm;
    } catch (e) {
      if (ownDir !== undefined) rmSync(ownDir, { recursive: true, force: true });
      unregisterDir();
      throw e;
    }
  }

  /** Reads what QEMU appended to the console file since the last call. */
  #readNew(): void {
    if (!existsSync(this.consolePath)) return;
    const fd = openSync(this.consolePath, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.#offset);
        if (n === 0) break;
        this.#offset += n;
        this.#raw += this.#decoder.decode(buf.subarray(0, n), { stream: true });
      }
    } finally {
      closeSync(fd);
    }
  }

  #check(): void {
    this.#readNew();
    if (this.#waiters.size === 0) return;
    const text = this.#cleaned();
    for (const w of this.#waiters) {
      const m = w.pattern.exec(text.slice(w.since));
      if (m === null) continue;
      m.index += w.since;
      this.#settle(w);
      w.resolve(m);
    }
  }

  #settle(w: Waiter): void {
    clearTimeout(w.timer);
    this.#waiters.delete(w);
  }

  #fail(w: Waiter, why: string): void {
    this.#settle(w);
    const qemuOutput = this.process.output().trim();
    w.reject(new Error(
      `Cannot see ${w.pattern} on the console of ${this.name}: ${why}` +
        (qemuOutput === '' ? '' : `\nQEMU said: ${lastLines(qemuOutput, 10)}`) +
        `\nLast ${TAIL_LINES} console lines:\n${lastLines(this.consoleText(), TAIL_LINES)}`,
    ));
  }

  #cleaned(): string {
    if (this.#cleanedLength !== this.#raw.length) {
      this.#clean = cleanConsole(this.#raw);
      this.#cleanedLength = this.#raw.length;
    }
    return this.#clean;
  }

  /** The console so far, without escape sequences and carriage returns. */
  consoleText(): string {
    this.#readNew();
    return this.#cleaned();
  }

  /**
   * Resolves with the first match of `pattern` in the cleaned console at or after character
   * `since` (a previous match's index, to wait for a later occurrence). Rejects on timeout or
   * when QEMU exits first, with the console's last lines in the message.
   */
  waitFor(pattern: RegExp, timeoutMs: number, since = 0): Promise<RegExpExecArray> {
    // A global or sticky regex would carry lastIndex from one poll to the next.
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pattern: re,
        since,
        resolve,
        reject,
        timer: setTimeout(() => this.#fail(w, `timed out after ${timeoutMs} ms`), timeoutMs),
      };
      this.#waiters.add(w);
      if (this.process.status !== undefined) {
        this.#check();
        if (this.#waiters.has(w)) this.#fail(w, `QEMU exited (${describeExit(this.process.status)})`);
        return;
      }
      this.#check();
    });
  }

  /** Types `text` on the serial console (needs `interactive`); "\n" is Enter. */
  async type(text: string): Promise<void> {
    const path = this.#consoleSocket;
    if (path === undefined) throw new Error(`Cannot type on ${this.name}: started without interactive`);
    if (this.#input === undefined || this.#input.destroyed) {
      this.#input = await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(path, () => resolve(s));
        s.once('error', reject);
      });
      this.#input.on('data', () => {}); // output is read from the log file instead
      this.#input.on('error', () => {});
    }
    const sock = this.#input;
    // Serial input is slow to a guest under TCG: small pieces, so nothing is dropped.
    for (let i = 0; i < text.length; i += 16) {
      await new Promise<void>((resolve, reject) => sock.write(text.slice(i, i + 16), (e) => (e ? reject(e) : resolve())));
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Kills QEMU (SIGTERM, then SIGKILL) and removes its temp dir unless `dir` was given. */
  async stop(): Promise<ProcessExit> {
    this.#stopped = true;
    this.#input?.destroy();
    const status = await this.process.stop();
    await this.exited;
    if (this.ownDir !== undefined) rmSync(this.ownDir, { recursive: true, force: true });
    this.unregisterDir();
    return status;
  }
}

function describeExit(s: ProcessExit): string {
  return s.signal !== null ? `signal ${s.signal}` : `code ${s.code}`;
}
