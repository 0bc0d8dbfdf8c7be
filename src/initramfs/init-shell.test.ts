// The node-side shell (initramfs/) run under the same busybox it gets in the initrd. Values from
// the command line and DHCP are attacker-controlled in the worst case: they must stay data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { busyboxApplets } from './busybox.js';
import { HOST_TOOLS } from './network-initrd.js';

const LIB = resolve(fileURLToPath(import.meta.url), '../../../../initramfs/lib/diskless');
const BUSYBOX = '/bin/busybox';

function sh(dir: string, script: string, env: Record<string, string> = {}, netns = ''): { out: string; err: string; status: number | null } {
  const r = spawnSync(netns ? 'ip' : BUSYBOX, [...(netns ? ['netns', 'exec', netns, BUSYBOX] : []), 'sh', '-c', script], {
    cwd: dir,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DL_LIB: LIB, DL_LOG: join(dir, 'log'), DL_CONSOLE: join(dir, 'console'), ...env },
    encoding: 'utf8',
  });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

const HOSTILE = ['$(touch PWNED1)', '`touch PWNED2`', "';touch PWNED3;'", '";touch PWNED4;"', 'a;touch PWNED5', '${IFS}x', '\\'];

test('command-line values are data: $(…), backticks, quotes and ; never run', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-cmdline-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = `live:http://10.0.0.1/a$(touch\${IFS}PWNED0)b;touch\${IFS}PWNED6|x`;
  writeFileSync(join(dir, 'cmdline'), `quiet root=${root} diskless.server=http://s/\`touch\${IFS}PWNED7\` rd.retry=7 BOOTIF=01-52-54-00-AB-CD-EF rd.break=network *\ntouch PWNED8 rd.shell\n`);
  const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/cmdline.sh"; . "$DL_LIB/network.sh"; parse_cmdline
    printf '%s\\n' "$DL_ROOT" "$DL_SERVER" "$DL_RETRY" "$DL_BREAK" "$DL_SHELL" "$(bootif_mac)"`, { DL_CMDLINE_FILE: join(dir, 'cmdline') });
  assert.equal(r.status, 0, r.err);
  assert.deepEqual(r.out.split('\n').slice(0, 6), [root, 'http://s/`touch${IFS}PWNED7`', '7', 'network', '', '52:54:00:ab:cd:ef']);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('PWNED')), []);
});

test('check_cmdline names what is wrong', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-cmdline-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string, RegExp | null]> = [
    ['root=live:http://s/i.sqfs', null],
    ['root=nbd:10.0.0.1:10809/img', null],
    ['root=nfs4:10.0.0.1:/srv/img', null],
    // No root named: it comes from the lease's root path (DHCP option 17) once the network is up.
    ['', null],
    ['root=dhcp', null],
    ['root=/dev/sda1', /root=\/dev\/sda1 is not a Diskless root/],
    ['root=live:http://s/i rd.retry=1m', /rd\.retry=1m: expected a number of seconds/],
    ['root=live:http://s/i rd.diskless.overlay=disk', /rd\.diskless\.overlay=disk: expected tmpfs or none/],
    ['root=live:http://s/i rd.diskless.sha256=abc', /rd\.diskless\.sha256 must be 64 hex digits/],
    [`root=live:http://s/i rd.diskless.sha256=${'g'.repeat(64)}`, /rd\.diskless\.sha256 must be 64 hex digits/],
  ];
  for (const [line, want] of cases) {
    writeFileSync(join(dir, 'cmdline'), `${line}\n`);
    const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/cmdline.sh"; parse_cmdline; if check_cmdline; then echo OK; else echo "ERR $DL_CAUSE"; fi`, { DL_CMDLINE_FILE: join(dir, 'cmdline') });
    if (want) assert.match(r.out, new RegExp(`^ERR .*${want.source}`), line);
    else assert.equal(r.out.trim(), 'OK', line);
  }
});

test('no root= on the command line: the root path of the lease (DHCP option 17) in nfsroot or root= form, values kept as data', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-rootpath-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string, string | RegExp]> = [
    ['10.0.0.5:/srv/root', 'nfs nfs:10.0.0.5:/srv/root'],
    ['/srv/root', 'nfs nfs:10.0.0.1:/srv/root'],
    ['10.0.0.5:/srv/root,vers=4,proto=tcp', 'nfs nfs:10.0.0.5:/srv/root:vers=4,proto=tcp'],
    ['nfs4:10.0.0.5:/exports/debian', 'nfs nfs4:10.0.0.5:/exports/debian'],
    ['live:http://10.0.0.1/images/a.sqfs', 'live live:http://10.0.0.1/images/a.sqfs'],
    ['', /no root= on the kernel command line and no root path \(DHCP option 17\)/],
    ['srv-root', /expected \[SERVER:\]\/PATH\[,OPTIONS\]/],
    ['$(touch PWNED1):/x', 'nfs nfs:$(touch PWNED1):/x'],
    ['`touch PWNED2`', /expected \[SERVER:\]\/PATH/],
  ];
  for (const [rootpath, want] of cases) {
    const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/cmdline.sh"; . "$DL_LIB/root.sh"
      NET_ROOTPATH=$RP NET_SERVERID=10.0.0.1
      if root_from_dhcp; then printf '%s %s\\n' "$DL_ROOT_KIND" "$DL_ROOT"; else echo "ERR $DL_CAUSE"; fi`, { RP: rootpath });
    if (typeof want === 'string') assert.equal(r.out.trim(), want, rootpath);
    else assert.match(r.out, new RegExp(`^ERR .*${want.source}`), rootpath);
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('PWNED')), []);
});

test('NFS roots: nfs4: mounts v4, nfs: v3 unless its options name a version; the server must be an address', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-nfs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string, string | RegExp]> = [
    ['nfs:10.0.0.5:/srv/root', '-t nfs -o ro,nolock,vers=3,addr=10.0.0.5 10.0.0.5:/srv/root'],
    ['nfs4:10.0.0.5:/images/lab/0123456789abcdef', '-t nfs4 -o ro,nolock,vers=4,addr=10.0.0.5,clientaddr=10.0.0.42 10.0.0.5:/images/lab/0123456789abcdef'],
    ['nfs:10.0.0.5:/srv/root:vers=3', '-t nfs -o ro,nolock,addr=10.0.0.5,vers=3 10.0.0.5:/srv/root'],
    ['nfs:10.0.0.5:/srv/root:nfsvers=4.1,proto=tcp', '-t nfs4 -o ro,nolock,addr=10.0.0.5,clientaddr=10.0.0.42,nfsvers=4.1,proto=tcp 10.0.0.5:/srv/root'],
    ['nfs:filer.example:/srv/root', /the NFS server must be an IPv4 address/],
  ];
  for (const [root, want] of cases) {
    const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/cmdline.sh"; . "$DL_LIB/root.sh"
      modprobe() { :; }
      mount() { printf '%s ' "$@" > "$PWD/mount-args"; }
      DL_ROOT=$ROOT NET_IP=10.0.0.42 DL_LOWER=$PWD/lower
      if attach_nfs; then sed 's/ [^ ]*lower $//' mount-args; else echo "ERR $DL_CAUSE"; fi`, { ROOT: root });
    if (typeof want === 'string') assert.equal(r.out.trim(), want, root);
    else assert.match(r.out, new RegExp(`^ERR .*${want.source}`), root);
  }
});

