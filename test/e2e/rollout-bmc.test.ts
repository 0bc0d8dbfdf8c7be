// A rollout end to end: three QEMU machines (BIOS, the NIC's iPXE ROM), each behind its own
// OpenIPMI ipmi_sim BMC that starts it on "power on" and drives QEMU's external-BMC device for
// the rest, all in one lab namespace with a real `diskless serve` (DHCP, iPXE scripts, the image
// store, secrets over TLS). They boot our real network initrd (built from the host kernel's
// modules, cached by its inputs) into a minimal live root of one file, /sbin/init, which has no
// systemd: it runs /run/diskless/report-booted (the proven "booted" report /init leaves for every
// root) and prints a marker naming its version. A broken version (its root.sqfs damaged after it
// was stored, so /init's checksum fails) fails on the canary, which goes back to the old version
// while the other two never see it; a good version then reaches all three in two waves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BmcSim } from '../../src/lab/bmc-sim.js';
import { assertLabHost, hostKernel } from '../../src/lab/lab-host.js';
import { LabNetwork, removeStaleLabNamespaces } from '../../src/lab/netns.js';
import { qemuArgs, qemuBinary } from '../../src/lab/qemu-args.js';
import { defaultCacheDir, LAB_ADMIN_URL, LAB_POOL, LAB_SERVER } from '../../src/lab/tiny-lab.js';
import { labCertificate } from '../../src/lab/debian-lab.js';
import { cachedNetworkInitrd } from '../../src/lab/lab-initrd.js';
import { startLabServer } from '../../src/lab/lab-server.js';
import { ImageStore } from '../../src/images/store/image-store.js';
import { makeSquashfs } from '../../src/images/squashfs.js';
import type { Daemon } from '../../src/process/daemon.js';
import type { Rollout } from '../../src/rollout/plan.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const MARK = 'ROLLOUT-ROOT';
const MACS = ['52:54:00:17:0d:01', '52:54:00:17:0d:02', '52:54:00:17:0d:03'];

