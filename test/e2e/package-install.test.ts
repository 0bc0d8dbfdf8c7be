// Diskless installed as an admin installs it: the Debian package built from this checkout by
// scripts/build-deb.sh, installed with apt into a fresh Debian (mmdebstrap, cached), run from
// its installed path (--help, init, doctor on the lab LAN); the server started exactly as its systemd unit says (ExecStart, its
// environment, its capability bounding set) boots a lab machine. An upgrade keeps the config,
// the state and the admin's edits. And the npm tarball installs with `npm install -g`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/process/run.js';
import { defaultCacheDir, runLabBoot, type LabServerSetup } from '../../src/lab/tiny-lab.js';
import { ensureDebianChrootTar, nodejsDebFromThisNode, PackageRoot } from '../../src/lab/package-root.js';
import { expandExecStart, parseEnvironmentFile, parseServiceUnit, setprivArgs } from '../../src/lab/service-unit.js';
import { startServerIn } from '../../src/lab/lab-server.js';
import { assertLabHost } from '../../src/lab/lab-host.js';

const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

async function buildDeb(out: string, version?: string): Promise<string> {
  const r = await run(['scripts/build-deb.sh', '--out', out, ...(version ? ['--version', version] : [])]);
  const deb = r.stdout.trim().split('\n').at(-1)!;
  assert.ok(existsSync(deb), `build-deb.sh printed ${deb}, which does not exist`);
  return deb;
}

/** Starts the installed server in the lab as its unit would: ExecStart, environment, capabilities. */
async function serveAsTheUnit(root: PackageRoot, lab: LabServerSetup) {
  const inside = (p: string) => join(root.dir, p);
  await mkdir(inside('srv/lab'), { recursive: true });
  await copyFile(lab.kernel, inside('srv/lab/vmlinuz'));
  await copyFile(lab.initrd, inside('srv/lab/initrd.gz'));
  // The package's defaults: config in /etc/diskless, state in /var/lib/diskless.
  await writeFile(inside('etc/diskless/diskless.yaml'), lab.config({ kernel: '/srv/lab/vmlinuz', initrd: '/srv/lab/initrd.gz', stateDir: '/var/lib/diskless' }));
  const unit = parseServiceUnit(await readFile(inside('lib/systemd/system/diskless.service'), 'utf8'));
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
  for (const [k, v] of unit.environment) env[k] = v;
  for (const f of unit.environmentFiles) {
    const text = await readFile(inside(f.path), 'utf8').catch((e: unknown) => {
      if (f.optional) return '';
      throw e;
    });
    for (const [k, v] of parseEnvironmentFile(text)) env[k] = v;
  }
  // On the lab LAN, before the server runs: init writes a full-mode config (no other DHCP
  // server answers), and doctor, with the package's default config path, finds nothing wrong.
  const cli = async (args: string[]) => {
    const r = await lab.net.exec(lab.net.name, root.chrootArgvInNamespace(['diskless', ...args]), { check: false, timeoutMs: 120_000, env: { PATH: env['PATH']!, LANG: 'C.UTF-8' } });
    return { code: r.code, out: r.stdout, err: r.stderr };
  };
  const init = await cli(['init', '--interface', 'br0', '--config', '/root/init.yaml', '--wait', '1']);
  assert.equal(init.code, 0, init.out + init.err);
  assert.match(init.out, /^wrote \/root\/init\.yaml \(dhcp\.mode full: no other DHCP server answered on br0\)/);
  assert.match(await readFile(inside('root/init.yaml'), 'utf8'), /^  address: 10\.77\.0\.1 /m);
  const doctor = await cli(['doctor', '--wait', '1']);
  assert.equal(doctor.code, 0, doctor.out + doctor.err);
  assert.deepEqual(doctor.out.split('\n').filter((l) => l !== '' && !/^OK /.test(l)), ['all checks passed'], doctor.out);
  assert.match(doctor.out, /^OK +config +\/etc\/diskless\/diskless\.yaml is valid/m);
  assert.match(doctor.out, /^OK +loaders +iPXE for BIOS and UEFI in /m);

  const argv = root.chrootArgvInNamespace(['setpriv', ...setprivArgs(unit), '--', ...expandExecStart(unit.execStart, env)]);
  return startServerIn(lab.net, argv, lab.logPath, { env });
}