test('local disk: matched by path, model glob, size range and by-id glob (virtio, NVMe, ATA), globs kept as patterns', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-disk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sys = join(dir, 'sys');
  const disk = (name: string, sectors: number, attrs: Record<string, string | Buffer>) => {
    mkdirSync(join(sys, 'block', name, 'device'), { recursive: true });
    writeFileSync(join(sys, 'block', name, 'size'), `${sectors}\n`);
    for (const [k, v] of Object.entries(attrs)) writeFileSync(join(sys, 'block', name, k), v);
  };
  disk('vda', 2 * 1024 * 1024 * 10, { serial: 'dlscratch' }); // 10 GiB
  disk('nvme0n1', 2 * 1024 * 1024 * 512, { 'device/model': 'Samsung SSD 980 PRO 1TB                 \n', 'device/serial': '  S5GXNF0R123456  \n' });
  disk('sda', 2 * 1024 * 1024 * 100, { 'device/model': 'QEMU HARDDISK   \n', 'device/vendor': 'ATA     \n', 'device/vpd_pg80': Buffer.concat([Buffer.from([0, 0x80, 0, 8]), Buffer.from('QM00001 ')]) });
  mkdirSync(join(sys, 'block', 'loop0'), { recursive: true });
  mkdirSync(join(sys, 'block', 'nbd0', 'device'), { recursive: true });
  const GiB = 2 ** 30;
  const cases: Array<[Record<string, string>, string]> = [
    [{ DL_DISK_PATH: '/dev/sda' }, 'sda'],
    [{ DL_DISK_MODEL: 'Samsung?SSD*' }, 'nvme0n1'],
    [{ DL_DISK_ID: 'virtio-dlscr*' }, 'vda'],
    [{ DL_DISK_ID: 'nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R123456' }, 'nvme0n1'],
    [{ DL_DISK_ID: 'ata-QEMU_HARDDISK_QM00001' }, 'sda'],
    [{ DL_DISK_SIZE: `${50 * GiB}-${200 * GiB}` }, 'sda'],
    [{ DL_DISK_SIZE: `${200 * GiB}-` }, 'nvme0n1'],
    [{ DL_DISK_SIZE: `-${20 * GiB}`, DL_DISK_ID: 'virtio-*' }, 'vda'],
    [{ DL_DISK_SIZE: `-${20 * GiB}`, DL_DISK_ID: 'ata-*' }, ''],
    [{ DL_DISK_MODEL: '$(touch PWNED1)' }, ''],
    [{ DL_DISK_ID: '*' }, 'nvme0n1 sda vda'],
  ];
  for (const [env, want] of cases) {
    const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/disk.sh"
      for n in $(disk_candidates); do disk_matches "$n" && printf '%s ' "$n"; done`, { DL_SYSFS: sys, DL_MNT: join(dir, 'mnt'), ...env });
    assert.equal(r.out.trim(), want, JSON.stringify(env));
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('PWNED')), []);
});

test('regression: a blank disk is formatted ext4 by the shell the initrd runs (busybox sh runs its ext2-only mke2fs applet before any mke2fs on PATH)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-disk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const img = join(dir, 'blank.img');
  execFileSync('truncate', ['-s', '64M', img]);
  const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/disk.sh"; disk_format "$IMG" && echo formatted`, { IMG: img });
  assert.match(r.out, /formatted/, readFileSync(join(dir, 'log'), 'utf8'));
  const probe = execFileSync('blkid', ['-c', '/dev/null', '-o', 'export', img], { encoding: 'utf8' });
  assert.match(probe, /^TYPE=ext4$/m);
  assert.match(probe, /^LABEL=diskless$/m);
});

test('the host tools the initrd carries are called by names busybox has no applet for (busybox sh would run the applet instead)', async () => {
  const applets = new Set((await busyboxApplets(BUSYBOX)).map((a) => a.split('/').at(-1)));
  for (const tool of HOST_TOOLS) assert.ok(!applets.has(tool.split('/').at(-1)), `${tool} is shadowed by a busybox applet`);
  // What disk.sh runs to format is one of them.
  assert.match(readFileSync(join(LIB, 'disk.sh'), 'utf8'), /^\s*mkfs\.ext4 /m);
  assert.ok(HOST_TOOLS.includes('/sbin/mkfs.ext4'));
});

test('local disk: a disk that will not format is tried once, the node runs from RAM and says which disk failed (not "foreign data")', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-disk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sys = join(dir, 'sys');
  for (const [name, serial] of [['vda', 'dlforeign'], ['vdb', 'dlscratch']]) {
    mkdirSync(join(sys, 'block', name!, 'device'), { recursive: true });
    writeFileSync(join(sys, 'block', name!, 'serial'), serial!);
  }
  // The kernel's part is played by functions (busybox sh runs functions first), e2fsprogs' by
  // a mkfs.ext4 first on PATH (a name busybox has no applet for).
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'mkfs.ext4'), `#!/bin/busybox sh\necho "format $*" >> "${dir}/formats"\necho "mkfs.ext4: no space left" >> "$DL_LOG"\nexit 1\n`, { mode: 0o755 });
  const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/disk.sh"
    modprobe() { return 0; }; load_new_drivers() { return 0; }
    disk_probe() { DISK_TYPE="" DISK_LABEL="" DISK_PTTYPE=""; [ "$1" = /dev/vda ] && DISK_TYPE=ext4 DISK_LABEL=sitedata; return 0; }
    PATH="$FAKE_BIN:$PATH"; attach_disk; echo "state=$DL_DISK_STATE why=$DL_DISK_WHY"; echo "$(disk_detail)"`, { DL_SYSFS: sys, DL_MNT: join(dir, 'mnt'), DL_DISK_ID: 'virtio-dl*', DL_DISK_WAIT: '1', FAKE_BIN: join(dir, 'bin') });
  assert.match(r.out, /^state=failed why=cannot format or mount vdb; foreign data on vda$/m, r.out + r.err);
  assert.match(r.out, /^disk=failed ram_only=1$/m);
  assert.equal(readFileSync(join(dir, 'formats'), 'utf8'), 'format -q -F -L diskless /dev/vdb\n', 'formatted once, only the blank disk');
  const console = readFileSync(join(dir, 'console'), 'utf8');
  assert.match(console, /cannot format \/dev\/vdb: mkfs\.ext4: no space left/);
  assert.equal(console.match(/disk \/dev\/vda matches but carries ext4 labelled sitedata, not ours: left alone/g)?.length, 1, console);
});

test('local disk: persist and scratch targets must stay inside the new root (no .., no symlink on the way)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-disk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'newroot', 'etc', 'ssh'), { recursive: true });
  execFileSync('ln', ['-s', '/run/initramfs', join(dir, 'newroot', 'var')]);
  for (const [p, ok] of [['/etc/ssh', true], ['/srv/new/dir', true], ['/var/lib/docker', false], ['/etc/../run', false], ['etc/ssh', false], ['/etc/./ssh', false]] as const) {
    const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/disk.sh"; disk_safe_target "$P" && echo yes || echo no`, { DL_NEWROOT: join(dir, 'newroot'), DL_MNT: join(dir, 'mnt'), P: p });
    assert.equal(r.out.trim(), ok ? 'yes' : 'no', p);
  }
});

