// Two nodes boot one stored image and come up as themselves: hostnames, SSH host keys kept on
// the server (the same after a reboot), root's authorized_keys and password hash, a per-node
// template. Secrets travel only with a one-time token from each node's own boot script, during
// that boot and over TLS: once booted, an unprivileged process on the node gets nothing; they
// never appear in anything served without a token, nor in a capture of the boot LAN. A DHCP
// DECLINE spoofed from another machine does not keep a node from its reserved address. `image
// shell` then installs a package into a new version; after the publish a rebooted node has it
// while the other keeps running the old.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DebianLab, type LabNode } from '../../src/lab/debian-lab.js';
import { LAB_ADMIN_URL, LAB_SERVER } from '../../src/lab/tiny-lab.js';
import { SecretStore } from '../../src/secrets/secret-store.js';
import { run } from '../../src/process/run.js';
import { clientPacket } from '../../src/protocols/dhcp/testdata/client-packets.js';
import { encodeDhcpPacket } from '../../src/protocols/dhcp/packet.js';
import { DhcpMessageType } from '../../src/protocols/dhcp/message-types.js';

const MINUTES = 60_000;
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BB = '/run/diskless/bin/busybox';
const PASSWORD = 'lab-password-7';
type Line = Record<string, unknown>;

/** The lab's DHCP pool here: two addresses, one for B and one for the first machine asking after it. */
const POOL: readonly string[] = ['10.77.0.100', '10.77.0.101'];
const LEASE_SEC = 60;

const keyBody = (pub: string) => pub.trim().split(/\s+/).slice(0, 2).join(' ');

/**
 * The token on a node's kernel command line, read over its console. A kernel message printed in
 * the middle of the output would corrupt it, so it is read until the node confirms the value
 * is on its command line.
 */
async function cmdlineToken(node: LabNode): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const value = (await node.run(`sed -n 's/.*rd\\.diskless\\.token=\\([A-Za-z0-9_-]*\\).*/\\1/p' /proc/cmdline`)).trim().split('\n').at(-1)!.trim();
    if (/^[A-Za-z0-9_-]{43}$/.test(value) && /^1$/m.test(await node.run(`grep -c -- 'rd.diskless.token=${value} ' /proc/cmdline`))) return value;
  }
  throw new Error(`could not read ${node.hostname}'s boot token intact from its console`);
}

/** Puts `value` into `file` on the node by typing it, checked by reading it back. */
async function typeInto(node: LabNode, file: string, value: string): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    if ((await node.run(`echo ${value} > ${file}; chmod 644 ${file}; cat ${file}`)).trim().split('\n').at(-1)!.trim() === value) return file;
  }
  throw new Error(`could not type ${value.length} characters into ${node.hostname}'s console intact`);
}

/**
 * POSTs the token in `tokenFile` from `node` to the server's HTTPS node-files endpoint as
 * `user`, with openssl as any TLS client would (no certificate check: an attacker needs none);
 * returns the HTTP status line, or '' when nothing came back.
 */
async function redeem(node: LabNode, tokenFile: string, user: 'root' | 'nobody'): Promise<string> {
  const request = `b="token=$(cat ${tokenFile})"; printf 'POST /api/v1/node-files HTTP/1.0\\r\\nContent-Type: application/x-www-form-urlencoded\\r\\nContent-Length: %s\\r\\n\\r\\n%s' "\${#b}" "$b" | openssl s_client -quiet -connect ${LAB_SERVER}:443 2>/dev/null | head -n 1`;
  const out = await node.run(user === 'root' ? request : `runuser -u nobody -- sh -c ${shellQuote(request)}`);
  return /HTTP\/1\.1 \d{3}[^\n]*/.exec(out)?.[0]?.trim() ?? '';
}

const shellQuote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** A DHCPDECLINE of `ip` from chaddr `mac`, sent from the client port of the foreign host (an attacker on the LAN). */
async function spoofDecline(lab: DebianLab, work: string, mac: string, ip: string): Promise<void> {
  const packet = encodeDhcpPacket(clientPacket({ type: DhcpMessageType.Decline, mac, xid: 0x5badd0c5, requestedIp: ip, serverId: LAB_SERVER }));
  const script = join(work, 'decline.mjs');
  await writeFile(script, `import { createSocket } from 'node:dgram';
const s = createSocket('udp4');
s.bind(68, () => s.send(Buffer.from('${packet.toString('base64')}', 'base64'), 67, '${LAB_SERVER}', () => s.close()));
`);
  await lab.net.exec(lab.net.foreignName!, [process.execPath, script]);
}

