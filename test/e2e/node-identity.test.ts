// Two nodes boot one stored image and come up as themselves: hostnames, SSH host keys kept on
// the server (the same after a reboot), root's authorized_keys and password hash, a per-node
// template. Secrets travel only with a one-time token from each node's own boot script, and
// never appear in anything served without one. `image shell` then installs a package into a
// new version; after the publish a rebooted node has it while the other keeps running the old.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DebianLab, type LabNode } from '../../src/app/lab-debian.js';
import { LAB_SERVER } from '../../src/app/lab-boot.js';
import { SecretStore } from '../../src/secrets/secret-store.js';
import { run } from '../../src/lab/process.js';

const MINUTES = 60_000;
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BB = '/run/diskless/bin/busybox';
const PASSWORD = 'lab-password-7';
const TOKEN_TTL_S = 90;
type Line = Record<string, unknown>;

const keyBody = (pub: string) => pub.trim().split(/\s+/).slice(0, 2).join(' ');

let tokenFiles = 0;

/**
 * A token its own boot script gave the node, kept in a file on the node: tokens never cross
 * the serial console as typed input, where a character dropped under load would corrupt them.
 */
async function ownToken(node: LabNode): Promise<{ file: string; value: string }> {
  const file = `/tmp/token-${++tokenFiles}`;
  const out = await node.run(`${BB} wget -q -O - http://${LAB_SERVER}/boot/${node.mac}.ipxe | sed -n 's/.*rd\\.diskless\\.token=\\([A-Za-z0-9_-]*\\).*/\\1/p' > ${file}; cat ${file}`);
  // The last line: a long command's echo may wrap onto the lines before it.
  const value = out.trim().split('\n').at(-1)!.trim();
  assert.match(value, /^[A-Za-z0-9_-]{43}$/, `its own boot script carries a token: ${out}`);
  return { file, value };
}

/** Puts `value` into `file` on the node by typing it, checked by reading it back. */
async function typeInto(node: LabNode, file: string, value: string): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    if ((await node.run(`echo ${value} > ${file}; cat ${file}`)).trim().split('\n').at(-1)!.trim() === value) return file;
  }
  throw new Error(`could not type ${value.length} characters into ${node.hostname}'s console intact`);
}

/** POSTs the token in `tokenFile` from `node`; true when the server handed over a non-empty archive. */
async function redeem(node: LabNode, mac: string, tokenFile: string): Promise<boolean> {
  const out = await node.run(`rm -f /tmp/nf; ${BB} wget -q -O /tmp/nf --post-data "mac=${mac}&token=$(cat ${tokenFile})" http://${LAB_SERVER}/api/v1/node-files 2>/dev/null; echo "rc=$? size=$(${BB} wc -c < /tmp/nf 2>/dev/null || echo 0)"`);
  const m = /rc=(\d+) size=\s*(\d+)/.exec(out);
  assert.ok(m, out);
  return m[1] === '0' && Number(m[2]) > 0;
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

test('two nodes, one image: own names and keys kept across reboots; tokens bound, once, expiring; image shell → publish → reboot', { timeout: 30 * MINUTES }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'dl-identity-e2e-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin@lab', '-f', join(work, 'admin')]);
  const adminPub = await readFile(join(work, 'admin.pub'), 'utf8');
  const hash = execFileSync('openssl', ['passwd', '-6', '-salt', 'dlsalt1234', PASSWORD], { encoding: 'utf8' }).trim();
  const lab = await DebianLab.start({
    mode: 'live', fromStore: true, nodes: 2, memoryMiB: 1280, tokenTtlSec: TOKEN_TTL_S,
    rootPassword: { password: PASSWORD, hash }, authorizedKeys: adminPub,
    profileExtra: '\n    files:\n      - { path: /etc/motd, content: "{{hostname}} ({{mac}}) boots from {{server}}\\n", template: true }',
  });
  try {
    const [a, b] = lab.nodes as [LabNode, LabNode];
    const v1 = (await lab.store.resolve('lab')).version;
    await a.login(0, 8 * MINUTES);
    await b.login(0, 8 * MINUTES);

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

    // From node A: B's boot script carries no token for A …
    const scriptB = await a.run(`${BB} wget -q -O - http://${LAB_SERVER}/boot/${b.mac}.ipxe`);
    assert.match(scriptB, /Diskless boot script for lab2/);
    assert.doesNotMatch(scriptB, /rd\.diskless\.token=/);
    // … B's boot token, already spent by B, is refused …
    const tokenB = /rd\.diskless\.token=([A-Za-z0-9_-]+)/.exec(await b.run('cat /proc/cmdline'))?.[1];
    assert.ok(tokenB);
    assert.equal(await redeem(a, b.mac, await typeInto(a, '/tmp/token-b', tokenB)), false, 'B\'s reused token from A');
    // … and A's own fresh token does not buy B's secrets (and is burned by the attempt).
    const stolen = (await ownToken(a)).file;
    assert.equal(await redeem(a, b.mac, stolen), false, 'A\'s token for B\'s secrets');
    assert.equal(await redeem(a, a.mac, stolen), false, 'the token is burned after a theft attempt');
    // The control: a fresh token of A's own works once, then is refused as reused.
    const fresh = (await ownToken(a)).file;
    assert.equal(await redeem(a, a.mac, fresh), true, 'A\'s own fresh token');
    assert.equal(await redeem(a, a.mac, fresh), false, 'used twice');
    const expiring = await ownToken(a);
    const expiringAt = Date.now() + TOKEN_TTL_S * 1000;

    log = await lab.serverLog();
    const refused = refusals(log).slice(before).map((l) => [l['reason'], l['mac'], l['tokenMac'], l['peer'], l['alert']]);
    assert.deepEqual(refused, [
      ['reused', b.mac, b.mac, a.address, true],
      ['wrong-address', b.mac, a.mac, a.address, true],
      ['reused', a.mac, a.mac, a.address, true],
      ['reused', a.mac, a.mac, a.address, true],
    ]);
    assert.ok(log.some((l) => l['msg'] === 'boot script for another machine: no secrets token in it' && l['mac'] === b.mac && l['peerMac'] === a.mac && l['alert'] === true));

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
    assert.equal((await ssh(a, 'cat /usr/share/diskless-lab-marker/marker')).stdout, 'installed by image shell\n', 'strict host key check passes again');

    // v1 is still run by B: removing it is refused and names B.
    const rm1 = await run([process.execPath, CLI, 'image', 'rm', 'lab', v1, '--config', lab.configPath], { check: false });
    assert.notEqual(rm1.code, 0);
    assert.match(rm1.stderr, /lab2/);

    // The token fetched before the reboot has expired by now.
    const wait = expiringAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 1000));
    // /tmp did not survive the reboot (RAM overlay): the token is typed back in, checked.
    assert.equal(await redeem(a, a.mac, await typeInto(a, '/tmp/token-expiring', expiring.value)), false, 'an expired token');
    assert.equal(refusals(await lab.serverLog()).at(-1)?.['reason'], 'expired');

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
    const hits = [...(await filesContaining(served, needles)), ...(await filesContaining(join(lab.stateDir, 'images'), needles))];
    assert.deepEqual(hits, [], 'no private key or password hash outside the secret store');
    assert.ok(needles.length === 7 && needles.every((n) => n.length > 40), 'the needles are real key material');
  } finally {
    await lab.stop();
    await rm(work, { recursive: true, force: true });
  }
});