test('bond members named by MAC or name glob, the boot NIC first, each once; networkd gets the bond, its members and the VLAN as /init made them', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-bond-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sys = join(dir, 'sys');
  for (const [n, mac] of [['eth0', '52:54:00:00:00:0a'], ['eth1', '52:54:00:00:00:0b'], ['eth2', '52:54:00:00:00:0c'], ['lo', '00:00:00:00:00:00']]) {
    mkdirSync(join(sys, 'class', 'net', n!), { recursive: true });
    writeFileSync(join(sys, 'class', 'net', n!, 'address'), `${mac}\n`);
  }
  const slaves = (list: string, boot: string) => sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/network.sh"; DL_IFACE=$BOOT; bond_slaves | tr '\\n' ' '`, { DL_SYSFS: sys, DL_BOND_SLAVES: list, BOOT: boot }).out.trim();
  assert.equal(slaves('52-54-00-00-00-0b,52-54-00-00-00-0a', 'eth0'), 'eth0 eth1');
  assert.equal(slaves('eth*', 'eth1'), 'eth1 eth0 eth2');
  assert.equal(slaves('eth[02],52-54-00-00-00-0c', 'eth2'), 'eth2 eth0');
  assert.equal(slaves('$(touch PWNED1),52-54-00-00-00-ff', 'eth0'), '');

  const run = join(dir, 'run');
  const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/network.sh"
    DL_RUN=$PWD/run DL_BOND=active-backup DL_BOND_MEMBERS="eth0 eth1" DL_BOND_ARP_TARGET=10.77.0.1 DL_VLAN=20 DL_VLAN_PARENT=bond0 NET_IFACE=bond0.20
    hand_over_stack; cd run/systemd/network && for f in *; do echo "== $f"; cat "$f"; done`, { DL_SYSFS: sys });
  void run;
  assert.match(r.out, /== 10-diskless-bond0\.netdev\n[^=]*\[NetDev\]\nName=bond0\nKind=bond\n\[Bond\]\nMode=active-backup\nARPIntervalSec=1s\nARPIPTargets=10\.77\.0\.1\n/);
  assert.match(r.out, /== 10-diskless-eth1\.network\n[^=]*\[Match\]\nPermanentMACAddress=52:54:00:00:00:0b\n\[Network\]\nBond=bond0\n/);
  assert.match(r.out, /== 10-diskless-bond0\.20\.netdev\n[^=]*\[NetDev\]\nName=bond0\.20\nKind=vlan\n\[VLAN\]\nId=20\n/);
  assert.match(r.out, /== 10-diskless-bond0\.network\n\[Match\]\nName=bond0\n\[Network\]\nVLAN=bond0\.20\n/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('PWNED')), []);
});

test('shquote and urlencode round-trip hostile strings', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-quote-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const v of [...HOSTILE, "it's", 'a b\tc', 'line1\nline2', '']) {
    const r = sh(dir, `. "$DL_LIB/common.sh"; printf 'X=%s\\n' "$(shquote "$V")" > q; . ./q; printf '%s' "$X"; printf '|%s' "$(urlencode "$V")"`, { V: v });
    const [back, enc] = r.out.split('|');
    assert.equal(back, v.replace(/\n+$/, ''), JSON.stringify(v));
    assert.equal(decodeURIComponent(enc ?? ''), v.replace(/\n+$/, ''));
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('PWNED')), []);
});

test('udhcpc hook configures the interface and stores hostile DHCP values as data', { skip: process.getuid?.() !== 0 ? 'needs root for a network namespace' : false }, (t) => {
  assert.equal(process.getuid?.(), 0);
  const dir = mkdtempSync(join(tmpdir(), 'dl-udhcpc-'));
  const ns = `dl-sh-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });
  execFileSync('ip', ['-n', ns, 'link', 'add', 'dl0', 'type', 'veth', 'peer', 'name', 'dl1']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'dl1', 'up']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'dl0', 'up']);
  const hostname = `$(touch PWNED1)';touch PWNED2;'\`touch PWNED3\``;
  const env = {
    interface: 'dl0', ip: '10.9.0.5', mask: '24', subnet: '255.255.255.0', router: '10.9.0.1 10.9.0.9',
    dns: '10.9.0.1 10.9.0.2', hostname, domain: 'a;touch PWNED4', rootpath: '"$(touch PWNED5)"', serverid: '10.9.0.1', lease: '3600',
  };
  const r = spawnSync('ip', ['netns', 'exec', ns, BUSYBOX, 'sh', join(LIB, 'udhcpc.script'), 'bound'], {
    cwd: dir,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DL_LIB: LIB, DL_LOG: join(dir, 'log'), DL_CONSOLE: join(dir, 'console'), DL_NET_DIR: dir, ...env },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const addr = execFileSync('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dl0'], { encoding: 'utf8' });
  assert.match(addr, /inet 10\.9\.0\.5\/24/);
  assert.match(execFileSync('ip', ['-n', ns, 'route'], { encoding: 'utf8' }), /default via 10\.9\.0\.1 dev dl0/);
  const back = sh(dir, `. ./lease.env; printf '%s|' "$NET_IP" "$NET_PREFIX" "$NET_ROUTER" "$NET_DNS" "$NET_HOSTNAME" "$NET_DOMAIN" "$NET_ROOTPATH"`);
  assert.deepEqual(back.out.split('|').slice(0, 7), ['10.9.0.5', '24', '10.9.0.1', '10.9.0.1 10.9.0.2', hostname, 'a;touch PWNED4', '"$(touch PWNED5)"']);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('PWNED')), []);
  assert.match(readFileSync(join(dir, 'lease.env'), 'utf8'), /^NET_SOURCE='dhcp'$/m);
});

interface Handoff {
  status: string;
  console: string;
  hosts: string;
  resolv: string;
  networkd: string;
  /** The udev .link file for the boot interface. */
  link: string;
  netConf: Record<string, string>;
  hostnameSet: string;
  pwned: string[];
  /** Units the handoff left in the new root's /etc/systemd/system, and what they want. */
  units: string[];
  /** What the stage reports (DL_STAGE_DETAIL). */
  detail: string;
  /** The NetworkManager connection in /run, and its mode. */
  nm: string;
  nmMode: number | undefined;
  ifupdown: string;
  /** Files under /run/diskless the real system gets (the lease keeper, busybox). */
  carried: string[];
  /** NetworkManager's /run configuration and the device state files it reads at start. */
  nmConf: string;
  /** Every file in /run/systemd/network, by name. */
  runNetwork: Record<string, string>;
  /** Every keyfile in /run/NetworkManager/system-connections, by name. */
  nmFiles: Record<string, string>;
  nmDevices: Record<string, string>;
  /** lease.env as the handoff left it. */
  leaseEnv: string;
}

/** How runHandoff runs: shell run after the lease is read back (an older lease, say), a network namespace. */
interface HandoffRun {
  after?: string;
  netns?: string;
  /** DL_SYSFS: a test tree of /sys/class/net. */
  sysfs?: string;
}

/**
 * The handoff stage against a test tree: a lease written and read back the way the network
 * stage does, then `handoff`, whose files for the real system are returned. `hostname` is a
 * shell function here (busybox sh runs functions before its applets): the test machine keeps
 * its name.
 */
