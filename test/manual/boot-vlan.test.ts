// VLAN 20 only: the bridge port of the node carries VLAN 20 tagged only (a user-space port,
// src/lab/vlan-port.c), so the node must tag to reach the server. Not in the suite (test/e2e):
// every frame passes that port, and the boot to the login prompt took from 2 to over 5
// minutes on a loaded CI host. Run by hand: node --test dist/test/manual/boot-vlan.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DebianLab } from '../../src/lab/debian-lab.js';

const MINUTES = 60_000;

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
