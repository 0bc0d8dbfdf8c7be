// `diskless init` and `diskless doctor` on a lab LAN (a network namespace with a bridge, and a
// second namespace for a foreign DHCP server): real DISCOVERs on the bridge, real dnsmasq, a
// real `diskless serve` holding the ports, real nft rules in the namespace. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabNetwork, removeStaleLabNamespaces } from '../lab/netns.js';
import { startForeignDhcp } from '../lab/tiny-lab.js';
import { startLabServer } from '../lab/lab-server.js';
import { hostKernel } from '../lab/lab-host.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

async function diskless(net: LabNetwork, args: string[]) {
  const r = await net.exec(net.name, [process.execPath, CLI, ...args], { check: false, timeoutMs: 60_000 });
  return { code: r.code, out: r.stdout, err: r.stderr, lines: r.stdout.split('\n').filter(Boolean) };
}

function labConfig(dir: string): string {
  return `server:
  address: 10.77.0.1
  interface: br0
  state_dir: ${join(dir, 'state')}
dhcp:
  mode: full
  pool: 10.77.0.100-10.77.0.150
  unknown_clients: deny
profiles:
  lab:
    kernel: ${hostKernel()}
    initrd: [${join(dir, 'initrd.img')}]
    cmdline: console=ttyS0
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, profile: lab }
`;
}

test('doctor and init on a LAN with a foreign DHCP server, then without one, then beside a running serve and behind a firewall', async () => {
  await removeStaleLabNamespaces();
  const dir = await mkdtemp(join(tmpdir(), 'diskless-doctor-'));
  const net = await LabNetwork.create({ foreignAddress: '10.77.0.2/24' });
  try {
    const config = join(dir, 'diskless.yaml');
    await writeFile(config, labConfig(dir));
    await writeFile(join(dir, 'initrd.img'), 'not really an initrd\n');

    // A foreign dnsmasq hands out addresses on the LAN.
    const dnsmasq = await startForeignDhcp(net, dir);
    const withForeign = await diskless(net, ['doctor', '--config', config, '--wait', '4']);
    assert.equal(withForeign.code, 1, withForeign.out + withForeign.err);
    const dhcpLine = withForeign.lines.find((l) => /^FAIL +dhcp /.test(l));
    assert.ok(dhcpLine, `no FAIL dhcp line:\n${withForeign.out}`);
    assert.match(dhcpLine, /another DHCP server answers on br0: 10\.77\.0\.2 \(offered 10\.77\.0\.(5\d|60)\)/);
    assert.match(dhcpLine, /set dhcp\.mode: proxy/);

    // init sees it too, and writes a proxy-mode config, once.
    const initPath = join(dir, 'init.yaml');
    const init = await diskless(net, ['init', '--interface', 'br0', '--config', initPath, '--wait', '4']);
    assert.equal(init.code, 0, init.err);
    assert.match(init.out, /dhcp\.mode proxy: 10\.77\.0\.2 already answers DHCP on br0/);
    const written = await readFile(initPath, 'utf8');
    assert.match(written, /^  address: 10\.77\.0\.1 /m);
    assert.match(written, /^  interface: br0 /m);
    assert.match(written, /^  mode: proxy$/m);
    assert.match(written, /# Another DHCP server answers on br0: 10\.77\.0\.2 \(offered 10\.77\.0\.(5\d|60)\)\./);
    const again = await diskless(net, ['init', '--interface', 'br0', '--config', initPath, '--wait', '0']);
    assert.equal(again.code, 1);
    assert.match(again.err, /exists already; not overwriting it/);
    assert.equal(await readFile(initPath, 'utf8'), written, 'left as it was');
    await dnsmasq.stop();

    // Without it: full mode, pool and mask from the bridge, and every check passes.
    const fullPath = join(dir, 'full.yaml');
    assert.equal((await diskless(net, ['init', '--interface', 'br0', '--config', fullPath, '--wait', '1'])).code, 0);
    const full = await readFile(fullPath, 'utf8');
    assert.match(full, /^  mode: full$/m);
    assert.match(full, /^  pool: 10\.77\.0\.100-10\.77\.0\.200 /m);
    assert.match(full, /^  subnet_mask: 255\.255\.255\.0 /m);
    const clean = await diskless(net, ['doctor', '--config', config, '--wait', '1']);
    assert.equal(clean.code, 0, clean.out + clean.err);
    assert.deepEqual(clean.lines.filter((l) => !/^OK /.test(l)), ['all checks passed'], clean.out);
    for (const check of ['config', 'interface', 'dhcp', 'ports', 'loaders', 'profile', 'disk', 'firewall', 'clock']) {
      assert.ok(clean.lines.some((l) => new RegExp(`^OK +${check} `).test(l)), `no ${check} line:\n${clean.out}`);
    }
    assert.ok(clean.lines.some((l) => /^OK +ports +port 67\/udp \(DHCP\) is free$/.test(l)), clean.out);

    // Our own running server holds the ports: they are "ours", not taken.
    const server = await startLabServer(net, config, join(dir, 'server.log'));
    const beside = await diskless(net, ['doctor', '--config', config, '--wait', '1']);
    assert.equal(beside.code, 0, beside.out);
    assert.ok(beside.lines.some((l) => new RegExp(`^OK +ports +port 67/udp \\(DHCP\\) is ours: diskless serve \\(pid ${server.pid}\\)$`).test(l)), beside.out);
    assert.ok(beside.lines.some((l) => /^OK +ports +port 80\/tcp \(HTTP\) is ours/.test(l)), beside.out);
    await server.stop();

    // A firewall in the namespace that drops TFTP, and another program on port 69.
    await net.exec(net.name, ['nft', '-f', '-'], { input: 'table inet filter {\n chain input {\n  type filter hook input priority 0; policy accept;\n  udp dport 69 drop\n }\n}\n' });
    const squatter = await net.spawn(net.name, [process.execPath, '-e', "require('dgram').createSocket('udp4').bind(69, '10.77.0.1', () => console.log('bound'))"]);
    await waitForOutput(squatter, 'bound');
    const blocked = await diskless(net, ['doctor', '--config', config, '--wait', '1']);
    assert.equal(blocked.code, 1);
    const fw = blocked.lines.find((l) => /^FAIL +firewall /.test(l));
    assert.match(fw ?? '', /dropped: 69\/udp \(TFTP\) by table inet filter chain input: udp dport 69 drop \(let them in from the boot LAN before that rule, e\.g\. udp dport \{ 69 \} accept\)/);
    const taken = blocked.lines.find((l) => /^FAIL +ports +port 69\/udp/.test(l));
    assert.match(taken ?? '', new RegExp(`is taken by node \\(pid ${squatter.pid}\\) \\(stop node \\(pid ${squatter.pid}\\) or move Diskless to another port \\(server\\.tftp_port\\)\\)`));
  } finally {
    await net.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});

async function waitForOutput(d: { output(): string; status?: unknown }, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!d.output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" within 10 s: ${d.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
