import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, gzip, zstd } from './compress.js';
import { type CpioEntry, writeCpio } from './cpio.js';
import { listInitramfs } from './list.js';

const entries: CpioEntry[] = [
  { type: 'dir', path: 'bin', mode: 0o755 },
  { type: 'file', path: 'bin/busybox', mode: 0o755, data: Buffer.alloc(100_000, 1) },
  { type: 'symlink', path: 'bin/sh', target: 'busybox' },
  { type: 'file', path: 'init', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
];

test('plain, gzip and zstd archives list the same entries', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'list-initramfs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cpio = await collect(writeCpio(entries));
  const files = {
    plain: cpio,
    gzip: await collect(gzip(writeCpio(entries))),
    zstd: await collect(zstd(writeCpio(entries), 3)),
  };
  for (const [name, bytes] of Object.entries(files)) {
    writeFileSync(join(dir, name), bytes);
    assert.deepEqual(
      await listInitramfs(join(dir, name)),
      [
        { path: 'bin', type: 'dir', mode: 0o755, size: 0 },
        { path: 'bin/busybox', type: 'file', mode: 0o755, size: 100_000 },
        { path: 'bin/sh', type: 'symlink', mode: 0o777, size: 7, target: 'busybox' },
        { path: 'init', type: 'file', mode: 0o755, size: 10 },
      ],
      name,
    );
  }
});

test("Debian's layout: an uncompressed early cpio, padding, then a compressed one", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'list-initramfs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const early = await collect(
    writeCpio([
      { type: 'dir', path: 'kernel/x86/microcode', mode: 0o755 },
      { type: 'file', path: 'kernel/x86/microcode/AuthenticAMD.bin', mode: 0o644, data: Buffer.alloc(1234, 9) },
    ]),
  );
  const path = join(dir, 'initrd.img');
  writeFileSync(path, Buffer.concat([early, Buffer.alloc(512 - (early.length % 512)), await collect(zstd(writeCpio(entries), 3))]));
  const listed = await listInitramfs(path);
  assert.deepEqual(listed.map((e) => e.path), ['kernel/x86/microcode', 'kernel/x86/microcode/AuthenticAMD.bin', 'bin', 'bin/busybox', 'bin/sh', 'init']);

  writeFileSync(path, Buffer.concat([early, Buffer.from('not an archive')]));
  await assert.rejects(listInitramfs(path), /Cannot list .*: unknown data at offset \d+ \(6e6f7420/);
  writeFileSync(path, (await collect(gzip(writeCpio(entries)))).subarray(0, 200));
  await assert.rejects(listInitramfs(path), /Cannot list|unexpected end of file/);
});

const debianInitrd = existsSync('/boot') ? readdirSync('/boot').filter((n) => n.startsWith('initrd.img-')).sort()[0] : undefined;

test("Debian's own initrd lists the same files as cpio -t", { skip: debianInitrd === undefined ? 'no /boot/initrd.img-*' : false }, async () => {
  const path = join('/boot', debianInitrd!);
  const listed = await listInitramfs(path);
  const shell = spawnSync('sh', ['-c', `unmkinitramfs -v "$1" /dev/null 2>/dev/null | wc -l; (zstd -dcq "$1" 2>/dev/null || gzip -dc "$1") | cpio -t --quiet | wc -l`, 'sh', path], { encoding: 'utf8' });
  const cpioCount = Number(shell.stdout.trim().split('\n').pop());
  assert.ok(listed.length > 100, `${listed.length} entries`);
  if (cpioCount > 0) assert.equal(listed.length, cpioCount);
  assert.ok(listed.some((e) => e.path === 'init' && e.type === 'file'));
  assert.ok(listed.some((e) => /\.ko(\.(xz|zst|gz))?$/.test(e.path)));
});