/** A live root holding only /sbin/init: report "booted" as /init left it ready, print a marker, stay up. */
async function tinyRoot(dir: string, tag: string): Promise<string> {
  const tree = join(dir, `root-${tag}`);
  await mkdir(join(tree, 'sbin'), { recursive: true });
  await writeFile(join(tree, 'sbin', 'init'), `#!/run/diskless/bin/busybox sh
bb=/run/diskless/bin/busybox
if /run/diskless/report-booted; then r=sent; else r="not sent"; fi
echo "${MARK} ${tag} report $r" > /dev/console
exec $bb sleep 2147483647
`);
  await chmod(join(tree, 'sbin', 'init'), 0o755);
  const out = join(dir, `root-${tag}.sqfs`);
  await makeSquashfs(tree, out);
  return out;
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms: number, detail: () => Promise<string> = async () => ''): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms / 1000} s waiting for ${what}\n${await detail()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('a rollout through three BMC-powered QEMU machines: a broken version stops at the canary and goes back; a good one reaches all three in two waves', async () => {
  assertLabHost();
  await removeStaleLabNamespaces();
  const cacheDir = defaultCacheDir();
  const kernel = hostKernel();
  const kernelVersion = basename(kernel).replace(/^vmlinuz-/, '');
  const cert = await labCertificate(cacheDir);
  const initrd = await cachedNetworkInitrd('rollout-host', [kernel], { root: '/', kernelVersion, serverCerts: cert.certPem, drivers: ['virtio_net'] }, cacheDir);
  const dir = await mkdtemp(join(tmpdir(), 'diskless-rollout-e2e-'));
  const stateDir = join(dir, 'state');
  const sims: BmcSim[] = [];
  let net: LabNetwork | undefined;
  let server: Daemon | undefined;
  const logPath = join(dir, 'server.log');
  const consoles = MACS.map((_, i) => join(dir, `n${i + 1}.console.log`));
  const consoleText = async (i: number) => (await readFile(consoles[i]!, 'utf8').catch(() => '')).replace(/\r/g, '');
  /** The versions machine i's root came up with, in order (its markers). */
  const boots = async (i: number) => [...(await consoleText(i)).matchAll(new RegExp(`${MARK} (\\w+) report (sent|not sent)`, 'g'))].map((m) => `${m[1]}:${m[2]}`);
  try {
    const store = new ImageStore({ root: join(stateDir, 'images') });
    const add = async (tag: string) => (await store.addVersion('tiny', { squashfs: await tinyRoot(dir, tag), kernel, initrd, kernelVersion })).version;
    const v1 = await add('one');
    const bad = await add('bad');
    const good = await add('good');
    await store.publish('tiny', v1);
    // The broken version: its root was damaged after it was stored, so /init's checksum fails.
    await appendFile(store.paths('tiny', bad).rootSqfs, 'damaged');

    net = await LabNetwork.create({});
    const configPath = join(dir, 'diskless.yaml');
    const nodes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const vmPort = 9100 + i;
      const argv = [qemuBinary('bios'), '-name', `n${i + 1}`, ...qemuArgs({
        boot: { kind: 'network' }, firmware: 'bios', memoryMiB: 384, machine: 'q35',
        // A console socket nobody connects to, so each power-on appends to the same log.
        consolePath: consoles[i]!, consoleSocket: join(dir, `n${i + 1}.sock`),
        nic: { tap: await net.addTap(), model: 'virtio-net-pci', mac: MACS[i]!, optionRom: true },
        allowReboot: true,
        extraArgs: ['-chardev', `socket,id=ipmi0,host=127.0.0.1,port=${vmPort},reconnect=1`, '-device', 'ipmi-bmc-extern,id=bmc0,chardev=ipmi0', '-device', 'isa-ipmi-kcs,bmc=bmc0'],
      })];
      const sim = await BmcSim.start({ dir: join(dir, `bmc-${i + 1}`), address: '127.0.0.1', port: 9000 + i, vmPort, user: 'admin', password: `bmc-pw-${i}`, startArgv: argv, netns: net.name });
      sims.push(sim);
      nodes.push(`  - { mac: "${MACS[i]}", hostname: n${i + 1}, profile: tiny, address: 10.77.0.${21 + i}, power: { ipmi: 127.0.0.1, port: ${9000 + i}, password_file: ${sim.passwordFile} } }`);
    }
    await writeFile(configPath, `server:
  address: ${LAB_SERVER}
  interface: br0
  http_port: 80
  tls_cert: ${cert.certFile}
  tls_key: ${cert.keyFile}
  state_dir: ${stateDir}
dhcp:
  mode: full
  pool: ${LAB_POOL.start}-${LAB_POOL.end}
  routers: [${LAB_SERVER}]
  unknown_clients: deny
profiles:
  tiny:
    image: tiny
    cmdline: console=ttyS0
    root: { mode: live, retry: 4 }
    power: { user: admin }
nodes:
${nodes.join('\n')}
`);
    server = await startLabServer(net, configPath, logPath);
    const inLab = (argv: string[]) => net!.exec(net!.name, argv, { check: false, timeoutMs: 120_000 });
    const diskless = async (...args: string[]) => {
      const r = await inLab([process.execPath, CLI, ...args, '--config', configPath]);
      return { code: r.code, out: r.stdout + r.stderr };
    };
    const api = async (path: string) => {
      const r = await inLab(['curl', '-sf', '--max-time', '10', `${LAB_ADMIN_URL}/api/v1${path}`]);
      return r.code === 0 ? JSON.parse(r.stdout) : undefined;
    };
    const current = async (): Promise<Rollout | undefined> => (await api('/rollouts'))?.current ?? undefined;
    const state = async () => `${JSON.stringify(await current(), null, 1)}\n${JSON.stringify(await api(`/nodes/${MACS[0]}`))}\n${(await Promise.all([0, 1, 2].map(async (i) => `--- n${i + 1}:\n${(await consoleText(i)).slice(-1500)}`))).join('\n')}`;

    // The fleet runs the published version: all three powered on at once through their BMCs.
    const on = await diskless('power', 'on', 'n1', 'n2', 'n3');
    assert.equal(on.code, 0, on.out);
    await until('the three machines up on the old version', async () => (await Promise.all([0, 1, 2].map(boots))).every((b) => b.length === 1), 240_000, state);
    assert.deepEqual(await Promise.all([0, 1, 2].map(boots)), [['one:sent'], ['one:sent'], ['one:sent']]);

    // The broken version: the canary fails in the root stage and goes back; n2 and n3 stay as they are.
    const started = await diskless('rollout', 'tiny', bad, '--canary', '1', '--batch', '2', '--timeout', '180', '--no-wait');
    assert.equal(started.code, 0, started.out);
    const stopped = await until('the canary sent back to the old version', async () => {
      const r = await current();
      return r?.nodes[0]?.status === 'rolled-back' ? r : undefined;
    }, 240_000, state);
    assert.equal(stopped.status, 'stopped');
    assert.match(stopped.message ?? '', /^canary n1 failed in stage root: .*checksum mismatch/);
    assert.equal(stopped.nodes.map((n) => `${n.name}:${n.status}`).join(' '), 'n1:rolled-back n2:skipped n3:skipped');
    await until('n1 up on the old version again', async () => (await boots(0)).length === 2, 60_000, state);
    assert.deepEqual(await boots(0), ['one:sent', 'one:sent']);
    assert.match(await consoleText(0), /image checksum mismatch: got sha256 [0-9a-f]{64}, want [0-9a-f]{64}/, 'the canary loaded the broken root and refused it');
    const allEvents = async () => (await api('/events?limit=1000')).events as Array<{ kind: string; name: string; mac?: string; ip?: string; detail: string; fields: Record<string, string> }>;
    const askedBad = (await allEvents()).filter((e) => e.kind === 'http' && e.fields['path']?.includes(`/store/tiny/${bad}/`));
    assert.ok(askedBad.length > 0, 'the canary fetched the broken version');
    assert.deepEqual([...new Set(askedBad.map((e) => e.mac))], [MACS[0]], 'only the canary ever asked for the broken version');
    assert.deepEqual([await boots(1), await boots(2)], [['one:sent'], ['one:sent']], 'the other two were never rebooted');

    // The good version: the canary, then n2 and n3 together; then it is published.
    const goodRun = await diskless('rollout', 'tiny', good, '--canary', '1', '--batch', '2', '--timeout', '180');
    assert.equal(goodRun.code, 0, `${goodRun.out}\n${await state()}`);
    const done = await current();
    assert.equal(done?.status, 'completed');
    assert.equal(done?.waves, 2);
    assert.equal(done?.nodes.map((n) => `${n.name}:${n.status}`).join(' '), 'n1:done n2:done n3:done');
    await until('the good version on every console', async () => (await Promise.all([0, 1, 2].map(boots))).every((b) => b.at(-1) === 'good:sent'), 30_000, state);
    assert.deepEqual((await Promise.all([0, 1, 2].map(boots))).map((b) => b.length), [3, 2, 2]);

    // Each boot is on the timeline: a proven "booted" of the version the server handed out.
    for (let i = 0; i < 3; i++) {
      const n = await api(`/nodes/${MACS[i]}`);
      assert.equal(n?.booted?.version, good, `n${i + 1} runs the good version`);
      const ev: Array<{ kind: string; fields: Record<string, string> }> = (await api(`/nodes/${MACS[i]}/events?limit=1000`)).events;
      const booted = ev.filter((e) => e.kind === 'booted');
      assert.equal(booted.length, i === 0 ? 3 : 2, `n${i + 1}: one "booted" per boot`);
      assert.ok(booted.every((e) => e.fields['proven'] !== undefined), `n${i + 1}: every "booted" proven`);
    }
    await until('the published event', async () => (await allEvents()).some((e) => e.kind === 'rollout' && e.name === 'published'), 30_000);
    const events = (await allEvents()).filter((e) => e.kind === 'rollout');
    const names = events.map((e) => `${e.name}${e.mac ? `@n${MACS.indexOf(e.mac) + 1}` : ''}`);
    assert.deepEqual(names.slice(0, 13), ['started', 'wave', 'power-cycled@n1', 'node-failed@n1', 'node-rollback@n1', 'stopped', 'power-cycled@n1', 'node-rolled-back@n1', 'started', 'wave', 'power-cycled@n1', 'node-done@n1', 'wave']);
    assert.deepEqual(names.slice(13, 17).sort(), ['node-done@n2', 'node-done@n3', 'power-cycled@n2', 'power-cycled@n3']);
    assert.deepEqual(names.slice(17), ['completed', 'published']);
  } finally {
    for (const s of sims) await s.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await net?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});