function runHandoff(lease: { host?: string; domain?: string; router?: string; dns?: string; serverid?: string; rootpath?: string; source?: 'dhcp' | 'static' }, prepare: (newroot: string) => void = () => {}, network = '', how: HandoffRun = {}): Handoff {
  const dir = mkdtempSync(join(tmpdir(), 'dl-handoff-'));
  try {
    const newroot = join(dir, 'newroot');
    const kernel = execFileSync(BUSYBOX, ['uname', '-r'], { encoding: 'utf8' }).trim();
    for (const d of ['sbin', 'etc/network', `lib/modules/${kernel}`]) mkdirSync(join(newroot, d), { recursive: true });
    writeFileSync(join(newroot, 'sbin/init'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(newroot, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tbuilder\n');
    mkdirSync(join(dir, 'net'));
    mkdirSync(join(dir, 'run')); // /init mounts it first thing
    prepare(newroot);
    const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/network.sh"; . "$DL_LIB/handoff.sh"
      hostname() { printf '%s' "$1" > hostname.set; }
      DL_IFACE=dl0 DL_MAC=52:54:00:00:00:05
      ${network}
      write_lease_env "$L_SOURCE" 10.9.0.5 24 255.255.255.0 "$L_ROUTER" "$L_DNS" "$L_HOST" "$L_DOMAIN" "$L_ROOTPATH" "$L_SERVERID" 3600
      . "$DL_NET_DIR/lease.env"
      ${how.after ?? ''}
      if handoff; then printf '%s\n' "$DL_STAGE_DETAIL" > detail; echo HANDOFF-OK; else echo "HANDOFF-FAILED $DL_CAUSE"; fi`, {
      DL_NET_DIR: join(dir, 'net'), DL_NEWROOT: newroot, DL_RUN: join(dir, 'run'), DL_INIT: '/sbin/init',
      L_HOST: lease.host ?? 'n1', L_DOMAIN: lease.domain ?? 'lab.test', L_ROUTER: lease.router ?? '10.9.0.1',
      L_DNS: lease.dns ?? '10.9.0.1 10.9.0.2', L_SERVERID: lease.serverid ?? '10.9.0.1', L_ROOTPATH: lease.rootpath ?? '', L_SOURCE: lease.source ?? 'dhcp',
      ...(how.sysfs ? { DL_SYSFS: how.sysfs } : {}),
    }, how.netns);
    const nmFile = join(dir, 'run/NetworkManager/system-connections/diskless-dl0.nmconnection');
    const read = (f: string) => { try { return readFileSync(f, 'utf8'); } catch { return ''; } };
    const netConf = sh(dir, `. "$F"; printf '%s\\0' "IPV4GATEWAY=$IPV4GATEWAY" "IPV4DNS0=$IPV4DNS0" "HOSTNAME=$HOSTNAME" "DNSDOMAIN=$DNSDOMAIN" "ROOTSERVER=$ROOTSERVER"`, { F: join(dir, 'run/net-dl0.conf') }).out;
    return {
      status: (r.out.trim() || r.err).split('\n').at(-1)!,
      console: read(join(dir, 'console')),
      hosts: read(join(newroot, 'etc/hosts')),
      resolv: read(join(newroot, 'etc/resolv.conf')),
      networkd: read(join(dir, 'run/systemd/network/10-diskless-dl0.network')),
      link: read(join(dir, 'run/systemd/network/00-diskless-dl0.link')),
      netConf: Object.fromEntries(netConf.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
      hostnameSet: read(join(dir, 'hostname.set')),
      pwned: [...readdirSync(dir), ...readdirSync(join(newroot, 'etc'))].filter((f) => f.startsWith('PWNED')),
      units: (() => { try { return readdirSync(join(newroot, 'etc/systemd/system'), { recursive: true }).map(String).sort(); } catch { return []; } })(),
      detail: read(join(dir, 'detail')).trim(),
      nm: read(nmFile),
      nmMode: (() => { try { return statSync(nmFile).mode & 0o777; } catch { return undefined; } })(),
      ifupdown: read(join(newroot, 'etc/network/interfaces.d/diskless-dl0')),
      carried: (() => { try { return readdirSync(join(dir, 'run/diskless'), { recursive: true }).map(String).sort(); } catch { return []; } })(),
      nmConf: read(join(dir, 'run/NetworkManager/conf.d/90-diskless.conf')),
      runNetwork: (() => { try { return Object.fromEntries(readdirSync(join(dir, 'run/systemd/network')).map((f) => [f, read(join(dir, 'run/systemd/network', f))])); } catch { return {}; } })(),
      nmFiles: (() => { try { return Object.fromEntries(readdirSync(join(dir, 'run/NetworkManager/system-connections')).map((f) => [f, read(join(dir, 'run/NetworkManager/system-connections', f))])); } catch { return {}; } })(),
      nmDevices: (() => { try { return Object.fromEntries(readdirSync(join(dir, 'run/NetworkManager/devices')).map((f) => [f, read(join(dir, 'run/NetworkManager/devices', f))])); } catch { return {}; } })(),
      leaseEnv: read(join(dir, 'net/lease.env')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('regression: a bad domain from DHCP (option 15) is ignored with a log line; it never adds a hosts entry or a resolver setting, and the boot goes on', () => {
  // A good lease, for comparison: everything lands where the real system reads it.
  const h = runHandoff({});
  assert.equal(h.status, 'HANDOFF-OK', h.console);
  assert.equal(h.hosts, '127.0.0.1\tlocalhost\n127.0.1.1\tn1.lab.test n1\n');
  assert.equal(h.resolv, 'search lab.test\nnameserver 10.9.0.1\nnameserver 10.9.0.2\n');
  assert.match(h.networkd, /^Gateway=10\.9\.0\.1$/m);
  assert.deepEqual(h.netConf, { IPV4GATEWAY: '10.9.0.1', IPV4DNS0: '10.9.0.1', HOSTNAME: 'n1', DNSDOMAIN: 'lab.test', ROOTSERVER: '10.9.0.1' });
  assert.equal(h.hostnameSet, 'n1');
  assert.doesNotMatch(h.console, /ignoring/);

  const bad = ['lab.test\n10.6.6.6 server.lab.test server', 'lab.test\noptions ndots:15', '$(touch PWNED1)', 'a;touch PWNED2', '`touch PWNED3`', '-lab.test', 'lab-.test', 'lab..test', '.lab.test', 'lab.test.', 'lab test', 'lab_test', 'lab.test\r', `${'a'.repeat(64)}.test`, `${'a.'.repeat(127)}ab`];
  for (const domain of bad) {
    const h = runHandoff({ domain });
    const what = JSON.stringify(domain);
    assert.equal(h.status, 'HANDOFF-OK', what);
    assert.match(h.console, /^diskless: ignoring the domain name from DHCP: not a valid domain name$/m, what);
    assert.equal(h.hosts, '127.0.0.1\tlocalhost\n127.0.1.1\tn1\n', what);
    assert.equal(h.resolv, 'nameserver 10.9.0.1\nnameserver 10.9.0.2\n', what);
    assert.equal(h.netConf.DNSDOMAIN, '', what);
    assert.equal(h.hostnameSet, 'n1', what);
    assert.deepEqual(h.pwned, [], what);
  }
});

test('regression: DNS servers, router and server id from DHCP reach files only as IPv4 addresses; the rest is left out with a log line', () => {
  const dns = runHandoff({ dns: '10.9.0.1 999.1.1.1 x;y 1.2.3 10.9.0.2\noptions ndots:15 $(touch${IFS}PWNED4)' });
  assert.equal(dns.status, 'HANDOFF-OK');
  assert.equal(dns.resolv, 'search lab.test\nnameserver 10.9.0.1\nnameserver 10.9.0.2\n');
  assert.equal(dns.netConf.IPV4DNS0, '10.9.0.1');
  assert.match(dns.console, /^diskless: ignoring a DNS server from DHCP: not an IPv4 address$/m);
  const none = runHandoff({ dns: 'x;1.2.3.4 999.0.0.1 1.2.3.4.5' });
  assert.equal(none.resolv, '', 'no valid server: resolv.conf is not written');
  assert.equal(none.netConf.IPV4DNS0, '');

  const router = runHandoff({ router: '10.9.0.1\nDNS=6.6.6.6' });
  assert.equal(router.status, 'HANDOFF-OK');
  assert.doesNotMatch(router.networkd, /^(Gateway|DNS)=/m);
  assert.equal(router.netConf.IPV4GATEWAY, '');
  assert.match(router.console, /^diskless: ignoring the router from DHCP: not an IPv4 address$/m);
  assert.equal(runHandoff({ router: '10.9.0.256' }).netConf.IPV4GATEWAY, '');

  const server = runHandoff({ serverid: '10.9.0.1\nPROTO=none' });
  assert.equal(server.netConf.ROOTSERVER, '');
  assert.match(server.console, /^diskless: ignoring the server id from DHCP: not an IPv4 address$/m);

  const host = runHandoff({ host: 'n1\n10.6.6.6 evil' });
  assert.equal(host.hosts, '127.0.0.1\tlocalhost\n127.0.1.1\tbuilder\n', 'a bad name is not written: the image keeps its own line');
  assert.equal(host.hostnameSet, '');
  assert.equal(host.netConf.HOSTNAME, '');
  assert.deepEqual([dns, none, router, server, host].flatMap((h) => h.pwned), []);
});

test('reports the server missed are kept and sent in order once it answers again', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-report-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A stand-in for the HTTP post: "down" while the file DOWN exists, recording what it sent.
  const r = sh(dir, `. "$DL_LIB/common.sh"
    send_report() { [ -e DOWN ] && return 1; printf '%s\\n' "$1" | sed 's/&uptime_ms=.*//' >> sent; }
    DL_SERVER=http://s DL_NET_UP=1 DL_MAC=52:54:00:00:00:01
    report network ok a; touch DOWN; report root retry "b c"; report root retry d; rm DOWN; report root ok e
    cat sent; printf 'left=%s\\n' "$(cat "$DL_UNSENT")"`, { DL_UNSENT: join(dir, 'unsent') });
  assert.equal(r.status, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.deepEqual(lines.slice(0, 4).map((l) => new URLSearchParams(l).get('detail')), ['a', 'b c', 'd', 'e']);
  assert.deepEqual(lines.slice(0, 4).map((l) => new URLSearchParams(l).get('stage')), ['network', 'root', 'root', 'root']);
  assert.equal(lines[4], 'left=');
});

test('regression: cmdline and modules reports made before the network is up are queued and sent once it is', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-report-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The network stage is what learns the MAC, so queued reports must get it when sent.
  const r = sh(dir, `. "$DL_LIB/common.sh"
    send_report() { printf '%s\\n' "$1" >> sent; }
    DL_SERVER=http://s DL_NET_UP= DL_MAC=
    report cmdline ok duration_ms=3; report modules ok duration_ms=900
    [ -e sent ] && echo "sent too early"
    DL_NET_UP=1 DL_MAC=52:54:00:00:00:07; report network ok duration_ms=1500
    cat sent; printf 'left=%s\\n' "$(cat "$DL_UNSENT")"`, { DL_UNSENT: join(dir, 'unsent') });
  assert.equal(r.status, 0, r.err);
  const lines = r.out.trim().split('\n');
  const sent = lines.slice(0, -1).map((l) => new URLSearchParams(l));
  assert.deepEqual(sent.map((p) => [p.get('mac'), p.get('stage'), p.get('status'), p.get('detail')]), [
    ['52:54:00:00:00:07', 'cmdline', 'ok', 'duration_ms=3'],
    ['52:54:00:00:00:07', 'modules', 'ok', 'duration_ms=900'],
    ['52:54:00:00:00:07', 'network', 'ok', 'duration_ms=1500'],
  ]);
  assert.ok(sent.every((p) => /^\d+$/.test(p.get('uptime_ms') ?? '')), 'each report keeps the uptime it was made at');
  assert.equal(lines.at(-1), 'left=');
});

test('node files are unpacked inside the node root: an absolute symlink in the image resolves there, ".." cannot climb out', { skip: process.getuid?.() !== 0 ? 'needs root for chroot' : false }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-unpack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outside = `/dl-unpack-escape-${process.pid}`;
  t.after(() => rmSync(outside, { recursive: true, force: true }));
  // The image keeps its SSH config at an absolute path its /etc/ssh links to.
  const newroot = join(dir, 'newroot');
  execFileSync(BUSYBOX, ['mkdir', '-p', join(newroot, 'etc'), join(newroot, outside)]);
  execFileSync(BUSYBOX, ['ln', '-s', outside, join(newroot, 'etc/ssh')]);
  const stage = join(dir, 'stage');
  execFileSync(BUSYBOX, ['mkdir', '-p', join(stage, 'etc/ssh')]);
  writeFileSync(join(stage, 'etc/ssh/ssh_host_ed25519_key'), 'KEY\n');
  writeFileSync(join(stage, 'etc/hostname'), 'n1\n');
  execFileSync(BUSYBOX, ['sh', '-c', 'find etc/ssh/ssh_host_ed25519_key etc/hostname | cpio -o -H newc > ../files.cpio'], { cwd: stage, stdio: ['ignore', 'ignore', 'pipe'] });
  const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/identity.sh"; unpack_node_files && echo OK`, { DL_FILES: join(dir, 'files.cpio'), DL_NEWROOT: newroot, DL_BUSYBOX: BUSYBOX });
  assert.equal(r.out.trim(), 'OK', r.err + r.out);
  assert.equal(readFileSync(join(newroot, outside, 'ssh_host_ed25519_key'), 'utf8'), 'KEY\n', 'through the image\'s own symlink');
  assert.equal(readFileSync(join(newroot, 'etc/hostname'), 'utf8'), 'n1\n');
  assert.throws(() => readFileSync(join(outside, 'ssh_host_ed25519_key')), /ENOENT/, 'nothing lands outside the node root');
  assert.deepEqual(readdirSync(newroot).sort(), ['dl-unpack-escape-' + process.pid, 'etc'].sort(), 'the borrowed busybox is gone');

  // An archive that names ../ cannot leave the root either.
  writeFileSync(join(dir, 'files.cpio'), execFileSync(BUSYBOX, ['sh', '-c', 'mkdir -p a && echo X > a/x && find a/../a/x | cpio -o -H newc'], { cwd: stage }));
  const climb = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/identity.sh"; unpack_node_files; echo "rc=$?"`, { DL_FILES: join(dir, 'files.cpio'), DL_NEWROOT: newroot, DL_BUSYBOX: BUSYBOX });
  assert.match(climb.out, /rc=\d/);
  assert.deepEqual(readdirSync(dir).sort(), ['files.cpio', 'newroot', 'stage'], 'nothing written beside the node root');
});

/**
 * A fake sysfs whose devices appear as drivers load, in the order a real machine shows them: an
 * e1000 NIC at once; an xHCI controller whose driver, once loaded, enumerates a USB NIC only
 * after USB_DELAY seconds (a hub takes 1-3 s on real hardware); that NIC's driver then
 * registers usb0. The fake modprobe plays the kernel's part; it is called through a shell
 * function because busybox sh runs its own applets before anything on PATH.
 */
function fakeMachine(dir: string, usbDelay: string): Record<string, string> {
  const sys = join(dir, 'sys');
  const bin = join(dir, 'bin');
  for (const d of ['bus/pci/devices/0000:00:02.0', 'bus/pci/devices/0000:00:03.0', 'class/net/lo']) mkdirSync(join(sys, d), { recursive: true });
  writeFileSync(join(sys, 'bus/pci/devices/0000:00:02.0/modalias'), 'pci:e1000\n');
  writeFileSync(join(sys, 'bus/pci/devices/0000:00:03.0/modalias'), 'pci:xhci\n');
  mkdirSync(bin);
  writeFileSync(join(bin, 'modprobe'), `#!/bin/busybox sh
[ "$1" = -q ] && shift
echo "$1" >> "${dir}/modprobed"
case "$1" in
  pci:e1000) mkdir -p "${sys}/class/net/eth0"; echo 52:54:00:00:00:01 > "${sys}/class/net/eth0/address" ;;
  pci:xhci) (sleep "$USB_DELAY"; mkdir -p "${sys}/bus/usb/devices/1-1"; echo usb:cdc > "${sys}/bus/usb/devices/1-1/modalias") & ;;
  usb:cdc) mkdir -p "${sys}/class/net/usb0"; echo 52:54:00:00:00:09 > "${sys}/class/net/usb0/address" ;;
esac
exit 0
`, { mode: 0o755 });
  return { DL_SYSFS: sys, DL_SEEN_ALIASES: join(dir, 'seen'), USB_DELAY: usbDelay, FAKE_MODPROBE: join(bin, 'modprobe') };
}

const COLDPLUG = `modprobe() { "$FAKE_MODPROBE" "$@"; }
  . "$DL_LIB/common.sh"; . "$DL_LIB/cmdline.sh"; . "$DL_LIB/coldplug.sh"; . "$DL_LIB/network.sh"; parse_cmdline
  if coldplug; then echo "OK $DL_STAGE_DETAIL"; else echo "ERR $DL_CAUSE"; fi; ls "$DL_SYSFS/class/net" | tr '\\n' ' '`;

test('regression: coldplug waits for a USB NIC that enumerates after the buses fall quiet (no BOOTIF: settle period)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-coldplug-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cmdline'), 'root=live:http://s/i\n');
  // The USB NIC shows up 0.5 s after its controller's driver loads: well past the 0.2 s pause
  // coldplug used to stop at, well inside the 3 s default settle period.
  const r = sh(dir, COLDPLUG, { DL_CMDLINE_FILE: join(dir, 'cmdline'), ...fakeMachine(dir, '0.5') });
  assert.match(r.out, /^OK waited_ms=\d+ settle_s=3 outcome=settled rounds=\d+\n/, r.out + r.err);
  assert.equal(r.out.split('\n')[1]?.trim(), 'eth0 lo usb0');
  assert.deepEqual(readFileSync(join(dir, 'modprobed'), 'utf8').split('\n').filter(Boolean).sort(), ['af_packet', 'pci:e1000', 'pci:xhci', 'usb:cdc'], 'each alias loaded once, then af_packet for udhcpc');
});