const refusals = (log: Line[]) => log.filter((l) => l['service'] === 'secrets' && String(l['msg']).startsWith('secrets token refused'));

async function makeMarkerDeb(dir: string): Promise<Buffer> {
  const root = join(dir, 'pkg');
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await mkdir(join(root, 'usr/share/diskless-lab-marker'), { recursive: true });
  await writeFile(join(root, 'DEBIAN/control'), 'Package: diskless-lab-marker\nVersion: 1.0\nArchitecture: all\nMaintainer: Diskless lab <lab@diskless.invalid>\nDescription: marks an image changed by diskless image shell\n');
  await writeFile(join(root, 'usr/share/diskless-lab-marker/marker'), 'installed by image shell\n');
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, join(dir, 'marker.deb')], { stdio: 'ignore' });
  return readFile(join(dir, 'marker.deb'));
}

/** Every file under `dir` whose bytes contain one of `needles`. */
async function filesContaining(dir: string, needles: readonly string[]): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const data = await readFile(p);
        if (needles.some((n) => data.includes(n))) hits.push(p);
      }
    }
  };
  await walk(dir);
  return hits;
}

test('two nodes, one image: own names and keys kept across reboots; secrets once per boot, over TLS, never to a user on a booted node nor on the wire; a spoofed DECLINE changes nothing; image shell → publish → reboot', { timeout: 30 * MINUTES }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'dl-identity-e2e-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin@lab', '-f', join(work, 'admin')]);
  const adminPub = await readFile(join(work, 'admin.pub'), 'utf8');
  const hash = execFileSync('openssl', ['passwd', '-6', '-salt', 'dlsalt1234', PASSWORD], { encoding: 'utf8' }).trim();
  const lab = await DebianLab.start({
    mode: 'live', fromStore: true, nodes: 2, memoryMiB: 1280, foreignHost: true,
    rootPassword: { password: PASSWORD, hash }, authorizedKeys: adminPub,
    profileExtra: '\n    files:\n      - { path: /etc/motd, content: "{{hostname}} ({{mac}}) boots from {{server}}\\n", template: true }',
    // B has no reservation: it takes an address from a pool of two, on one-minute leases, and
    // runs through everything below; the machines that ask later must not get its address.
    poolNodes: [1], pool: POOL.join('-'), leaseTimeSec: LEASE_SEC, unknownClients: 'register',
  });
  // Everything on the boot LAN from the first DHCP exchange on, for the key material search.
  const capture = join(work, 'lan.pcap');
  const tcpdump = await lab.net.spawn(lab.net.name, ['tcpdump', '-i', 'br0', '-U', '-s', '0', '-w', capture]);
  try {
    const [a, b] = lab.nodes as [LabNode, LabNode];
    const v1 = (await lab.store.resolve('lab')).version;
    await a.login(0, 8 * MINUTES);
    await b.login(0, 8 * MINUTES);
    b.address = (await lab.leasedAddress(b.mac)) ?? '';
    assert.ok(POOL.includes(b.address), `B's address ${b.address} comes from the pool`);

    // Own names, own keys (the server's copies), own templates.
    const secrets = await SecretStore.open({ stateDir: lab.stateDir });
    const keysOf = async (n: LabNode) => (await secrets.hostKeys(n.mac, n.hostname)).files;
    const pubOf = async (n: LabNode) => (await keysOf(n)).find((f) => f.path === '/etc/ssh/ssh_host_ed25519_key.pub')!.content.toString();
    const [pubA, pubB] = [await pubOf(a), await pubOf(b)];
    assert.notEqual(keyBody(pubA), keyBody(pubB), 'each node has a key of its own');
    for (const [n, pub] of [[a, pubA], [b, pubB]] as const) {
      assert.equal((await n.run('hostname')).trim(), n.hostname);
      assert.equal(keyBody(await n.run('cat /etc/ssh/ssh_host_ed25519_key.pub')), keyBody(pub));
      assert.equal((await n.run('stat -c %a /etc/ssh/ssh_host_ed25519_key')).trim(), '600');
      assert.equal((await n.run('cat /etc/motd')).trim(), `${n.hostname} (${n.mac}) boots from ${LAB_SERVER}`);
      assert.equal((await n.run("grep '^root:' /etc/shadow | cut -d: -f2")).trim(), hash, 'root password hash applied');
      assert.equal((await n.run('stat -c %a:%G /etc/shadow')).trim(), '640:shadow');
      assert.equal((await n.run('systemctl is-active ssh')).trim(), 'active');
    }

    // sshd presents the server-kept key, and root's authorized_keys lets the admin in with
    // strict host key checking against that key: no trust-on-first-use.
    const knownHosts = join(work, 'known_hosts');
    await writeFile(knownHosts, `${a.address} ${keyBody(pubA)}\n${b.address} ${keyBody(pubB)}\n`);
    const ssh = (n: LabNode, cmd: string) => lab.net.exec(lab.net.name, ['ssh', '-i', join(work, 'admin'), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'HostKeyAlgorithms=ssh-ed25519', '-o', 'ConnectTimeout=20', `root@${n.address}`, cmd], { timeoutMs: 60_000 });
    assert.equal((await ssh(a, 'hostname')).stdout.trim(), 'lab1');
    assert.equal((await ssh(b, 'hostname')).stdout.trim(), 'lab2');

    // Each boot's token was spent by its own node, once.
    let log = await lab.serverLog();
    for (const n of [a, b]) assert.equal(log.filter((l) => l['msg'] === 'node files sent' && l['mac'] === n.mac).length, 1, n.hostname);
    const before = refusals(log).length;

    // On booted node A, an unprivileged process gets nothing: its own boot script carries no
    // token now (its boot is over) …
    const ownScript = await a.run(`runuser -u nobody -- ${BB} wget -q -O - http://${LAB_SERVER}/boot/${a.mac}.ipxe`);
    assert.match(ownScript, /Diskless boot script for lab1/);
    assert.doesNotMatch(ownScript, /rd\.diskless\.token=/);
    // … the token on its command line (spent at boot) and any other buy nothing over TLS …
    // Taken from /proc/cmdline on the node itself: it never crosses the console.
    await a.run(`sed -n 's/.*rd\\.diskless\\.token=\\([A-Za-z0-9_-]*\\).*/\\1/p' /proc/cmdline > /tmp/token-a; chmod 644 /tmp/token-a`);
    assert.match(await a.run('wc -c < /tmp/token-a'), /^\s*44\s*$/m, 'A\'s boot token: 43 characters and a newline');
    assert.match(await redeem(a, '/tmp/token-a', 'nobody'), /^HTTP\/1\.1 403/, 'A\'s spent boot token, as nobody');
    assert.match(await redeem(a, await typeInto(a, '/tmp/token-x', 'x'.repeat(43)), 'nobody'), /^HTTP\/1\.1 403/, 'any token, as nobody');
    // … nor in the clear, where the server only says where HTTPS is.
    assert.match(await a.run(`runuser -u nobody -- ${BB} wget -q -O - --post-data "token=${'x'.repeat(43)}" http://${LAB_SERVER}/api/v1/node-files 2>&1; echo rc=$?`), /rc=1/);
    // From node A, even as root: B's boot script carries no token for A, and B's spent token is refused.
    const scriptB = await a.run(`${BB} wget -q -O - http://${LAB_SERVER}/boot/${b.mac}.ipxe`);
    assert.match(scriptB, /Diskless boot script for lab2/);
    assert.doesNotMatch(scriptB, /rd\.diskless\.token=/);
    assert.match(await redeem(a, await typeInto(a, '/tmp/token-b', await cmdlineToken(b)), 'root'), /^HTTP\/1\.1 403/, 'B\'s reused token from A');
    // As root the node still has its own keys.
    assert.equal(keyBody(await a.run('cat /etc/ssh/ssh_host_ed25519_key.pub')), keyBody(pubA));

    log = await lab.serverLog();
    const refused = refusals(log).slice(before).map((l) => [l['reason'], l['mac'], l['peer'], l['alert']]);
    assert.deepEqual(refused, [
      ['reused', a.mac, a.address, true],
      ['unknown', a.mac, a.address, true],
      ['reused', b.mac, a.address, true],
    ]);
    assert.ok(log.some((l) => l['msg'] === 'boot script for another machine: no secrets token in it' && l['mac'] === b.mac && l['peerMac'] === a.mac && l['alert'] === true));

    // A DECLINE of A's reserved address, spoofed from another machine, is not honoured: A's
    // next boot (below) gets its address, and nothing is marked declined.
    await spoofDecline(lab, work, '52:54:00:de:c1:13', a.address);

    // Maintenance: install a package into a new version with image shell, then publish it.
    const deb = await makeMarkerDeb(work);
    const shell = await run([process.execPath, CLI, 'image', 'shell', 'lab', '--config', lab.configPath, '--', 'sh', '-c', 'cat > /tmp/m.deb && dpkg -i /tmp/m.deb && rm /tmp/m.deb'], { input: deb, timeoutMs: 10 * MINUTES });
    const summary = (await lab.store.list()).find((x) => x.name === 'lab');
    const v2 = summary?.versions.find((m) => m.parent === v1)?.version;
    assert.ok(v2, `image shell made a version from ${v1}: ${shell.stdout}${shell.stderr}`);
    assert.equal((await lab.store.resolve('lab')).version, v1, 'not published by image shell itself');
    await run([process.execPath, CLI, 'image', 'publish', 'lab', v2, '--config', lab.configPath]);

    // B, still on v1, keeps working and does not see the package.
    assert.match(await b.run('dpkg -s diskless-lab-marker >/dev/null 2>&1 || echo absent; md5sum /usr/bin/* >/dev/null && echo reads-ok'), /absent\s+reads-ok/);

    // A reboots into v2: the package is there, and A is still itself.
    const mark = a.vm.consoleText().length;
    await a.vm.type('reboot\n');
    await a.login(mark, 8 * MINUTES);
    assert.match(await a.run('cat /proc/cmdline'), new RegExp(`store/lab/${v2}/root\\.sqfs`));
    assert.match(await a.run('dpkg -s diskless-lab-marker | grep Status'), /install ok installed/);
    assert.equal(keyBody(await a.run('cat /etc/ssh/ssh_host_ed25519_key.pub')), keyBody(pubA), 'the same host key after a reboot');
    assert.match(await a.run('ip -4 -o addr show'), new RegExp(`inet ${a.address.replace(/\./g, '\\.')}/`), 'its reserved address despite the spoofed DECLINE');
    const leases = JSON.parse(await readFile(join(lab.stateDir, 'dhcp-leases.json'), 'utf8')) as { leases: Array<{ ip: string; state: string }> };
    assert.deepEqual(leases.leases.filter((l) => l.state === 'declined'), [], 'no address marked declined');
    assert.equal((await ssh(a, 'cat /usr/share/diskless-lab-marker/marker')).stdout, 'installed by image shell\n', 'strict host key check passes again');

    // v1 is still run by B: removing it is refused and names B.
    const rm1 = await run([process.execPath, CLI, 'image', 'rm', 'lab', v1, '--config', lab.configPath], { check: false });
    assert.notEqual(rm1.code, 0);
    assert.match(rm1.stderr, /lab2/);

    // Nothing served without a token holds a private key or the password hash.
    const needles: string[] = [hash];
    for (const n of [a, b]) for (const f of await keysOf(n)) if (!f.path.endsWith('.pub')) needles.push(f.content.toString().split('\n')[1]!);
    const served = join(work, 'served');
    await mkdir(served);
    for (const n of [a, b]) {
      for (const path of [`boot/${n.mac}.ipxe`, `pxelinux.cfg/01-${n.mac.replace(/:/g, '-')}`]) {
        const r = await lab.net.exec(lab.net.name, ['curl', '-sf', `http://${LAB_SERVER}/${path}`], { check: false });
        await writeFile(join(served, path.replace(/\//g, '_')), r.stdout);
      }
    }
    for (const v of [v1, v2]) {
      const paths = lab.store.paths('lab', v);
      execFileSync('unsquashfs', ['-q', '-n', '-d', join(served, `root-${v}`), paths.rootSqfs], { stdio: 'ignore' });
      execFileSync('sh', ['-c', `zstd -dc "${paths.initrd}" > "${join(served, `initrd-${v}.cpio`)}"`]);
    }
    await writeFile(join(served, 'server.log'), await readFile(lab.serverLogPath));
    // The boot LAN: secrets crossed it during both boots of A and B's, encrypted.
    await tcpdump.stop();
    await writeFile(join(served, 'lan.pcap'), await readFile(capture));
    assert.ok((await readFile(capture)).includes(Buffer.from('Diskless boot script for lab1')), 'the capture saw the boot traffic');
    const hits = [...(await filesContaining(served, needles)), ...(await filesContaining(join(lab.stateDir, 'images'), needles))];
    assert.deepEqual(hits, [], 'no private key or password hash outside the secret store');
    assert.ok(needles.length === 7 && needles.every((n) => n.length > 40), 'the needles are real key material');
  } finally {
    await tcpdump.stop();
    await lab.stop();
    await rm(work, { recursive: true, force: true });
  }
});

function reportsOf(log: Line[], mac: string): Line[] {
  return log.filter((l) => l['service'] === 'node' && l['mac'] === mac);
}
