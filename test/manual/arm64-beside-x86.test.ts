// An arm64 node and an x86 node of one inventory, each booting its own architecture's Debian
// to the login prompt from one `diskless serve`. Not in the suite: on this 2-CPU host under load
// the arm64 lab image takes about 10 minutes to build once (mmdebstrap through qemu-user), and
// the run takes 4.5 to 6.5 minutes warm (the suite's cheaper proof, secure-boot.test.ts: the same
// chain on arm64 to our initrd's live root, under 1); see the test's diagnostics. A smaller image
// does not bring the build within the suite's budget (about 5 minutes on a fresh machine, build
// and boot together): under qemu-user the image's dpkg and maintainer scripts run emulated (about
// 4 s per package unpacked on a loaded host), and measured on that host mmdebstrap's essential set
// plus systemd-sysv and udev alone took 592 s, the essential set plus sysvinit-core 794 s (its
// init scripts are registered by emulated insserv runs). Run by hand (root,
// scripts/install-deps.sh done):
//   node --test dist/test/manual/arm64-beside-x86.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultCacheDir, LAB_ADMIN_URL, LAB_ARM64_ADDRESS, LAB_SERVER } from '../../src/lab/tiny-lab.js';
import { DebianLab } from '../../src/lab/debian-lab.js';
import { Arm64LabNode, ARM64_PROFILE } from '../../src/lab/arm64-lab.js';
import type { NodeDetail } from '../../src/api/wire.js';
import { macToHyphens } from '../../src/net/mac.js';

// The arm64 node: DHCP architecture 11 → shimaa64 → grubaa64 → Debian's signed arm64 kernel
// (the arm64 lab image's own) → our network initrd built from its modules (arm64 busybox and
// tools) → the arm64 Debian image as a live root → systemd to its login prompt. The x86 node of
// the same inventory boots the x86 lab image the BIOS way (iPXE) at the same time.
test('ARM64 beside x86 in one inventory: AAVMF → shimaa64.efi → grubaa64.efi → Debian-signed arm64 kernel → our arm64 initrd → arm64 Debian to its login prompt, beside a BIOS node iPXE → x86 Debian to its', { timeout: 40 * 60_000 }, async (t) => {
  const arm = await Arm64LabNode.prepare(defaultCacheDir(), (m) => t.diagnostic(m));
  const started = Date.now();
  const lab = await DebianLab.start({ mode: 'live', ...arm.options(), beforeBoot: (net) => arm.start(net), progress: (m) => t.diagnostic(m) });
  try {
    const x86 = lab.nodes[0]!;
    const seconds = () => Math.round((Date.now() - started) / 1000);
    // Both consoles at once: each login waits for its own machine's prompt.
    const [x86At, armAt] = await Promise.all([
      x86.login(0, 10 * 60_000).then(() => seconds()),
      arm.node.login(0, 15 * 60_000).then(() => seconds()),
    ]);
    t.diagnostic(`login prompts: x86 after ${x86At} s, arm64 after ${armAt} s (both machines started together)`);
    assert.equal((await x86.run('uname -m')).trim(), 'x86_64');
    assert.equal((await arm.node.run('uname -m')).trim(), 'aarch64');
    assert.equal((await arm.node.run('uname -r')).trim(), arm.image.kernelVersion, 'the arm64 image\'s own kernel');
    assert.equal(await x86.systemState(), 'running', 'x86: no failed units');
    assert.equal(await arm.node.systemState(10 * 60_000), 'running', 'arm64: no failed units');
    const armCmdline = (await arm.node.run('cat /proc/cmdline')).trim();
    assert.match(armCmdline, /(^| )console=ttyAMA0( |$)/);
    assert.match(armCmdline, new RegExp(`(^| )BOOTIF=01-${macToHyphens(arm.mac)}( |$)`));
    assert.match(armCmdline, new RegExp(`^BOOT_IMAGE=\\(tftp,${LAB_SERVER.replace(/\./g, '\\.')}\\)/profiles/${ARM64_PROFILE}/kernel `));
    assert.match(armCmdline, /(^| )root=live:http:\/\//);

    const log = await lab.serverLog();
    const acks = (mac: string) => log.filter((l) => l['service'] === 'dhcp' && l['type'] === 'ack' && l['mac'] === mac).map((l) => String(l['file']));
    const served = (service: string, path: string) => log.filter((l) => l['service'] === service && String(l['path'] ?? l['file']).replace(/^\//, '') === path && Number(l['bytes']) > 0);
    // The x86 node: iPXE as ever. The arm64 node: architecture 11 gets the arm64 signed chain.
    assert.ok(acks(x86.mac).some((f) => /\.ipxe$/.test(f)), `x86 acks: ${acks(x86.mac).join(', ')}`);
    assert.ok(acks(arm.mac).includes('shimaa64.efi'), `arm64 acks: ${acks(arm.mac).join(', ')}`);
    for (const f of ['shimaa64.efi', 'grubaa64.efi', `grub/grub.cfg-01-${macToHyphens(arm.mac)}`, `profiles/${ARM64_PROFILE}/kernel`, `profiles/${ARM64_PROFILE}/initrd-0`]) {
      assert.ok(served('tftp', f).length > 0, `TFTP never served ${f}`);
    }
    assert.equal(served('tftp', 'grubx64.efi').length, 0, 'no x86 GRUB went out');
    const armRoot = log.filter((l) => l['service'] === 'http' && String(l['peer']).includes(LAB_ARM64_ADDRESS) && /root\.sqfs$/.test(String(l['path'])) && Number(l['bytes']) > 0);
    assert.ok(armRoot.length > 0, 'the arm64 node fetched its root over HTTP');
    // Our /init ran on arm64 and named the arm64 kernel.
    assert.match(arm.node.vm.consoleText(), /Diskless initramfs, kernel [^ ]+-arm64/);

    // Each node's whole timeline, from its reports and from the admin API (what the dashboard reads).
    const whole = ['cmdline', 'modules', 'network', 'fetched', 'verified', 'root', 'overlay', 'identity', 'handoff', 'switch_root', 'booted'];
    for (const [name, mac] of [['x86', x86.mac], ['arm64', arm.mac]] as const) {
      let stages: string[] = [];
      for (const deadline = Date.now() + 2 * 60_000; ; await new Promise((r) => setTimeout(r, 500))) {
        stages = (await lab.serverLog()).filter((l) => l['service'] === 'node' && l['mac'] === mac && l['status'] === 'ok').map((l) => String(l['stage']));
        if (stages.includes('booted') || Date.now() > deadline) break;
      }
      assert.deepEqual(stages, whole, `${name}: the whole timeline`);
      const api = JSON.parse((await lab.net.exec(lab.net.name, ['curl', '-sf', '--max-time', '10', `${LAB_ADMIN_URL}/api/v1/nodes/${mac}`])).stdout) as NodeDetail;
      assert.equal(api.status, 'booted', `${name}: the API says booted`);
      assert.deepEqual(api.timeline.filter((row) => row.status !== 'ok').map((row) => row.name), [], `${name}: every timeline row ok`);
      for (const s of ['dhcp', 'network', 'root', 'booted']) assert.ok(api.timeline.some((row) => row.name === s), `${name}: ${s} on the API timeline: ${api.timeline.map((row) => row.name).join(', ')}`);
    }
  } finally {
    await arm.stop();
    await lab.stop();
  }
});