test('coldplug with BOOTIF waits until that interface exists, not for a quiet moment; the report says for what and how long', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-coldplug-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // rd.diskless.settle=0 would end a settle-based wait at the first quiet look: only the BOOTIF
  // condition can keep coldplug going for the 2 s the USB NIC takes here.
  writeFileSync(join(dir, 'cmdline'), 'root=live:http://s/i BOOTIF=01-52-54-00-00-00-09 rd.diskless.settle=0\n');
  const r = sh(dir, COLDPLUG, { DL_CMDLINE_FILE: join(dir, 'cmdline'), ...fakeMachine(dir, '2') });
  const m = /^OK waited_ms=(\d+) boot_mac=52:54:00:00:00:09 outcome=found rounds=\d+\n/.exec(r.out);
  assert.ok(m, r.out + r.err);
  assert.ok(Number(m[1]) >= 2000, `waited ${m[1]} ms: at least the 2 s the NIC took to appear`);
  assert.match(r.out, /usb0/);
});

test('coldplug gives up after rd.diskless.netwait when the BOOTIF interface never appears, naming what it has', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-coldplug-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cmdline'), 'root=live:http://s/i BOOTIF=01-52-54-00-aa-bb-cc rd.diskless.netwait=1\n');
  const r = sh(dir, COLDPLUG, { DL_CMDLINE_FILE: join(dir, 'cmdline'), ...fakeMachine(dir, '0') });
  assert.match(r.out, /^ERR the boot interface \(mac 52:54:00:aa:bb:cc\) did not appear within rd\.diskless\.netwait=1 s \(interfaces: eth0 usb0; MACs: 52:54:00:00:00:01 52:54:00:00:00:09\)/, r.out + r.err);
});

