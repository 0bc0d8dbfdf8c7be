// The boot link as sites build it: two NICs bonded (active-backup) whose active link is cut
// under a running node, and a node whose network is VLAN 20 only (the bridge filters VLANs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DebianLab } from '../../src/lab/debian-lab.js';

const MINUTES = 60_000;

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await new Promise((r) => setTimeout(r, 500))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
  }
}

test('bond active-backup over two NICs: the active link is cut under the running node and its NBD root keeps working', { timeout: 20 * MINUTES }, async () => {
  const lab = await DebianLab.start({
    mode: 'nbd',
    secondNic: true,
    nodeExtra: (n) => `    network: { bond: { mode: active-backup, interfaces: ["${n.mac}", "${n.mac2}"] } }\n`,
  });
  try {
    await lab.login();
    assert.equal((await lab.run('systemctl is-system-running --wait')).trim(), 'running', await lab.run('systemctl --failed --no-legend --plain'));
    const bonding = await lab.run('cat /proc/net/bonding/bond0');
    assert.match(bonding, /Bonding Mode: fault-tolerance \(active-backup\)/);
    assert.match(bonding, /ARP IP target\/s \(n\.n\.n\.n form\):\s*10\.77\.0\.1/);
    assert.equal((bonding.match(/^Slave Interface:/gm) ?? []).length, 2, bonding);
    assert.match(await lab.run('ip -4 -o addr show dev bond0'), /inet 10\.77\.0\.11\/24/);
    const active = /Currently Active Slave: (\S+)/.exec(bonding)?.[1];
    assert.ok(active, bonding);
    const networkReport = (await lab.serverLog()).find((l) => l['service'] === 'node' && l['mac'] === lab.mac && l['stage'] === 'network' && l['status'] === 'ok');
    assert.match(String(networkReport?.['detail']), /bond=active-backup slaves=\w+,\w+/);

    // Cut the active NIC's link on the host side (its tap down): the bond fails over.
    await lab.net.exec(lab.net.name, ['ip', 'link', 'set', lab.vm.tap!, 'down']);
    await waitFor('failover to the second NIC', async () => /Currently Active Slave: (\S+)/.exec(await lab.run('cat /proc/net/bonding/bond0'))?.[1] !== active);
    // The root is read over the network: files never read before still come.
    assert.match(await lab.run('md5sum /usr/lib/x86_64-linux-gnu/*.so* >/dev/null && echo reads-ok', 5 * MINUTES), /reads-ok/);
  } finally {
    await lab.stop();
  }
});

test('VLAN 20 only: the node tags its traffic, gets its lease and its NBD root on VLAN 20, and networkd keeps the VLAN', { timeout: 20 * MINUTES }, async () => {
  const lab = await DebianLab.start({ mode: 'nbd', vlan: 20, nodeExtra: () => '    network: { vlan: 20 }\n' });
  try {
    // Every frame of this node passes the user-space VLAN port: on a loaded host the boot
    // to the login prompt was seen to take just over the usual 5 minutes.
    await lab.login(0, 10 * MINUTES);
    assert.equal((await lab.run('systemctl is-system-running --wait')).trim(), 'running', await lab.run('systemctl --failed --no-legend --plain'));
    assert.match(await lab.run('ip -4 -o addr show'), /^\d+: \S+\.20\s+inet 10\.77\.0\.11\/24/m);
    assert.match(await lab.run('cat /proc/net/vlan/config'), /\|\s*20\s*\|/);
    assert.match(await lab.run('md5sum /usr/bin/* >/dev/null && echo reads-ok'), /reads-ok/);
    const networkReport = (await lab.serverLog()).find((l) => l['service'] === 'node' && l['mac'] === lab.mac && l['stage'] === 'network' && l['status'] === 'ok');
    assert.match(String(networkReport?.['detail']), /vlan=20/);
  } finally {
    await lab.stop();
  }
});
