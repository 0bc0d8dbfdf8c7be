// Versioned images under running nodes: a node booting during a publish gets one whole version
// (its script pins every URL, and /init checks the squashfs hash), and a node running an old
// version keeps working from it while the new one is published; its next boot takes the new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DebianLab } from '../../src/lab/debian-lab.js';
import { ensureLabImageVariant } from '../../src/lab/lab-image.js';

const MINUTES = 60_000;

test('publish under running and booting nodes (NBD root from the image store)', { timeout: 20 * MINUTES }, async () => {
  const lab = await DebianLab.start({ mode: 'nbd', fromStore: true });
  try {
    const v1 = (await lab.store.resolve('lab')).version;
    const variant = await ensureLabImageVariant(lab.image);
    const v2 = (await lab.store.addVersion('lab', { squashfs: variant, kernel: lab.image.kernel, initrd: lab.initrd, kernelVersion: lab.image.kernelVersion, link: true, parent: v1 })).version;
    assert.notEqual(v1, v2);

    // Publish while the node is in its initramfs: it already holds a script pinned to v1.
    await lab.vm.waitFor(/stage network done/, 5 * MINUTES);
    await lab.store.publish('lab', v2);
    await lab.login();
    assert.match(await lab.run('cat /proc/cmdline'), new RegExp(`root=nbd:10\\.77\\.0\\.1:10809/lab@${v1} `));
    assert.match(await lab.run('test -e /etc/diskless-variant || echo no-variant'), /no-variant/, 'wholly v1');

    // Running on v1 after the publish: reading files it has not read yet still works.
    assert.match(await lab.run('cat /usr/lib/x86_64-linux-gnu/*.so* >/dev/null 2>&1; md5sum /usr/bin/* >/dev/null && echo reads-ok'), /reads-ok/);

    // The next boot takes the published v2.
    const before = lab.vm.consoleText().length;
    await lab.vm.type('reboot\n');
    await lab.login(before, 6 * MINUTES);
    assert.match(await lab.run('cat /proc/cmdline'), new RegExp(`/lab@${v2} `));
    assert.match(await lab.run('cat /etc/diskless-variant'), /variant-2/);

    // Rollback: the boot after it is v1 again.
    await lab.store.rollback('lab');
    const again = lab.vm.consoleText().length;
    await lab.vm.type('reboot\n');
    await lab.login(again, 6 * MINUTES);
    assert.match(await lab.run('test -e /etc/diskless-variant || echo no-variant'), /no-variant/);
  } finally {
    await lab.stop();
  }
});
