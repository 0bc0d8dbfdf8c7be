import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildTinyInitramfs, initScript, markerPattern } from './tiny-initramfs.js';

test('the archive holds busybox, its links, /dev/console and an /init that prints the marker', async (t) => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'tiny-initramfs-test-'));
  t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
  const built = await buildTinyInitramfs({ markerId: 'unit-1', cacheDir });
  assert.equal(built.fromCache, false);
  const again = await buildTinyInitramfs({ markerId: 'unit-1', cacheDir });
  assert.deepEqual(again, { path: built.path, fromCache: true });
  const other = await buildTinyInitramfs({ markerId: 'unit-2', cacheDir });
  assert.notEqual(other.path, built.path);

  const listing = spawnSync('cpio', ['-t', '-v', '--quiet'], { input: gunzipSync(readFileSync(built.path)) });
  assert.equal(listing.status, 0, listing.stderr.toString());
  const text = listing.stdout.toString();
  assert.match(text, /^crw------- .* 5, +1 .* dev\/console$/m);
  assert.match(text, /^-rwxr-xr-x .* bin\/busybox$/m);
  assert.match(text, /^lrwxrwxrwx .* bin\/sh -> busybox$/m);
  assert.match(text, /^-rwxr-xr-x .* init$/m);
});

test('/init prints the marker with the command line, then powers off or opens a shell', () => {
  const script = initScript({ markerId: 'abc.1' });
  assert.match(script, /^#!\/bin\/sh\n/);
  // The console is quieted before the marker, so no kernel message splits its line.
  assert.ok(script.indexOf('echo 1 > /proc/sys/kernel/printk') < script.indexOf('DISKLESS-MARKER'));
  assert.ok(script.includes('echo 1 > /proc/sys/kernel/printk\n'));
  assert.match(script, /echo "DISKLESS-MARKER abc\.1 cmdline=\$\(cat \/proc\/cmdline\)" > \/dev\/console\npoweroff -f\n$/);
  assert.match(initScript({ markerId: 'x', poweroff: false }), /exec setsid cttyhack sh\n$/);
  assert.throws(() => initScript({ markerId: 'a b;reboot' }), /marker id "a b;reboot" must match/);
});

test('markerPattern matches only its own marker and captures the command line', () => {
  const m = markerPattern('abc.1').exec('DISKLESS-MARKER abc.1 cmdline=console=ttyS0 x=1\n');
  assert.equal(m?.[1], 'console=ttyS0 x=1');
  assert.equal(markerPattern('abc.1').exec('DISKLESS-MARKER abcX1 cmdline=y\n'), null);
  // A line still arriving on the console is not matched until its end.
  assert.equal(markerPattern('abc.1').exec('DISKLESS-MARKER abc.1 cmdline=console=ttyS0 BOOTIF=01-52-5'), null);
  assert.equal(markerPattern('abc.1').exec('DISKLESS-MARKER abc.1 cmdline=a b\r\n')?.[1], 'a b');
});
