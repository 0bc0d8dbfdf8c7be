// Restart drills: `diskless serve` is killed with SIGKILL, as a crash would, at the
// two moments a diskless node depends on it most, with one QEMU node doing both:
//  1. while iPXE downloads the kernel: the script's retry loop fetches it again and the node
//     boots to its login prompt;
//  2. under a running NBD root, with a read of blocks the node never cached started while the
//     server is down: the read waits, the node's keeper reconnects once the server is back, and
//     the read completes with the image's own bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { DebianLab } from '../../src/lab/debian-lab.js';
import { run } from '../../src/process/run.js';

const MINUTES = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Line = Record<string, unknown>;

/** Directories of the image the boot never reads (perl modules, iconv modules). */
const UNREAD = ['usr/lib/x86_64-linux-gnu/perl-base', 'usr/lib/x86_64-linux-gnu/gconv'];
/** One digest over every file's md5sum, in C-locale order: the same text on node and host. */
const DIGEST_CMD = `cd / && find ${UNREAD.join(' ')} -type f | LC_ALL=C sort | xargs md5sum | md5sum | cut -d' ' -f1`;

const kernelRequests = (log: Line[]) => log.filter((l) => l['service'] === 'http' && typeof l['path'] === 'string' && /kernel|vmlinuz/.test(l['path'] as string));

test('restart drills: server killed during the kernel download, then under a running NBD root', { timeout: 40 * MINUTES }, async () => {
  const t0 = Date.now();
  const at = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  const lab = await DebianLab.start({ mode: 'nbd', nic: 'virtio-net-pci' });
  try {
    const kernelSize = statSync(lab.image.kernel).size;

    // 1. Kernel download. The lab's veth/tap path moves 8 MB in well under a second, so the
    // server-to-node direction is capped (tbf on the node's tap) for as long as the first
    // download runs: ~16 s at 4 Mbit/s, a window the kill cannot miss.
    await lab.net.exec(lab.net.name, ['tc', 'qdisc', 'add', 'dev', 'tap0', 'root', 'tbf', 'rate', '4mbit', 'burst', '32kb', 'latency', '2s']);
    const first = await lab.vm.waitFor(/http:\/\/10\.77\.0\.1\/\S*(kernel|vmlinuz)/, 5 * MINUTES);
    await sleep(3000);
    assert.deepEqual(kernelRequests(await lab.serverLog()), [], 'the first kernel download is still running when the server dies');
    await lab.killServer();
    const killedAt = Date.now();
    console.log(`# ${at()}: server killed (SIGKILL) during the kernel download`);
    await lab.net.exec(lab.net.name, ['tc', 'qdisc', 'del', 'dev', 'tap0', 'root']);
    await sleep(10_000);
    await lab.startServer();
    console.log(`# ${at()}: server back after ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    await lab.login(first.index, 10 * MINUTES);
    console.log(`# ${at()}: logged in`);

    const console1 = lab.vm.consoleText().slice(first.index);
    assert.match(console1, /Diskless: boot failed, retrying in 10 seconds/, 'iPXE saw the download fail');
    const fetches = console1.match(/http:\/\/10\.77\.0\.1\/\S*(kernel|vmlinuz)/g) ?? [];
    assert.ok(fetches.length >= 2, `the kernel was fetched again (${fetches.length} attempts on the console)`);
    const done = kernelRequests(await lab.serverLog()).filter((l) => l['status'] === 200 && l['bytes'] === kernelSize);
    assert.equal(done.length, 1, 'the restarted server logged one whole kernel download');

    // 2. NBD root after boot. Drop the page cache so even what the boot read must come over NBD
    // again, kill the server, start reading files the node never read, bring it back at 15 s.
    assert.match(await lab.run('findmnt -n -o FSTYPE,SOURCE /run/initramfs/diskless/lower'), /^squashfs\s+\/dev\/nbd0/);
    assert.match(await lab.run("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done 2>/dev/null | grep '^@' || true"), /^@.*diskless-nbd-keeper/m, 'the keeper runs, marked as a root storage daemon');
    const hostDigest = (await run(['sh', '-c', DIGEST_CMD.replace('cd /', `cd '${lab.image.rootfs}'`)])).stdout.trim();
    assert.match(hostDigest, /^[0-9a-f]{32}$/);
    await lab.run('sync; echo 3 > /proc/sys/vm/drop_caches');
    await lab.killServer();
    const nbdKilledAt = Date.now();
    console.log(`# ${at()}: server killed (SIGKILL) under the running NBD root`);
    let finished = 0;
    const reading = lab.run(`${DIGEST_CMD}; echo "exit=$?"`, 10 * MINUTES).then((out) => {
      finished = Date.now();
      return out;
    });
    await sleep(15_000);
    assert.equal(finished, 0, 'the read waits while the server is down');
    await lab.startServer();
    const backAt = Date.now();
    console.log(`# ${at()}: server back after ${((backAt - nbdKilledAt) / 1000).toFixed(1)} s`);
    const out = await reading;
    console.log(`# ${at()}: read finished ${((finished - backAt) / 1000).toFixed(1)} s after the server came back`);
    assert.match(out, /exit=0/);
    assert.equal(out.match(/^[0-9a-f]{32}$/m)?.[0], hostDigest, 'the node read the image\'s own bytes');

    // The keeper saw the link die (the kernel's NBD_CMD_LINK_DEAD) and the kernel took its new socket.
    // Both are in the kernel log (the console only shows emergencies once logged in).
    const nbdLog = await lab.run('dmesg | grep -E "nbd|diskless-nbd"');
    console.log(nbdLog.split('\n').map((l) => `# ${l}`).join('\n'));
    assert.match(nbdLog, /diskless-nbd: \/dev\/nbd0: connection to 10\.77\.0\.1:10809 lost; reconnecting/);
    assert.match(nbdLog, /block nbd0: reconnected socket/);
    assert.doesNotMatch(await lab.run('dmesg | grep -E "I/O error|SQUASHFS error" || echo none'), /I\/O error|SQUASHFS error/, 'no read failed');
    // The system keeps running: new processes start from the root, and systemd is content.
    assert.equal(await lab.systemState(), 'running');
    assert.match(await lab.run('ls /usr/bin | wc -l'), /^\d+/m);
    const nbd = (await lab.serverLog()).filter((l) => l['service'] === 'nbd');
    console.log(`# ${at()}: done; ${nbd.length} NBD log lines`);
  } finally {
    await lab.stop();
  }
});