test('regression: the root stage reports a duration that includes its retries (attach_live times its download without touching run_stage\'s clock)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-stage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The real root stage for a live root, with the kernel's and the network's parts played by
  // shell functions: the first download fails, so attach_root_with_retry pauses 2 s and tries
  // again; the second download succeeds and attach_live times it with its own clock.
  const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/root.sh"
    DL_MNT=$PWD/mnt DL_LOWER=$PWD/mnt/lower DL_IMAGE_DIR=$PWD/mnt/image
    modprobe() { :; }; mount() { :; }; umount() { return 1; }
    wget() { if [ ! -e tried ]; then : > tried; return 1; fi; printf 'image' > "$3"; }
    send_report() { printf '%s\\n' "$1" >> sent; }
    DL_SERVER=http://s DL_NET_UP=1 DL_MAC=52:54:00:00:00:01 DL_ROOT_KIND=live DL_ROOT_URL=http://s/i.sqfs DL_RETRY=60
    run_stage root attach_root_with_retry
    cat sent`, { DL_UNSENT: join(dir, 'unsent') });
  assert.equal(r.status, 0, r.err);
  const reports = r.out.trim().split('\n').map((l) => new URLSearchParams(l));
  assert.deepEqual(reports.map((p) => [p.get('stage'), p.get('status')]), [['root', 'retry'], ['fetched', 'ok'], ['root', 'ok']]);
  const stage = /^duration_ms=(\d+)$/.exec(reports[2]!.get('detail') ?? '');
  assert.ok(stage, reports[2]!.get('detail') ?? '');
  // /proc/uptime counts in 10 ms steps, so a 2 s pause reads as no less than 1990 ms.
  assert.ok(Number(stage[1]) >= 1990, `the root stage reported ${stage[1]} ms: it must cover the 2 s pause before the second attempt`);
});

test('every function of the node-side shell declares the variables it sets local (busybox sh scopes names dynamically: a name a function sets without `local` is its caller\'s too)', () => {
  // Working variables are named _x; the DL_* and NET_* globals are what stages hand on.
  const leaks = new Set<string>();
  for (const file of readdirSync(LIB).filter((f) => f.endsWith('.sh')).sort()) {
    let fn: string | null = null;
    let locals = new Set<string>();
    for (const line of readFileSync(join(LIB, file), 'utf8').split('\n')) {
      const start = /^([a-z_]+)\(\) \{/.exec(line);
      if (start) { fn = start[1]!; locals = new Set(); continue; }
      if (line === '}') { fn = null; continue; }
      if (fn === null) continue;
      const declared = /^\s*local (.*)$/.exec(line);
      if (declared) { for (const name of declared[1]!.trim().split(/\s+/)) locals.add(name.split('=')[0]!); continue; }
      for (const m of line.matchAll(/(?:^|[\s;(|&{])(_[a-z0-9_]+)=|\bfor (_[a-z0-9_]+) in\b|\bread (?:-r )?(_[a-z0-9_]+)/g)) {
        const name = m[1] ?? m[2] ?? m[3]!;
        if (!locals.has(name)) leaks.add(`${file}: ${fn}() sets ${name} without declaring it local`);
      }
    }
  }
  assert.deepEqual([...leaks], []);
});

test('a node the server gave no SSH host keys gets a unit that makes its own before sshd starts; one with keys does not', () => {
  const withSystemd = (newroot: string) => {
    mkdirSync(join(newroot, 'etc/systemd/system'), { recursive: true });
    mkdirSync(join(newroot, 'usr/bin'), { recursive: true });
    mkdirSync(join(newroot, 'etc/ssh'), { recursive: true });
    writeFileSync(join(newroot, 'usr/bin/ssh-keygen'), '#!/bin/sh\n', { mode: 0o755 });
  };
  const none = runHandoff({}, withSystemd);
  assert.equal(none.status, 'HANDOFF-OK', none.console);
  assert.deepEqual(none.units.filter((u) => u.includes('ssh')), ['diskless-ssh-host-keys.service', 'multi-user.target.wants/diskless-ssh-host-keys.service']);
  assert.match(none.console, /no SSH host keys from the server/);
  assert.match(none.detail, /(^| )ssh_host_keys=ephemeral( |$)/, 'the timeline says the keys are made for this boot');
  const kept = runHandoff({}, (newroot) => {
    withSystemd(newroot);
    writeFileSync(join(newroot, 'etc/ssh/ssh_host_ed25519_key'), 'from the server\n', { mode: 0o600 });
  });
  assert.deepEqual(kept.units.filter((u) => u.includes('ssh')), [], 'the server\'s keys are kept');
  assert.match(kept.detail, /(^| )ssh_host_keys=kept( |$)/);
  const noSsh = runHandoff({}, (newroot) => mkdirSync(join(newroot, 'etc/systemd/system'), { recursive: true }));
  assert.deepEqual(noSsh.units.filter((u) => u.includes('ssh')), [], 'an image without openssh needs none');
});

test('an NBD root on an initrd without nbd (a Red Hat kernel) fails at once with the cause and the way out, without retrying', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-nonbd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // modprobe finds no nbd, /sys/module has none, modules.builtin does not list it; a stand-in
  // nbd-client (first on PATH) only notes that it ran.
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'nbd-client'), '#!/bin/sh\n: > attached\nexit 1\n', { mode: 0o755 });
  const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/root.sh"
    PATH=$PWD/bin:$PATH
    modprobe() { return 1; }; uname() { echo 5.14.0-503.el9.x86_64; }; mount() { return 1; }; umount() { return 1; }
    DL_MNT=$PWD/mnt DL_LOWER=$PWD/mnt/lower DL_IMAGE_DIR=$PWD/mnt/image
    DL_ROOT_KIND=nbd DL_ROOT=nbd:10.0.0.1:10809/x DL_RETRY=0
    if attach_root_with_retry; then echo attached; else echo "cause: $DL_CAUSE"; fi
    test -e attached && echo nbd-client-ran; true`);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^cause: this initrd has no nbd module \(its kernel 5\.14\.0-503\.el9\.x86_64 has none\): boot this image with root mode live or nfs/m);
  assert.doesNotMatch(r.out, /nbd-client-ran/);
});

/** An image tree that enables systemd unit `unit` the way `systemctl enable` does. */
const enabling = (unit: string, target = 'multi-user.target') => (newroot: string) => {
  mkdirSync(join(newroot, `etc/systemd/system/${target}.wants`), { recursive: true });
  symlinkSync(`/lib/systemd/system/${unit}`, join(newroot, `etc/systemd/system/${target}.wants/${unit}`));
};

test('leases outlive the initramfs: networkd is handed DHCP on the boot interface and told to keep the address, even at shutdown', () => {
  const h = runHandoff({}, enabling('systemd-networkd.service'));
  assert.equal(h.status, 'HANDOFF-OK', h.console);
  assert.equal(h.networkd, [
    '# Written by the Diskless initramfs: this interface carries the root filesystem.',
    '[Match]', 'MACAddress=52:54:00:00:00:05',
    '[Network]', 'Address=10.9.0.5/24', 'Gateway=10.9.0.1', 'DHCP=ipv4', 'KeepConfiguration=yes',
    '[DHCPv4]', 'SendRelease=no', 'ClientIdentifier=mac', 'UseHostname=no', '',
  ].join('\n'));
  assert.match(h.detail, /(^| )network_manager=networkd lease_renewal=networkd( |$)/);
  // udev cannot rename the boot interface (it is up); asked to, systemd 252's udev leaves the
  // link marked as being renamed and networkd never starts its DHCP client on it.
  assert.equal(h.link, [
    '# Written by the Diskless initramfs: this interface carries the root filesystem and',
    '# is up, so it keeps the name it booted with.',
    '[Match]', 'MACAddress=52:54:00:00:00:05', 'OriginalName=dl0',
    '[Link]', 'Name=dl0', 'AlternativeNamesPolicy=database onboard slot path', 'MACAddressPolicy=none', '',
  ].join('\n'));
  assert.equal(h.nm, '');
  assert.deepEqual(h.carried, ['bin', 'bin/busybox', 'lease-keeper.sh'], 'the lease keeper bridges the system\'s start until networkd runs');
  // networkd enabled through its socket only counts too.
  assert.match(runHandoff({}, enabling('systemd-networkd.socket', 'sockets.target')).detail, /lease_renewal=networkd/);
});

test('leases outlive the initramfs on a VLAN boot link: networkd matches the VLAN by name and runs DHCP on it; NetworkManager gets the VLAN (DHCP) over its parent (no address), and renews it', () => {
  const vlan = 'DL_VLAN=20 DL_VLAN_PARENT=eth0';
  const h = runHandoff({}, enabling('systemd-networkd.service'), vlan);
  assert.equal(h.status, 'HANDOFF-OK', h.console);
  assert.match(h.networkd, /^\[Match\]\nName=dl0\n\[Network\]\nAddress=10\.9\.0\.5\/24\nGateway=10\.9\.0\.1\nDHCP=ipv4\nKeepConfiguration=yes\n/m, 'a VLAN shares its MAC with its NIC');
  assert.match(h.detail, /lease_renewal=networkd/);
  const nm = runHandoff({}, enabling('NetworkManager.service'), vlan);
  assert.equal(nm.status, 'HANDOFF-OK', nm.console);
  assert.match(nm.nm, /^\[connection\]\nid=diskless-dl0\nuuid=[0-9a-f-]{36}\ntype=vlan\ninterface-name=dl0\nautoconnect=true\nautoconnect-priority=999\n\[vlan\]\nparent=eth0\nid=20\n\[ipv4\]\nmethod=auto\n/m, 'no Ethernet keyfile keyed by the NIC\'s MAC for a VLAN');
  assert.match(nm.nmFiles['diskless-eth0.nmconnection'] ?? '', /^type=ethernet\ninterface-name=eth0\n[^]*^\[ipv4\]\nmethod=disabled\n\[ipv6\]\nmethod=ignore\n/m, 'the parent, without an address');
  assert.match(nm.nmConf, /^match-device=interface-name:dl0,interface-name:eth0$/m);
  assert.match(nm.detail, /network_manager=NetworkManager lease_renewal=NetworkManager/);
  assert.deepEqual(nm.carried, ['bin', 'bin/busybox', 'lease-keeper.sh'], 'the keeper only bridges the system\'s start');
});

