// `diskless power` against real BMCs: OpenIPMI's ipmi_sim on loopback, driven by the real
// ipmitool. Each simulated BMC's "machine" is a shell that records each power-on in a file, so
// on, off and cycle are seen from the machine's side, not only from the BMC's answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BmcSim } from '../lab/bmc-sim.js';
import { freeTcpPort, freeUdpPort } from '../testing/free-ports.js';
import { run } from '../process/run.js';
import { loadConfig } from '../config/load.js';
import { powerNodes, selectTargets } from './power.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

async function diskless(...args: string[]) {
  const r = await run([process.execPath, CLI, ...args], { check: false, timeoutMs: 120_000 });
  return { code: r.code, out: r.stdout, err: r.stderr, lines: r.stdout.split('\n').filter(Boolean) };
}

const starts = async (dir: string) => (await readFile(join(dir, 'starts'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

test('diskless power on|off|cycle|status through ipmi_sim BMCs: per-node results, a bounded number in flight, nothing without a node named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'diskless-power-'));
  const sims: BmcSim[] = [];
  try {
    for (const name of ['n1', 'n2']) {
      const d = join(dir, name);
      sims.push(await BmcSim.start({
        dir: d, address: '127.0.0.1', port: await freeUdpPort(), vmPort: await freeTcpPort(), user: 'admin', password: `pw-${name}`,
        startArgv: ['sh', '-c', `echo on >> ${d}/starts; exec sleep 1000`],
      }));
    }
    const [s1, s2] = sims as [BmcSim, BmcSim];
    await writeFile(join(dir, 'pw-wrong'), 'not-the-password');
    await chmod(join(dir, 'pw-wrong'), 0o600);
    await writeFile(join(dir, 'pw-open'), 'pw-n1');
    await chmod(join(dir, 'pw-open'), 0o644);
    await writeFile(join(dir, 'vmlinuz'), 'k');
    const config = join(dir, 'diskless.yaml');
    await writeFile(config, `server: { address: 127.0.0.1, state_dir: ${join(dir, 'state')} }
profiles:
  rack1:
    kernel: ${join(dir, 'vmlinuz')}
    power: { user: admin, password_file: ${s1.passwordFile} }
  other:
    kernel: ${join(dir, 'vmlinuz')}
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, profile: rack1, power: { ipmi: 127.0.0.1, port: ${s1.options.port} } }
  - { mac: "52:54:00:00:00:02", hostname: n2, profile: rack1, power: { ipmi: 127.0.0.1, port: ${s2.options.port}, password_file: ${s2.passwordFile} } }
  - { mac: "52:54:00:00:00:03", hostname: wrongpw, profile: other, power: { ipmi: 127.0.0.1, port: ${s1.options.port}, user: admin, password_file: ${join(dir, 'pw-wrong')} } }
  - { mac: "52:54:00:00:00:04", hostname: openpw, profile: other, power: { ipmi: 127.0.0.1, port: ${s1.options.port}, user: admin, password_file: ${join(dir, 'pw-open')} } }
  - { mac: "52:54:00:00:00:05", hostname: nobmc, profile: other }
`);

    // No node named is never "all".
    const none = await diskless('power', 'off', '--config', config);
    assert.equal(none.code, 2, none.err);
    assert.match(none.err, /name the nodes .* no node named never means all/);
    assert.equal(await starts(s1.options.dir) + await starts(s2.options.dir), 0);

    const status = await diskless('power', 'status', 'n1', 'n2', '52:54:00:00:00:03', 'openpw', 'nobmc', '--config', config);
    assert.equal(status.code, 1, status.out + status.err);
    const line = (name: string, lines: string[]) => lines.find((l) => l.startsWith(`${name} `)) ?? `(no line for ${name})`;
    assert.match(line('n1', status.lines), /^n1 +ok +power is off$/);
    assert.match(line('n2', status.lines), /^n2 +ok +power is off$/);
    assert.match(line('wrongpw', status.lines), /^wrongpw +FAILED +ipmitool chassis power status: /);
    assert.match(line('openpw', status.lines), /^openpw +FAILED +Cannot use the BMC password file .*pw-open: others may read it \(chmod 600 /);
    assert.match(line('nobmc', status.lines), /^nobmc +FAILED +no BMC: give the node power\.ipmi/);
    assert.match(status.out, /3 of 5 node\(s\) failed\n$/);

    const on = await diskless('power', 'on', 'n1', '--config', config);
    assert.equal(on.code, 0, on.out + on.err);
    assert.match(on.out, /^n1 +ok +powered on$/m);
    assert.equal(await starts(s1.options.dir), 1, 'the machine behind n1 started');

    // cycle: n1 (on) restarts, n2 (off) is powered on.
    const cycle = await diskless('power', 'cycle', '--profile', 'rack1', '--config', config);
    assert.equal(cycle.code, 0, cycle.out + cycle.err);
    assert.match(line('n1', cycle.lines), /^n1 +ok +power cycled$/);
    assert.match(line('n2', cycle.lines), /^n2 +ok +was off: powered on$/);
    const deadline = Date.now() + 20_000;
    while ((await starts(s1.options.dir)) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await starts(s1.options.dir), 2, 'n1 started again');
    assert.equal(await starts(s2.options.dir), 1, 'n2 started');

    const off = await diskless('power', 'off', 'n2', '--config', config);
    assert.equal(off.code, 0, off.out + off.err);
    // A BMC takes the machine down after it has answered (ipmi_sim when the machine's process
    // has exited): ask until it says off, as an admin would.
    let after = await diskless('power', 'status', 'n1', 'n2', '--config', config);
    const offBy = Date.now() + 20_000;
    while (!/power is off$/.test(line('n2', after.lines)) && Date.now() < offBy) {
      await new Promise((r) => setTimeout(r, 200));
      after = await diskless('power', 'status', 'n1', 'n2', '--config', config);
    }
    assert.match(line('n1', after.lines), /power is on$/);
    assert.match(line('n2', after.lines), /power is off$/);

    // At most `parallel` BMCs are asked at once, counted around the real ipmitool runs.
    const c = loadConfig(config);
    const targets = selectTargets(c, { names: ['n1', 'n2', 'wrongpw'] });
    let inFlight = 0;
    let most = 0;
    const results = await powerNodes(targets, 'status', {
      parallel: 2,
      runner: async (argv, o) => {
        most = Math.max(most, ++inFlight);
        try {
          return await run(argv, o);
        } finally {
          inFlight--;
        }
      },
    });
    assert.equal(most, 2);
    assert.deepEqual(results.map((r) => [r.target.name, r.ok]), [['n1', true], ['n2', true], ['wrongpw', false]]);
  } finally {
    for (const s of sims) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

// The machine's serial port as QEMU offers it (-serial telnet::PORT,server): a TCP server that
// prints a line every 100 ms to whoever is connected. ipmi_sim connects to it for SOL.
const SERIAL_MACHINE = `
import { createServer } from 'node:net';
let n = 0;
createServer((c) => {
  c.on('error', () => {});
  const t = setInterval(() => c.write('serial line ' + n++ + ' from the machine\\r\\n'), 100);
  c.on('close', () => clearInterval(t));
}).listen(Number(process.argv[2]), '127.0.0.1');
`;

test('diskless console shows the node\'s serial output through its BMC (IPMI Serial-over-LAN), and ~. leaves', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'diskless-console-'));
  let sim: BmcSim | undefined;
  try {
    const serialPort = await freeTcpPort();
    await writeFile(join(dir, 'serial.mjs'), SERIAL_MACHINE);
    sim = await BmcSim.start({
      dir: join(dir, 'bmc'), address: '127.0.0.1', port: await freeUdpPort(), vmPort: await freeTcpPort(), user: 'admin', password: 'pw',
      startArgv: [process.execPath, join(dir, 'serial.mjs'), String(serialPort)], solTelnetPort: serialPort,
    });
    await writeFile(join(dir, 'vmlinuz'), 'k');
    const config = join(dir, 'diskless.yaml');
    await writeFile(config, `server: { address: 127.0.0.1, state_dir: ${join(dir, 'state')} }
profiles: { p: { kernel: ${join(dir, 'vmlinuz')} } }
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, profile: p, power: { ipmi: 127.0.0.1, port: ${sim.options.port}, user: admin, password_file: ${sim.passwordFile} } }
`);
    assert.equal((await diskless('power', 'on', 'n1', '--config', config)).code, 0);
    const missing = await diskless('console', '--config', config);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /console: name exactly one node/);

    // ipmitool's SOL wants a terminal: script(1) gives the console a pseudo-terminal.
    const { spawn } = await import('node:child_process');
    const cmd = [process.execPath, CLI, 'console', 'n1', '--config', config].map((w) => `'${w}'`).join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const deadline = Date.now() + 30_000;
    while (!/serial line \d+ from the machine/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /console of n1 through its BMC 127\.0\.0\.1; ~\. leaves/);
    assert.match(out, /serial line \d+ from the machine/, `no serial output within 30 s:\n${out}`);
    child.stdin.write('\r~.');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0, `console did not leave on ~.:\n${out.slice(-2000)}`);
  } finally {
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