test('the Debian package: apt install into a fresh Debian, run from its path (help, init, doctor), serve a boot as the unit says, upgrade keeps config and state', async () => {
  assertLabHost();
  const cache = defaultCacheDir();
  const out = await mkdtemp(join(tmpdir(), 'diskless-deb-'));
  const [deb, tar, nodeDeb] = await Promise.all([buildDeb(out), ensureDebianChrootTar(cache), nodejsDebFromThisNode(cache)]);
  const root = await PackageRoot.create(tar, { aptArchives: join(cache, 'apt-archives') });
  const inside = (p: string) => join(root.dir, p);
  try {
    await root.exec(['apt-get', 'update', '-q']);
    await root.aptInstall([nodeDeb, deb]);

    // On the PATH, from the package's own files.
    assert.equal(await readlink(inside('usr/bin/diskless')), '../lib/diskless/dist/src/cli/main.js');
    const help = await root.exec(['diskless', '--help']);
    assert.match(help.stdout, /^diskless — boot server for fleets/);
    assert.match(help.stdout, /reads \/etc\/diskless\/diskless\.yaml/);
    for (const asset of ['initramfs/init', 'dashboard/index.html', 'dist/src/dashboard/ui/app.js']) {
      assert.ok(existsSync(inside(`usr/lib/diskless/${asset}`)), `the package lacks ${asset}`);
    }
    assert.equal(existsSync(inside('usr/lib/diskless/dist/src/cli/main.test.js')) || existsSync(inside('usr/lib/diskless/dist/test')), false, 'tests are not shipped');

    // With no --config, every command reads the default path, and says how to make it.
    const noConfig = await root.exec(['diskless', 'status'], { check: false });
    assert.equal(noConfig.code, 1);
    assert.match(noConfig.stderr, /\/etc\/diskless\/diskless\.yaml: \(file\): cannot read config: no such file \(the default; write one with "diskless init --interface IF"/);

    // The unit as installed: systemd's own checker, against the installed files.
    const verify = await root.exec(['systemd-analyze', 'verify', '--man=no', '/lib/systemd/system/diskless.service'], { check: false });
    assert.equal(verify.code, 0, `systemd-analyze verify failed:\n${verify.stdout}${verify.stderr}`);
    assert.equal(verify.stderr.trim(), '', `systemd-analyze verify warned:\n${verify.stderr}`);

    // The installed server, started as the unit says, boots a machine. Its RA responder (raw
    // socket) and ports 67/69/80 show that the unit's two capabilities are enough.
    const boot = await runLabBoot({ serveWith: (lab) => serveAsTheUnit(root, lab) });
    assert.match(boot.cmdline, /diskless\.lab=[0-9a-f]{8}/);
    const serving = boot.serverLog.find((l) => l['msg'] === 'serving');
    assert.equal(serving?.['config'], '/etc/diskless/diskless.yaml', 'the unit gives the default config');
    assert.ok(boot.serverLog.some((l) => l['service'] === 'dhcp' && l['type'] === 'ack' && l['mac'] === boot.mac), 'DHCP answered from port 67');
    assert.ok(existsSync(inside('var/lib/diskless/dhcp-leases.json')), 'state is kept in /var/lib/diskless');

    // An upgrade keeps the config, the state and the admin's edit of the conffile.
    await appendFile(inside('etc/default/diskless'), 'DISKLESS_OPTS=--debug\n');
    const kept = { config: await sha(inside('etc/diskless/diskless.yaml')), leases: await sha(inside('var/lib/diskless/dhcp-leases.json')), cert: await sha(inside('var/lib/diskless/tls/server.crt')) };
    await root.aptInstall([await buildDeb(out, '0.1.0+upgrade1')]);
    const status = await root.exec(['dpkg-query', '-W', '-f=${Version}', 'diskless']);
    assert.equal(status.stdout, '0.1.0+upgrade1');
    assert.deepEqual({ config: await sha(inside('etc/diskless/diskless.yaml')), leases: await sha(inside('var/lib/diskless/dhcp-leases.json')), cert: await sha(inside('var/lib/diskless/tls/server.crt')) }, kept);
    assert.match(await readFile(inside('etc/default/diskless'), 'utf8'), /^DISKLESS_OPTS=--debug$/m);
  } finally {
    await root.destroy();
    await rm(out, { recursive: true, force: true });
  }
});

test('npm pack, then npm install -g of the tarball: diskless on the PATH with its assets', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'diskless-npm-'));
  try {
    const tgz = join(dir, (await run(['npm', 'pack', '--silent', '--pack-destination', dir])).stdout.trim().split('\n').at(-1)!);
    const prefix = join(dir, 'prefix');
    // --prefer-offline: dependencies from npm's cache where `npm ci` filled it, the registry
    // for what it lacks (the packuments that resolve a version range).
    await run(['npm', 'install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tgz], { timeoutMs: 300_000 });
    const help = await run([join(prefix, 'bin/diskless'), '--help']);
    assert.match(help.stdout, /^diskless — boot server for fleets/);
    const pkg = join(prefix, 'lib/node_modules/diskless');
    for (const asset of ['initramfs/init', 'dashboard/index.html', 'dist/src/dashboard/ui/app.js', 'src/native/ra-responder.c']) {
      assert.ok(existsSync(join(pkg, asset)), `the npm package lacks ${asset}`);
    }
    // The native addon loads: DHCP's SO_BINDTOIFINDEX depends on it.
    const addon = await run([process.execPath, '--input-type=module', '-e', [
      `import { bindSocketToInterface, interfaceIndex } from ${JSON.stringify(join(pkg, 'dist/src/protocols/dhcp/bind-to-interface.js'))};`,
      `import { createSocket } from 'node:dgram';`,
      `const s = createSocket('udp4'); s.bind(0, '127.0.0.1', () => { bindSocketToInterface(s, interfaceIndex('lo')); console.log('bound'); s.close(); });`,
    ].join('\n')]);
    assert.equal(addon.stdout.trim(), 'bound');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