test('leases outlive the initramfs: NetworkManager gets a root-only connection for the boot interface that renews and never gives up; ifupdown is not told about it', () => {
  const h = runHandoff({}, enabling('NetworkManager.service'));
  assert.equal(h.status, 'HANDOFF-OK', h.console);
  assert.equal(h.nmMode, 0o600, 'NetworkManager ignores keyfiles others can read');
  assert.match(h.nm, /^\[connection\]\nid=diskless-dl0\nuuid=[0-9a-f-]{36}\ntype=ethernet\ninterface-name=dl0\nautoconnect=true\n/m);
  assert.match(h.nm, /^\[ethernet\]\nmac-address=52:54:00:00:00:05\n\[ipv4\]\nmethod=auto\ndhcp-client-id=mac\ndhcp-timeout=2147483647\ndhcp-send-release=false\nmay-fail=false\n/m);
  assert.match(h.detail, /network_manager=NetworkManager lease_renewal=NetworkManager/);
  assert.doesNotMatch(h.networkd, /DHCP=/, 'networkd does not run DHCP beside NetworkManager');
  assert.equal(h.ifupdown, '', 'NetworkManager\'s ifupdown plugin would leave an interface listed there unmanaged');
  assert.deepEqual(h.carried, ['bin', 'bin/busybox', 'lease-keeper.sh'], 'the lease keeper bridges the system\'s start until NetworkManager runs');
  const fixed = runHandoff({ source: 'static' }, enabling('NetworkManager.service'));
  assert.match(fixed.nm, /^method=manual\naddress1=10\.9\.0\.5\/24,10\.9\.0\.1$/m);
  assert.match(fixed.detail, /lease_renewal=none/, 'ip= static: no lease to renew');
});

test('leases outlive the initramfs: an image with no network manager (or ifupdown, or networkd masked) gets the lease keeper', () => {
  const none = runHandoff({});
  assert.equal(none.status, 'HANDOFF-OK', none.console);
  assert.match(none.detail, /network_manager=none lease_renewal=keeper/);
  assert.deepEqual(none.carried, ['bin', 'bin/busybox', 'lease-keeper.sh']);
  assert.doesNotMatch(none.networkd, /DHCP=/);
  assert.match(none.networkd, /^KeepConfiguration=yes$/m);
  assert.match(none.ifupdown, /^iface dl0 inet manual$/m, 'ifdown leaves the interface alone');

  const ifupdown = runHandoff({}, (root) => {
    mkdirSync(join(root, 'sbin'), { recursive: true });
    writeFileSync(join(root, 'sbin/ifup'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(root, 'etc/network/interfaces'), 'source /etc/network/interfaces.d/*\n');
  });
  assert.match(ifupdown.detail, /network_manager=ifupdown lease_renewal=keeper/);
  assert.match(ifupdown.ifupdown, /^iface dl0 inet manual$/m);

  for (const mask of [(p: string) => symlinkSync('/dev/null', p), (p: string) => writeFileSync(p, '')]) {
    const masked = runHandoff({}, (root) => {
      enabling('systemd-networkd.service')(root);
      mask(join(root, 'etc/systemd/system/systemd-networkd.service'));
    });
    assert.match(masked.detail, /network_manager=none lease_renewal=keeper/, 'a masked unit never runs');
  }
  assert.match(runHandoff({ source: 'static' }).detail, /lease_renewal=none/);
  assert.deepEqual(runHandoff({ source: 'static' }).carried, []);
});

test('NetworkManager takes the boot interface over as DHCP\'s: its device state names the keyfile\'s connection, keep-configuration is said for it, and the address carries the lease\'s remaining time', { skip: process.getuid?.() !== 0 ? 'needs root for a network namespace' : false }, (t) => {
  assert.equal(process.getuid?.(), 0);
  const ns = `dl-nm-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => spawnSync('ip', ['netns', 'del', ns]));
  execFileSync('ip', ['-n', ns, 'link', 'add', 'dl0', 'address', '52:54:00:00:00:05', 'type', 'veth', 'peer', 'name', 'dl1']);
  for (const l of ['dl0', 'dl1']) execFileSync('ip', ['-n', ns, 'link', 'set', l, 'up']);
  execFileSync('ip', ['-n', ns, 'addr', 'add', '10.9.0.5/24', 'dev', 'dl0']);
  const ifindex = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/sys/class/net/dl0/ifindex'], { encoding: 'utf8' }).trim();
  // Bound 100 s ago for an hour: not yet a quarter used, so no renewal before the handoff.
  const h = runHandoff({}, enabling('NetworkManager.service'), '', { netns: ns, after: 'NET_BOUND_AT=$((NET_BOUND_AT - 100))' });
  assert.equal(h.status, 'HANDOFF-OK', h.console);
  assert.match(h.detail, /network_manager=NetworkManager lease_renewal=NetworkManager/);
  assert.doesNotMatch(h.detail, /lease_renewed/);
  const uuid = /^uuid=([0-9a-f-]{36})$/m.exec(h.nm)?.[1];
  assert.ok(uuid, h.nm);
  assert.deepEqual(Object.keys(h.nmDevices), [ifindex], 'NetworkManager\'s device state, by interface index');
  assert.match(h.nmDevices[ifindex]!, new RegExp(`^\\[device\\]\\nmanaged=true\\nconnection-uuid=${uuid}\\nnm-owned=false\\n`, 'm'));
  assert.match(h.nmConf, /^\[device-diskless\]\nmatch-device=interface-name:dl0\nkeep-configuration=yes\n/m);
  const addr = execFileSync('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dev', 'dl0'], { encoding: 'utf8' });
  const left = Number(/inet 10\.9\.0\.5\/24 .*dynamic.* valid_lft (\d+)sec preferred_lft (\d+)sec/.exec(addr)?.[1]);
  assert.ok(left > 3400 && left <= 3500, `the lease's remaining time on the address: ${addr}`);
});

test('a lease a quarter used or more is renewed before the real system starts (its client starts afresh): the address never leaves the interface, the lease\'s new times go to lease.env and NetworkManager; the lease keeper asks for itself', { skip: process.getuid?.() !== 0 ? 'needs root for network namespaces' : false }, (t) => {
  assert.equal(process.getuid?.(), 0);
  const dir = mkdtempSync(join(tmpdir(), 'dl-renew-'));
  const node = `dl-rn-${process.pid}`;
  const server = `dl-rs-${process.pid}`;
  for (const n of [node, server]) execFileSync('ip', ['netns', 'add', n]);
  let udhcpd: ReturnType<typeof spawn> | undefined;
  t.after(() => {
    udhcpd?.kill();
    for (const n of [node, server]) spawnSync('ip', ['netns', 'del', n]);
    rmSync(dir, { recursive: true, force: true });
  });
  execFileSync('ip', ['-n', node, 'link', 'add', 'dl0', 'address', '52:54:00:00:00:05', 'type', 'veth', 'peer', 'name', 'srv0', 'netns', server]);
  execFileSync('ip', ['-n', node, 'link', 'set', 'dl0', 'up']);
  execFileSync('ip', ['-n', server, 'link', 'set', 'srv0', 'up']);
  execFileSync('ip', ['-n', server, 'addr', 'add', '10.9.0.1/24', 'dev', 'srv0']);
  // The initramfs's address, and one more that a flush (udhcpc's deconfig) would take away.
  execFileSync('ip', ['-n', node, 'addr', 'add', '10.9.0.5/24', 'dev', 'dl0']);
  execFileSync('ip', ['-n', node, 'addr', 'add', '10.9.0.77/24', 'dev', 'dl0']);
  writeFileSync(join(dir, 'udhcpd.conf'), [
    'start 10.9.0.5', 'end 10.9.0.20', 'interface srv0', `lease_file ${join(dir, 'udhcpd.leases')}`,
    'option subnet 255.255.255.0', 'option router 10.9.0.1', 'option lease 120', '',
  ].join('\n'));
  udhcpd = spawn('ip', ['netns', 'exec', server, BUSYBOX, 'udhcpd', '-f', join(dir, 'udhcpd.conf')], { stdio: 'ignore' });
  // Bound 1000 s ago for an hour: over a quarter used.
  const aged = { netns: node, after: 'NET_BOUND_AT=$((NET_BOUND_AT - 1000))' };
  const h = runHandoff({}, enabling('NetworkManager.service'), '', aged);
  assert.equal(h.status, 'HANDOFF-OK', h.console);
  assert.match(h.detail, /(^| )lease_renewed=1( |$)/, h.console);
  assert.match(h.leaseEnv, /^NET_IP='10\.9\.0\.5'$/m);
  assert.match(h.leaseEnv, /^NET_LEASE='120'$/m, 'the renewed lease\'s time');
  const boundAt = Number(/^NET_BOUND_AT='(\d+)'$/m.exec(h.leaseEnv)?.[1]);
  const now = Number(readFileSync('/proc/uptime', 'utf8').split('.')[0]);
  assert.ok(now - boundAt < 30, `bound just now: ${boundAt} at ${now}`);
  const addr = execFileSync('ip', ['-n', node, '-4', '-o', 'addr', 'show', 'dev', 'dl0'], { encoding: 'utf8' });
  assert.match(addr, /inet 10\.9\.0\.77\/24 /, 'nothing was flushed');
  const left = Number(/inet 10\.9\.0\.5\/24 .*dynamic.* valid_lft (\d+)sec/.exec(addr)?.[1]);
  assert.ok(left > 90 && left <= 120, `NetworkManager gets the renewed lease's time: ${addr}`);

  // No network manager: the keeper starts with a new exchange of its own, nothing asked here.
  const keeper = runHandoff({}, () => {}, '', aged);
  assert.match(keeper.detail, /lease_renewal=keeper/);
  assert.doesNotMatch(keeper.detail, /lease_renewed/);
  assert.match(keeper.leaseEnv, /^NET_LEASE='3600'$/m);
});

test('NetworkManager keyfile values follow the keyfile rules (a backslash doubled, a leading blank escaped, no line breaks); a boot interface whose name cannot be written goes to the lease keeper', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-nmvalue-'));
  try {
    const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/handoff.sh"
      for v in 'a\\b' ' x' 'plain.0' "$(printf 'a\\nb')" "$(printf 'a\\tb')"; do if nm_value "$v"; then echo; else echo FAIL; fi; done`);
    assert.deepEqual(r.out.split('\n').slice(0, 5), ['a\\\\b', '\\sx', 'plain.0', 'FAIL', 'FAIL']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const odd = runHandoff({}, enabling('NetworkManager.service'), `DL_IFACE="$(printf 'dl0\\n[x]')"`);
  assert.equal(odd.status, 'HANDOFF-OK', odd.console);
  assert.match(odd.detail, /network_manager=NetworkManager lease_renewal=keeper/);
  assert.match(odd.console, /cannot go into a NetworkManager keyfile/);
});

test('a unit masked on the kernel command line (systemd.mask=, with or without .service) is no network manager of the real system', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-mask-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cmdline'), 'root=live:http://s/i systemd.mask=foo.service systemd.mask=NetworkManager systemd.mask=$(touch${IFS}PWNED1)\n');
  const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/cmdline.sh"; parse_cmdline; printf '%s' "$DL_SYSTEMD_MASK"`, { DL_CMDLINE_FILE: join(dir, 'cmdline') });
  assert.equal(r.out, 'foo.service NetworkManager $(touch${IFS}PWNED1)');
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('PWNED')), []);
  for (const mask of ['NetworkManager', 'NetworkManager.service']) {
    const h = runHandoff({}, enabling('NetworkManager.service'), `DL_SYSTEMD_MASK="foo.service ${mask}"`);
    assert.match(h.detail, /network_manager=none lease_renewal=keeper/, mask);
    assert.equal(h.nm, '');
  }
  assert.match(runHandoff({}, enabling('NetworkManager.service'), 'DL_SYSTEMD_MASK=NetworkManager-wait-online.service').detail, /network_manager=NetworkManager/);
});

