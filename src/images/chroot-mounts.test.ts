import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindMounts, type MountRunner, mountPointsUnder, unmountAllUnder } from './chroot-mounts.js';

/** A mount table that mount/umount really change, with umount refusing what `busy` names unless lazy. */
function fakeMounts(initial: string[], opts: { busy?: string[]; failMount?: string; stuck?: string[] } = {}) {
  const table = [...initial];
  const calls: string[] = [];
  const run: MountRunner = async (argv) => {
    calls.push(argv.join(' '));
    const target = argv.at(-1)!;
    if (argv[0] === 'mount') {
      if (target === opts.failMount) throw new Error(`mount: ${target}: failed`);
      table.push(target);
      return;
    }
    const lazy = argv.includes('--lazy');
    if (opts.stuck?.includes(target) || (!lazy && opts.busy?.includes(target))) throw new Error(`umount: ${target}: target is busy`);
    table.splice(table.lastIndexOf(target), 1);
  };
  const readMounts = async () => table.map((t) => `none ${t} tmpfs rw 0 0\n`).join('');
  return { table, calls, run, readMounts };
}

const ROOT = '/srv/state/tmp/shell-web-x/root';
const BINDS = ['/proc', '/sys', '/dev', '/dev/pts'].map((p) => ({ source: p, target: `${ROOT}${p}` }));

describe('chroot mounts', () => {
  it('binds in order, each one private', async () => {
    const m = fakeMounts(['/', '/proc']);
    await bindMounts(BINDS, ROOT, m.run, m.readMounts);
    assert.deepEqual(m.calls, BINDS.map((b) => `mount --bind --make-private ${b.source} ${b.target}`));
  });

  it('unmounts in reverse order, including what the command mounted itself, and nothing outside', async () => {
    const m = fakeMounts(['/', '/proc', ...BINDS.map((b) => b.target), `${ROOT}/mnt`, '/srv/state/tmp/shell-web-xy']);
    await unmountAllUnder(ROOT, m.run, m.readMounts);
    assert.deepEqual(m.calls, [`umount ${ROOT}/mnt`, `umount ${ROOT}/dev/pts`, `umount ${ROOT}/dev`, `umount ${ROOT}/sys`, `umount ${ROOT}/proc`]);
    assert.deepEqual(m.table, ['/', '/proc', '/srv/state/tmp/shell-web-xy']);
  });

  it('detaches a busy mount lazily and goes on', async () => {
    const m = fakeMounts(BINDS.map((b) => b.target), { busy: [`${ROOT}/dev`] });
    await unmountAllUnder(ROOT, m.run, m.readMounts);
    assert.deepEqual(m.calls.slice(1, 4), [`umount ${ROOT}/dev`, `umount --lazy ${ROOT}/dev`, `umount ${ROOT}/sys`]);
    assert.deepEqual(m.table, []);
  });

  it('unmounts the others and then fails when one cannot be unmounted even lazily', async () => {
    const m = fakeMounts(BINDS.map((b) => b.target), { stuck: [`${ROOT}/sys`] });
    await assert.rejects(unmountAllUnder(ROOT, m.run, m.readMounts), new RegExp(`Cannot unmount ${ROOT}/sys$`));
    assert.deepEqual(m.table, [`${ROOT}/sys`]);
  });

  it('undoes the binds already made when one fails', async () => {
    const m = fakeMounts([], { failMount: `${ROOT}/dev` });
    await assert.rejects(bindMounts(BINDS, ROOT, m.run, m.readMounts), /mount: .*\/dev: failed/);
    assert.deepEqual(m.table, []);
    assert.deepEqual(m.calls.slice(-2), [`umount ${ROOT}/sys`, `umount ${ROOT}/proc`]);
  });

  it('reads octal escapes in the mount table and matches whole path components', () => {
    const table = 'proc /proc proc rw 0 0\nproc /a\\040b/root/proc proc rw 0 0\nsysfs /a\\040b/rootfs sysfs rw 0 0\n';
    assert.deepEqual(mountPointsUnder('/a b/root', table), ['/a b/root/proc']);
  });
});
