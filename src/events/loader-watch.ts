import type { BootEvent, NewBootEvent } from './boot-event.js';
import { GRUB_ARM64, GRUB_X64, IPXE_EFI_X64, parseBootPath, SHIM_ARM64, SHIM_X64, treePath } from '../boot/urls.js';

/**
 * The EFI programs firmware (or shim) fetches and then runs, and whether they are signed. A
 * UEFI machine with Secure Boot on refuses an unsigned one after downloading it whole, says so
 * only on its own screen, and goes on to its next boot option: to the server the machine just
 * falls silent.
 */
const EFI_LOADERS: ReadonlyMap<string, { what: string; signed: boolean }> = new Map([
  [IPXE_EFI_X64, { what: 'iPXE', signed: false }],
  ['snponly.efi', { what: 'iPXE', signed: false }],
  ['ipxe-arm64.efi', { what: 'iPXE', signed: false }],
  ['snponly-arm64.efi', { what: 'iPXE', signed: false }],
  [SHIM_X64, { what: 'shim', signed: true }],
  [SHIM_ARM64, { what: 'shim', signed: true }],
  [GRUB_X64, { what: 'GRUB', signed: true }],
  [GRUB_ARM64, { what: 'GRUB', signed: true }],
]);

/**
 * GRUB fetched over HTTP was loaded by shim under the firmware's own HTTP boot. Debian's signed
 * GRUB network image (2.06) has no http module, and under HTTP boot the firmware leaves it only
 * the boot URL (no PXE DHCP answer): seen in the lab, it starts and asks for nothing, not even DHCP.
 */
const GRUB_OVER_HTTP = "; or, as it came by the firmware's HTTP boot, GRUB started but could not go on: Debian's signed GRUB network image reads from the boot URL's server over HTTP and has no HTTP support, so boot this machine by PXE (TFTP), or give server.signed_boot a GRUB with HTTP (Debian trixie's grub-efi-amd64-signed, 2.12, with its shim-signed)";

/** The server's log line for an inferred refusal. */
export const LOADER_REFUSED_MSG = 'secure boot refused the loader (inferred)';

/** How long a loader may stay silent after its download before the refusal is inferred. */
export const LOADER_SILENCE_MS = 30_000;

export interface LoaderWatchOptions {
  /** Records the inferred failure as a boot event (kind failed, name loader). */
  record: (e: NewBootEvent) => void;
  silenceMs?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

interface Armed {
  file: string;
  /** How it was fetched: GRUB fetched over HTTP came by the firmware's own HTTP boot. */
  via: 'tftp' | 'http';
  ip: string | undefined;
  timer: unknown;
}

/**
 * Infers that a machine's firmware refused the loader it was given: the loader (iPXE, shim or
 * GRUB) was downloaded whole, and nothing asked for anything next within the silence — no file
 * from the loader, no DHCP of iPXE's, no report from /init. That is what a Secure Boot refusal
 * looks like from here; so it is recorded as a failure of the `loader` step, marked inferred,
 * instead of the boot seeming to hang in "loading".
 */
export class LoaderWatch {
  readonly #armed = new Map<string, Armed>();
  readonly #o: Required<Omit<LoaderWatchOptions, 'record'>> & Pick<LoaderWatchOptions, 'record'>;

  constructor(o: LoaderWatchOptions) {
    this.#o = {
      record: o.record,
      silenceMs: o.silenceMs ?? LOADER_SILENCE_MS,
      now: o.now ?? Date.now,
      setTimer: o.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref()),
      clearTimer: o.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout)),
    };
  }

  observe(e: BootEvent): void {
    const mac = e.mac;
    if (mac === undefined) return;
    if (e.kind === 'tftp' || e.kind === 'http') {
      const path = treePath(e.fields.file ?? e.fields.path ?? '').replace(/^\/+/, '').replace(/\/{2,}/g, '/');
      const loader = EFI_LOADERS.get(path);
      const whole = e.name === 'done' && (e.bytes ?? 0) > 0 && (e.kind === 'tftp' || (e.fields.method === 'GET' && e.fields.status === '200'));
      if (loader !== undefined) {
        // The firmware fetching the loader again (a retry, a HEAD, a size probe) is not the
        // loader running; only a whole download starts the clock.
        if (whole) this.#arm(mac, path, e.kind, e.ip);
        return;
      }
      this.#cancel(mac);
      return;
    }
    if (e.kind === 'dhcp') {
      // iPXE asks for its script over DHCP: it runs. The firmware asking again does not count.
      const file = e.fields.file;
      if (file !== undefined && parseBootPath(new URL(file, 'http://x/').pathname)?.kind === 'script') this.#cancel(mac);
      return;
    }
    if (e.kind === 'stage' || e.kind === 'booted' || (e.kind === 'failed' && e.name !== 'loader')) this.#cancel(mac);
  }

  /** Machines whose loader is being watched now. */
  get watching(): number {
    return this.#armed.size;
  }

  close(): void {
    for (const a of this.#armed.values()) this.#o.clearTimer(a.timer);
    this.#armed.clear();
  }

  #arm(mac: string, file: string, via: 'tftp' | 'http', ip: string | undefined): void {
    this.#cancel(mac);
    const timer = this.#o.setTimer(() => this.#expire(mac), this.#o.silenceMs);
    this.#armed.set(mac, { file, via, ip, timer });
  }

  #cancel(mac: string): void {
    const a = this.#armed.get(mac);
    if (a === undefined) return;
    this.#o.clearTimer(a.timer);
    this.#armed.delete(mac);
  }

  #expire(mac: string): void {
    const a = this.#armed.get(mac);
    if (a === undefined) return;
    this.#armed.delete(mac);
    const loader = EFI_LOADERS.get(a.file)!;
    const seconds = Math.round(this.#o.silenceMs / 1000);
    const advice = loader.signed
      ? `${a.file} is signed: check that this machine's firmware trusts its signer (db, or a MOK enrolled in shim)` + (loader.what === 'GRUB' && a.via === 'http' ? GRUB_OVER_HTTP : '')
      : `${loader.what} is not signed: give the node loader: grub or its profile secure_boot: true`;
    this.#o.record({
      time: this.#o.now(),
      mac,
      ...(a.ip ? { ip: a.ip } : {}),
      kind: 'failed',
      name: 'loader',
      detail: `Secure Boot refused the loader (inferred): ${a.file} was downloaded whole and nothing asked for anything next within ${seconds} s; ${advice}`,
      fields: { status: 'failed', loader: a.file, inferred: 'true' },
    });
  }
}