test('802.3ad bonds: /init sets the mode, LACP at the fast rate and link monitoring before the NICs join, and names no primary; networkd and NetworkManager get the bond as made, udev keeps every member\'s name', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-lacp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sys = join(dir, 'sys');
  for (const [n, mac] of [['eth0', '52:54:00:00:00:0a'], ['eth1', '52:54:00:00:00:0b'], ['lo', '00:00:00:00:00:00']]) {
    mkdirSync(join(sys, 'class/net', n!), { recursive: true });
    writeFileSync(join(sys, 'class/net', n!, 'address'), `${mac}\n`);
  }
  // The bonding driver's files, as plain files: each write is kept (the slaves file keeps the last).
  mkdirSync(join(sys, 'class/net/bond0/bonding'), { recursive: true });
  writeFileSync(join(sys, 'class/net/bonding_masters'), '');
  const r = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/network.sh"
    modprobe() { :; }
    ip() { echo "ip $*" >> ip.log; }
    DL_IFACE=eth0 DL_BOND=802.3ad DL_BOND_SLAVES='eth*'
    if make_bond; then echo "OK $DL_IFACE"; else echo "ERR $DL_CAUSE"; fi`, { DL_SYSFS: sys });
  assert.equal(r.out.trim(), 'OK bond0', r.err);
  const bonding = (f: string) => { try { return readFileSync(join(sys, 'class/net/bond0/bonding', f), 'utf8').trim(); } catch { return undefined; } };
  assert.equal(bonding('mode'), '802.3ad');
  assert.equal(bonding('lacp_rate'), 'fast');
  assert.equal(bonding('miimon'), '100');
  assert.equal(bonding('primary'), undefined, 'no primary in 802.3ad');
  assert.equal(bonding('slaves'), '+eth1', 'the NICs joined, the boot NIC first');
  assert.equal(readFileSync(join(dir, 'ip.log'), 'utf8'), 'ip link set eth0 down\nip link set eth1 down\n');
  const wrong = sh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/network.sh"; DL_IFACE=eth0 DL_BOND=balance-rr DL_BOND_SLAVES=eth0; make_bond || echo "ERR $DL_CAUSE"`, { DL_SYSFS: sys });
  assert.match(wrong.out, /rd\.diskless\.bond=balance-rr: expected active-backup or 802\.3ad/);

  const stack = 'DL_BOND=802.3ad DL_BOND_MEMBERS="eth0 eth1"';
  const nd = runHandoff({}, enabling('systemd-networkd.service'), `${stack}; DL_IFACE=bond0`, { sysfs: sys });
  assert.equal(nd.status, 'HANDOFF-OK', nd.console);
  assert.match(nd.runNetwork['10-diskless-bond0.netdev'] ?? '', /^\[Bond\]\nMode=802\.3ad\nMIIMonitorSec=100ms\nLACPTransmitRate=fast\n/m);
  for (const [n, mac] of [['eth0', '52:54:00:00:00:0a'], ['eth1', '52:54:00:00:00:0b']]) {
    assert.match(nd.runNetwork[`00-diskless-${n}.link`] ?? '', new RegExp(`^\\[Match\\]\\nPermanentMACAddress=${mac}\\nOriginalName=${n}\\n\\[Link\\]\\nName=${n}\\n`, 'm'), `member ${n} keeps its name`);
  }
  const nm = runHandoff({}, enabling('NetworkManager.service'), `${stack}; DL_IFACE=bond0`, { sysfs: sys });
  assert.equal(nm.status, 'HANDOFF-OK', nm.console);
  assert.match(nm.nmFiles['diskless-bond0.nmconnection'] ?? '', /^type=bond\ninterface-name=bond0\n[^]*^\[bond\]\nmode=802\.3ad\nmiimon=100\nlacp_rate=fast\n\[ipv4\]\nmethod=auto\n/m);
  for (const [n, mac] of [['eth0', '52:54:00:00:00:0a'], ['eth1', '52:54:00:00:00:0b']]) {
    assert.match(nm.nmFiles[`diskless-${n}.nmconnection`] ?? '', new RegExp(`^type=ethernet\\ninterface-name=${n}\\n[^]*^master=bond0\\nslave-type=bond\\n\\[ethernet\\]\\nmac-address=${mac}\\n`, 'm'), `member ${n}`);
  }
  assert.match(nm.nmConf, /^match-device=interface-name:bond0,interface-name:eth0,interface-name:eth1$/m);
  assert.match(nm.detail, /lease_renewal=NetworkManager/);
  const ab = runHandoff({}, enabling('NetworkManager.service'), 'DL_BOND=active-backup DL_BOND_MEMBERS="eth1 eth0" DL_BOND_ARP_TARGET=10.9.0.1; DL_IFACE=bond0', { sysfs: sys });
  assert.match(ab.nmFiles['diskless-bond0.nmconnection'] ?? '', /^\[bond\]\nmode=active-backup\narp_interval=1000\narp_ip_target=10\.9\.0\.1\nprimary=eth1\n/m);
});
