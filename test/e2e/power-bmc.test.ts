// diskless power and console against a QEMU machine behind a simulated BMC: OpenIPMI's
// ipmi_sim starts the machine on "power on" and talks to QEMU's external-BMC device
// (ipmi-bmc-extern) for reset and power off; its Serial-over-LAN reads the machine's serial
// port, which QEMU serves as telnet and also logs to a file where each boot's marker is counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BmcSim } from '../../src/lab/bmc-sim.js';
import { assertLabHost, hostKernel } from '../../src/lab/lab-host.js';
import { buildTinyInitramfs, MARKER_PREFIX } from '../../src/lab/tiny-initramfs.js';
import { defaultCacheDir } from '../../src/lab/tiny-lab.js';
import { run } from '../../src/process/run.js';
import { freeTcpPort, freeUdpPort } from '../../src/testing/free-ports.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

async function diskless(...args: string[]) {
  const r = await run([process.execPath, CLI, ...args], { check: false, timeoutMs: 120_000 });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('power on, status, console, cycle and off of a QEMU machine through ipmi_sim and its external-BMC device', async () => {
  assertLabHost();
  const dir = await mkdtemp(join(tmpdir(), 'diskless-power-bmc-'));
  let sim: BmcSim | undefined;
  try {
    // After its marker the machine prints a heartbeat each second and waits in a shell.
    const initrd = await buildTinyInitramfs({
      markerId: 'bmc-power', cacheDir: join(defaultCacheDir(), 'tiny-initramfs'), poweroff: false,
      extraInit: '(while true; do echo "heartbeat $(cat /proc/uptime)" > /dev/console; sleep 1; done) &',
    });
    const consoleLog = join(dir, 'console.log');
    const serialPort = await freeTcpPort();
    const vmPort = await freeTcpPort();
    const qemu = [
      'qemu-system-x86_64', '-machine', 'q35,graphics=off', '-m', '256', '-nodefaults', '-no-user-config', '-display', 'none',
      '-chardev', `socket,id=con0,host=127.0.0.1,port=${serialPort},server=on,wait=off,telnet=on,logfile=${consoleLog},logappend=on`,
      '-serial', 'chardev:con0', '-nic', 'none',
      '-chardev', `socket,id=ipmi0,host=127.0.0.1,port=${vmPort},reconnect=1`,
      '-device', 'ipmi-bmc-extern,id=bmc0,chardev=ipmi0', '-device', 'isa-ipmi-kcs,bmc=bmc0',
      '-kernel', hostKernel(), '-initrd', initrd.path, '-append', 'console=ttyS0 panic=-1',
    ];
    sim = await BmcSim.start({
      dir: join(dir, 'bmc'), address: '127.0.0.1', port: await freeUdpPort(), vmPort, user: 'admin', password: 'bmc-pw',
      startArgv: qemu, solTelnetPort: serialPort,
    });
    await writeFile(join(dir, 'vmlinuz'), 'k');
    const config = join(dir, 'diskless.yaml');
    await writeFile(config, `server: { address: 127.0.0.1, state_dir: ${join(dir, 'state')} }
profiles:
  rack:
    kernel: ${join(dir, 'vmlinuz')}
    power: { user: admin, password_file: ${sim.passwordFile} }
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, profile: rack, power: { ipmi: 127.0.0.1, port: ${sim.options.port} } }
`);
    const boots = async () => (await readFile(consoleLog, 'utf8').catch(() => '')).split(`${MARKER_PREFIX} bmc-power `).length - 1;

    assert.match((await diskless('power', 'status', 'n1', '--config', config)).out, /^n1 +ok +power is off$/m);
    const on = await diskless('power', 'on', 'n1', '--config', config);
    assert.equal(on.code, 0, on.out + on.err);
    await until('the first boot', async () => (await boots()) === 1, 120_000);
    assert.match((await diskless('power', 'status', 'n1', '--config', config)).out, /^n1 +ok +power is on$/m);

    // The console shows the running machine's serial output (its heartbeat), and ~. leaves.
    const cmd = [process.execPath, CLI, 'console', 'n1', '--config', config].map((w) => `'${w}'`).join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await until('heartbeat lines on the console', async () => /heartbeat \d+\.\d+/.test(out), 30_000).catch((e: Error) => {
      child.kill('SIGKILL');
      throw new Error(`${e.message}\n${out}`);
    });
    child.stdin.write('\r~.');
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    assert.equal(await exited, 0, `console did not leave on ~.:\n${out.slice(-2000)}`);
    clearTimeout(kill);

    // cycle reboots it: a second boot's marker.
    const cycle = await diskless('power', 'cycle', 'n1', '--config', config);
    assert.equal(cycle.code, 0, cycle.out + cycle.err);
    assert.match(cycle.out, /^n1 +ok +power cycled$/m);
    await until('the boot after the power cycle', async () => (await boots()) === 2, 120_000);

    const off = await diskless('power', 'off', 'n1', '--config', config);
    assert.equal(off.code, 0, off.out + off.err);
    await until('power off', async () => /power is off/.test((await diskless('power', 'status', 'n1', '--config', config)).out), 30_000);
    await until('QEMU gone', async () => (await run(['pgrep', '-f', `port=${vmPort},reconnect`], { check: false })).code === 1, 30_000);
  } finally {
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
