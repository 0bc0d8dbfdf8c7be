import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Daemon } from '../process/daemon.js';
import { run } from '../process/run.js';

/** One simulated BMC: OpenIPMI's ipmi_sim answering IPMI-over-LAN (RMCP+) on a UDP port. */
export interface BmcSimOptions {
  /** A directory of its own: config, state and password file go there. */
  dir: string;
  address: string;
  port: number;
  user: string;
  password: string;
  /**
   * What "power on" starts (ipmi_sim's startcmd: it splits the line into words itself, no
   * shell); "power off" sends it SIGTERM. A QEMU command line with an external BMC device
   * makes it a machine.
   */
  startArgv: readonly string[];
  /** TCP port of the machine's serial console as a telnet server, for Serial-over-LAN. */
  solTelnetPort?: number;
  /**
   * TCP port of its system interface (ipmi_sim's "serial 15 … codec VM"), where a QEMU
   * ipmi-bmc-extern device connects. ipmi_sim refuses chassis control without one.
   */
  vmPort: number;
  /** Runs it (and so its machine) inside a lab namespace: `ip netns exec NAME`. */
  netns?: string;
}

/** One word of startcmd, single-quoted as ipmi_sim's tokenizer reads it. */
function word(w: string): string {
  if (/['"\\\n]/.test(w)) throw new Error(`Cannot pass ${JSON.stringify(w)} to ipmi_sim's startcmd: quotes, backslashes and newlines do not survive its word splitting`);
  return `'${w}'`;
}

export class BmcSim {
  private constructor(readonly daemon: Daemon, readonly options: BmcSimOptions) {}

  /** Writes ipmi_sim's lan.conf and emulator file and starts it; resolves once it answers. */
  static async start(o: BmcSimOptions): Promise<BmcSim> {
    await mkdir(join(o.dir, 'state'), { recursive: true });
    const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
    await writeFile(join(o.dir, 'lan.conf'), [
      `name ${q(`bmc-${o.port}`)}`,
      'set_working_mc 0x20',
      '  startlan 1',
      `    addr ${o.address} ${o.port}`,
      '    priv_limit admin',
      '    allowed_auths_callback none md2 md5 straight',
      '    allowed_auths_user none md2 md5 straight',
      '    allowed_auths_operator none md2 md5 straight',
      '    allowed_auths_admin none md2 md5 straight',
      '    guid a123456789abcdefa123456789abcdef',
      '  endlan',
      `  serial 15 127.0.0.1 ${o.vmPort} codec VM`,
      `  startcmd ${q(o.startArgv.map(word).join(' '))}`,
      '  startnow false',
      // Power off: SIGTERM at once (no VM connection to ask), SIGKILL 2 s later.
      '  poweroff_wait 2',
      '  kill_wait 2',
      ...(o.solTelnetPort !== undefined ? [`  sol "telnet:127.0.0.1:${o.solTelnetPort}" 115200`] : []),
      `  user 2 true ${q(o.user)} ${q(o.password)} admin 10 none md2 md5 straight`,
      '',
    ].join('\n'));
    await writeFile(join(o.dir, 'sim.emu'), [
      'mc_setbmc 0x20',
      'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr',
      'sel_enable 0x20 1000 0x0a',
      'mc_enable 0x20',
      '',
    ].join('\n'));
    const argv = ['ipmi_sim', '-c', join(o.dir, 'lan.conf'), '-f', join(o.dir, 'sim.emu'), '-s', join(o.dir, 'state'), '-n'];
    const daemon = await Daemon.start(o.netns !== undefined ? ['ip', 'netns', 'exec', o.netns, ...argv] : argv, { logFile: join(o.dir, 'ipmi_sim.log') });
    const sim = new BmcSim(daemon, o);
    await writeFile(sim.passwordFile, o.password, { mode: 0o600 });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await run(sim.ipmitool(['mc', 'info']), { check: false, timeoutMs: 20_000 });
      if (r.code === 0) return sim;
      if (daemon.status !== undefined || Date.now() > deadline) {
        await daemon.stop();
        throw new Error(`Cannot start ipmi_sim on ${o.address}:${o.port}: ${r.stderr.trim() || daemon.output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get passwordFile(): string {
    return join(this.options.dir, 'password');
  }

  /** ipmitool's argv for this BMC (in its namespace when it has one). */
  ipmitool(command: readonly string[]): string[] {
    const o = this.options;
    const argv = ['ipmitool', '-I', 'lanplus', '-H', o.address, '-p', String(o.port), '-U', o.user, '-f', this.passwordFile, '-C', '3', ...command];
    return o.netns !== undefined ? ['ip', 'netns', 'exec', o.netns, ...argv] : argv;
  }

  async stop(): Promise<void> {
    // Powering off first ends the machine ipmi_sim started (it is in ipmi_sim's process group).
    await run(this.ipmitool(['chassis', 'power', 'off']), { check: false, timeoutMs: 10_000 });
    await this.daemon.stop();
  }
}
