import { X509Certificate } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { access, readdir, readFile, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DisklessConfig } from '../config/types.js';
import { KERNEL_ARCH_NAMES, kernelFileArch, type KernelArch } from '../config/kernel-arch.js';
import type { ImageStore } from '../images/store/image-store.js';
import { openImageStore } from '../app/state-backend.js';
import { copiesOnLiveServers } from '../postgres/image-catalog.js';
import type { Queryable } from '../postgres/database.js';
import { interfaceAddress, hostInterfaces } from '../net/host-network.js';
import { probeDhcpServers, type DhcpResponder } from '../protocols/dhcp/probe.js';
import { run } from '../process/run.js';
import { droppedPorts, iptablesInputChain, nftInputChains, type BootPort } from './firewall.js';
import { checkPort, isDisklessServe } from './port-owner.js';

export type CheckStatus = 'OK' | 'WARN' | 'FAIL';

/** One line of `diskless doctor`: what was checked, how it stands, and what to do about it. */
export interface CheckResult {
  check: string;
  status: CheckStatus;
  message: string;
  /** What to do, for WARN and FAIL. */
  advice?: string;
}

export interface DoctorOptions {
  /** The loaded config, or the error that stopped it loading (reported as the config check). */
  config: DisklessConfig | Error;
  /** How long the DHCP probe listens for answers. */
  dhcpWaitMs?: number;
  now?: () => Date;
  /** Free bytes below which the state directory fails, and below which it warns. */
  diskFailBytes?: number;
  diskWarnBytes?: number;
}

const ok = (check: string, message: string): CheckResult => ({ check, status: 'OK', message });
const warn = (check: string, message: string, advice: string): CheckResult => ({ check, status: 'WARN', message, advice });
const fail = (check: string, message: string, advice: string): CheckResult => ({ check, status: 'FAIL', message, advice });

/**
 * Every check, in the order an admin fixes things: the config, the interface, the LAN's other
 * DHCP servers, ports, loaders, images and files, disk, firewall, clock. A check that needs a
 * valid config is left out when the config does not load.
 */
export async function runDoctor(o: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  if (o.config instanceof Error) {
    results.push(fail('config', o.config.message, 'fix the file (diskless init --interface IF writes a starter one)'));
    results.push(await clockCheck(undefined, o.now?.() ?? new Date()));
    return results;
  }
  const c = o.config;
  results.push(ok('config', `${c.file} is valid: ${c.profiles.size} profile(s), ${c.nodes.length} node(s), dhcp.mode ${c.dhcp.mode}`));
  results.push(interfaceCheck(c));
  if (c.dhcp.mode !== 'off') results.push(await dhcpCheck(c, o.dhcpWaitMs ?? 5000));
  results.push(...(await portChecks(c)));
  results.push(...(await loaderChecks(c)));
  let images: Awaited<ReturnType<typeof openImageStore>> | undefined;
  try {
    images = await openImageStore(c);
  } catch (e) {
    results.push(fail('database', `cannot open the state database: ${(e as Error).message}`, 'start PostgreSQL or fix state.url and its password, then run doctor again'));
  }
  try {
    if (images) results.push(...(await profileChecks(c, images.store)));
    results.push(...(await archChecks(c, images?.store)));
    if (images?.db) results.push(...(await copyChecks(c, images.store, images.db)));
  } finally {
    await images?.close();
  }
  results.push(await diskCheck(c.server.stateDir, o.diskFailBytes ?? 256 * 2 ** 20, o.diskWarnBytes ?? 2 * 2 ** 30));
  results.push(await firewallCheck(bootPorts(c)));
  results.push(await clockCheck(c, o.now?.() ?? new Date()));
  return results;
}

/** "OK    dhcp      message (advice)": fixed columns, one line per check. */
export function formatResult(r: CheckResult): string {
  return `${r.status.padEnd(5)} ${r.check.padEnd(10)} ${r.message}${r.advice ? ` (${r.advice})` : ''}`;
}

function interfaceCheck(c: DisklessConfig): CheckResult {
  const name = c.server.interface;
  if (name === undefined) {
    return c.dhcp.mode === 'off'
      ? ok('interface', 'server.interface unset; DHCP is off')
      : warn('interface', 'server.interface is not set: DHCP answers on every interface of this host', 'set server.interface to the boot LAN\'s interface');
  }
  const a = interfaceAddress(name);
  if (a === undefined) {
    const known = hostInterfaces().map((i) => `${i.name} ${i.address}`).join(', ') || 'none';
    return fail('interface', `${name} does not exist or has no IPv4 address (interfaces: ${known})`, 'set server.interface to the boot LAN\'s interface');
  }
  if (a.address !== c.server.address) return fail('interface', `server.address ${c.server.address} is not ${name}'s address (${a.address}/${a.prefix})`, `set server.address: ${a.address}`);
  return ok('interface', `${name} has ${a.address}/${a.prefix}`);
}

async function dhcpCheck(c: DisklessConfig, waitMs: number): Promise<CheckResult> {
  const name = c.server.interface;
  const a = name === undefined ? undefined : interfaceAddress(name);
  if (name === undefined || a === undefined) return warn('dhcp', 'no interface to ask for other DHCP servers', 'set server.interface');
  let answers: DhcpResponder[];
  try {
    answers = await probeDhcpServers({ interface: name, mac: a.mac, waitMs, pxe: true });
  } catch (e) {
    return warn('dhcp', `could not ask ${name} for DHCP servers: ${(e as Error).message}`, 'run diskless doctor as root, with nothing else bound to port 68');
  }
  const ours = answers.filter((r) => r.serverId === c.server.address);
  const others = answers.filter((r) => r.serverId !== c.server.address);
  const who = others.map((r) => `${r.serverId}${r.offered !== '0.0.0.0' ? ` (offered ${r.offered})` : ' (proxyDHCP)'}`).join(', ');
  const oursToo = ours.length ? '; this server answers too' : '';
  if (c.dhcp.mode === 'full') {
    if (others.length) return fail('dhcp', `another DHCP server answers on ${name}: ${who}${oursToo}`, 'two servers would hand out addresses: set dhcp.mode: proxy to boot machines beside it, or stop it');
    return ok('dhcp', `no other DHCP server answers on ${name}${oursToo}`);
  }
  // proxy: someone else must hand out the addresses.
  const addressing = others.filter((r) => r.offered !== '0.0.0.0');
  if (addressing.length === 0) return fail('dhcp', `no DHCP server hands out addresses on ${name}${oursToo}`, 'proxy mode needs one: start the site\'s DHCP server, or set dhcp.mode: full with a pool');
  return ok('dhcp', `${who} hands out addresses on ${name}; proxy mode boots machines beside it${oursToo}`);
}

/** The ports this config's services bind, with the address they bind. */
function servicePorts(c: DisklessConfig): Array<BootPort & { address: string; key: string }> {
  const ports: Array<BootPort & { address: string; key: string }> = [];
  if (c.dhcp.mode !== 'off') ports.push({ proto: 'udp', port: 67, what: 'DHCP', address: '0.0.0.0', key: 'dhcp.mode' });
  if (c.dhcp.mode === 'proxy') ports.push({ proto: 'udp', port: 4011, what: 'proxyDHCP', address: '0.0.0.0', key: 'dhcp.mode' });
  ports.push({ proto: 'udp', port: c.server.tftpPort, what: 'TFTP', address: c.server.address, key: 'server.tftp_port' });
  ports.push({ proto: 'tcp', port: c.server.httpPort, what: 'HTTP', address: c.server.address, key: 'server.http_port' });
  ports.push({ proto: 'tcp', port: c.server.httpsPort, what: 'HTTPS (node secrets)', address: c.server.address, key: 'server.https_port' });
  if ([...c.profiles.values()].some((p) => p.root?.mode === 'nbd')) ports.push({ proto: 'tcp', port: c.server.nbdPort, what: 'NBD', address: c.server.address, key: 'server.nbd_port' });
  ports.push({ proto: 'tcp', port: c.api.port, what: 'admin API', address: c.api.address, key: 'api.port' });
  return ports;
}

/** What the boot LAN must reach through the firewall (the admin API is not for the LAN). */
function bootPorts(c: DisklessConfig): BootPort[] {
  return servicePorts(c).filter((p) => p.key !== 'api.port').map(({ proto, port, what }) => ({ proto, port, what }));
}

async function portChecks(c: DisklessConfig): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const p of servicePorts(c)) {
    const name = `port ${p.port}/${p.proto}`;
    const s = await checkPort(p.proto, p.address, p.port);
    if (s.state === 'free') results.push(ok('ports', `${name} (${p.what}) is free`));
    else if (s.state === 'unavailable') results.push(warn('ports', `${name} (${p.what}) cannot be checked: ${s.reason}`, 'run diskless doctor as root on the boot server'));
    else if (s.owners.length > 0 && s.owners.every(isDisklessServe)) results.push(ok('ports', `${name} (${p.what}) is ours: diskless serve (pid ${s.owners.map((o) => o.pid).join(', ')})`));
    else {
      const by = s.owners.filter((o) => !isDisklessServe(o)).map((o) => `${o.command.split(' ')[0]?.split('/').at(-1)} (pid ${o.pid})`).join(', ') || 'another process';
      const advice = p.key === 'dhcp.mode' ? `stop ${by} or set dhcp.mode: off` : `stop ${by} or move Diskless to another port (${p.key})`;
      results.push(fail('ports', `${name} (${p.what}) is taken by ${by}`, advice));
    }
  }
  return results;
}

async function readable(path: string): Promise<string | undefined> {
  try {
    await access(path, constants.R_OK);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${path} does not exist` : `${path} is not readable (${(e as NodeJS.ErrnoException).code})`;
  }
}

async function loaderChecks(c: DisklessConfig): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const missing: string[] = [];
  for (const f of ['undionly.kpxe', 'ipxe.efi']) if (await readable(join(c.server.ipxeDir, f))) missing.push(f);
  results.push(missing.length
    ? fail('loaders', `iPXE ${missing.join(', ')} missing in ${c.server.ipxeDir}`, 'apt install ipxe, or set server.ipxe_dir')
    : ok('loaders', `iPXE for BIOS and UEFI in ${c.server.ipxeDir}`));
  const pxelinux = [...c.profiles.values()].some((p) => p.loader === 'pxelinux') || c.nodes.some((n) => n.loader === 'pxelinux');
  if (pxelinux) {
    const found = async (f: string) => {
      for (const d of c.server.syslinuxDirs) if (!(await readable(join(d, f)))) return true;
      return false;
    };
    const lacking = [];
    for (const f of ['pxelinux.0', 'ldlinux.c32']) if (!(await found(f))) lacking.push(f);
    results.push(lacking.length
      ? fail('loaders', `pxelinux is used but ${lacking.join(', ')} is in none of ${c.server.syslinuxDirs.join(', ')}`, 'apt install pxelinux syslinux-common, or set server.syslinux_dirs')
      : ok('loaders', 'pxelinux.0 and ldlinux.c32 found'));
  }
  return results;
}

async function profileChecks(c: DisklessConfig, store: ImageStore): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const p of c.profiles.values()) {
    const check = 'profile';
    const problems: string[] = [];
    let what = '';
    if (p.image !== undefined) {
      try {
        const img = await store.resolve(p.image);
        what = `image ${p.image} version ${img.version}`;
        for (const [file, path] of [['vmlinuz', img.paths.kernel], ['initrd.img', img.paths.initrd], ['root.sqfs', img.paths.rootSqfs]] as const) {
          const r = await readable(path);
          if (r) problems.push(r);
          else {
            const want = img.manifest.files[file].size;
            const size = (await stat(path)).size;
            if (size !== want) problems.push(`${path} has ${size} bytes, its manifest says ${want}`);
          }
        }
      } catch (e) {
        results.push(fail(check, `profile ${p.name}: image ${p.image}: ${(e as Error).message}`, `build and publish one: diskless image build ${p.image} --from …, then diskless image publish ${p.image} VERSION`));
        continue;
      }
    } else {
      what = `kernel ${p.kernel}`;
      for (const f of [p.kernel, ...p.initrds, ...(p.root?.image ? [p.root.image] : [])]) {
        const r = await readable(f);
        if (r) problems.push(r);
      }
      if (p.root?.dir !== undefined && !existsSync(p.root.dir)) problems.push(`${p.root.dir} (root.dir) does not exist`);
    }
    for (const f of p.files) {
      if (f.source === undefined) continue;
      const r = await readable(f.source);
      if (r) problems.push(`files: ${r}`);
    }
    results.push(problems.length
      ? fail(check, `profile ${p.name}: ${problems.join('; ')}`, 'fix the paths in the profile, or rebuild the image')
      : ok(check, `profile ${p.name}: ${what}${p.root ? `, root ${p.root.mode}` : ''}: files readable`));
  }
  if (c.profiles.size === 0) results.push(warn('profiles', 'no profiles: no machine can boot', 'add one (see README: profiles)'));
  return results;
}

/**
 * Which machines each profile's kernel can boot (its header: kernel-arch.ts; a stored image's
 * published vmlinuz), and whether the loaders those machines are handed exist: arm64 UEFI
 * machines always get the arm64 signed chain, x86-64 UEFI ones the x64 chain under
 * `loader: grub` or `secure_boot: true`. A node whose `loader: pxelinux` (BIOS, x86 only) meets
 * an arm64 kernel can never boot (the config refuses it for a kernel file; a stored image's
 * kernel is known only here). DHCP refuses a machine of the wrong architecture at boot time.
 */
export async function archChecks(c: DisklessConfig, store?: ImageStore): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const archOf = new Map<string, KernelArch>();
  for (const p of c.profiles.values()) {
    if (p.kernelArch !== undefined) archOf.set(p.name, p.kernelArch);
    else if (p.image !== undefined && store !== undefined) {
      const kernel = await store.resolve(p.image).then((img) => img.paths.kernel, () => undefined);
      const arch = kernel === undefined ? undefined : kernelFileArch(kernel);
      if (arch?.ok) archOf.set(p.name, arch.arch);
    }
  }
  if (archOf.size === 0) return results;
  for (const n of c.nodes) {
    const loader = n.loader ?? c.profiles.get(n.profile)?.loader;
    if (loader === 'pxelinux' && archOf.get(n.profile) === 'arm64') {
      results.push(fail('arch', `node ${n.hostname ?? n.mac ?? '?'}: loader pxelinux boots only x86 BIOS machines, and profile ${n.profile}'s kernel is arm64`, 'give the node loader: grub, or a profile with an x86 kernel'));
    }
  }
  const needs: Array<['x64' | 'arm64', string]> = [];
  const profiles = [...c.profiles.values()];
  const arm = profiles.filter((p) => archOf.get(p.name) === 'arm64').map((p) => p.name);
  if (arm.length > 0) needs.push(['arm64', `profile ${arm.join(', ')} (arm64)`]);
  const x64 = profiles.filter((p) => archOf.get(p.name) === 'amd64' && (p.secureBoot || p.loader === 'grub' || c.nodes.some((n) => n.profile === p.name && n.loader === 'grub'))).map((p) => p.name);
  if (x64.length > 0) needs.push(['x64', `profile ${x64.join(', ')} (x86-64, loader grub or secure_boot)`]);
  for (const [arch, who] of needs) {
    const chain = c.server.signedBoot[arch];
    const problems = (await Promise.all([chain.shim, chain.grub].map(readable))).filter((r) => r !== undefined);
    results.push(problems.length > 0
      ? fail('arch', `${who}: its UEFI machines get shim → GRUB, but ${problems.join('; ')}`, arch === 'arm64'
        ? 'apt-get download shim-signed:arm64 grub-efi-arm64-signed:arm64 and unpack them where server.signed_boot.arm64 says (dpkg --add-architecture arm64 first), or set it'
        : 'apt install shim-signed grub-efi-amd64-signed, or set server.signed_boot.x64')
      : ok('arch', `${who}: the ${arch} signed chain is there (${chain.shim}, ${chain.grub})`));
  }
  const summary = [...archOf].map(([name, a]) => `${name} ${KERNEL_ARCH_NAMES[a]}`).join(', ');
  results.push(ok('arch', `profile kernels: ${summary}; DHCP refuses machines of another architecture`));
  return results;
}

/**
 * With a state database: whether every live boot server holds the published version of every
 * image a profile boots, one line per server and image (a failed fetch since it was published
 * counts, whenever it was recorded).
 */
export async function copyChecks(c: DisklessConfig, store: ImageStore, db: Queryable): Promise<CheckResult[]> {
  const check = 'copies';
  const results: CheckResult[] = [];
  const wanted = new Set([...c.profiles.values()].flatMap((p) => (p.image === undefined ? [] : [p.image])));
  const published = new Map((await store.list()).map((i) => [i.name, i.published]));
  for (const image of [...wanted].sort()) {
    const version = published.get(image);
    if (!version) continue; // the profile line says it has none
    const copies = await copiesOnLiveServers(db, image, version, new Date(0));
    if (copies.length === 0) results.push(warn(check, `${image}@${version}: no live boot server is registered in the state database`, 'start diskless serve on the boot servers'));
    for (const copy of copies) {
      const what = `${copy.server}: ${image}@${version}`;
      if (copy.state === 'present') results.push(ok(check, `${what} present`));
      else if (copy.state === 'failed') results.push(fail(check, `${what} missing: its fetch failed: ${copy.error ?? 'no reason recorded'}`, `make ${copy.server}'s peers' boot HTTP listeners reachable from it (or the copy on them whole again), then restart ${copy.server} or publish ${image} ${version} again`));
      else results.push(warn(check, `${what} missing: no copy reported`, `${copy.server} fetches published versions at start and on each publish: check its log ("image version missing here and not fetched"), or restart it`));
    }
  }
  return results;
}

async function diskCheck(stateDir: string, failBytes: number, warnBytes: number): Promise<CheckResult> {
  let dir = stateDir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const s = await statfs(dir);
  const free = s.bavail * s.bsize;
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
  const message = `${gib(free)} free for ${stateDir}`;
  if (free < failBytes) return fail('disk', message, 'images, their builds and the event log need room: free some, or move server.state_dir');
  if (free < warnBytes) return warn('disk', message, 'an image build needs a few hundred MiB, each version about the size of its squashfs: free some soon');
  return ok('disk', message);
}

async function firewallCheck(ports: readonly BootPort[]): Promise<CheckResult> {
  const tool = async (argv: string[]) => {
    try {
      return (await run(argv, { timeoutMs: 10_000 })).stdout;
    } catch (e) {
      const f = (e as { failure?: string }).failure;
      return f === 'not-found' ? undefined : e as Error;
    }
  };
  let chains;
  let source: string;
  const nft = await tool(['nft', 'list', 'ruleset']);
  if (typeof nft === 'string') {
    chains = nftInputChains(nft);
    source = 'nft';
  } else {
    const ipt = await tool(['iptables', '-S', 'INPUT']);
    if (typeof ipt === 'string') {
      chains = [iptablesInputChain(ipt)];
      source = 'iptables';
    } else if (nft instanceof Error || ipt instanceof Error) {
      return warn('firewall', `cannot read the firewall rules: ${((nft instanceof Error ? nft : ipt) as Error).message.split('\n')[0]}`, 'run diskless doctor as root');
    } else return ok('firewall', 'neither nft nor iptables is installed: no host firewall to check');
  }
  const dropped = droppedPorts(chains, ports);
  if (dropped.length === 0) return ok('firewall', `${source}: the boot ports are let in (${ports.map((p) => `${p.port}/${p.proto}`).join(', ')})`);
  const list = dropped.map((d) => `${d.port.port}/${d.port.proto} (${d.port.what}) by ${d.by}`).join('; ');
  const udp = dropped.filter((d) => d.port.proto === 'udp').map((d) => d.port.port);
  const tcp = dropped.filter((d) => d.port.proto === 'tcp').map((d) => d.port.port);
  const rule = [udp.length ? `udp dport { ${udp.join(', ')} } accept` : '', tcp.length ? `tcp dport { ${tcp.join(', ')} } accept` : ''].filter(Boolean).join(' and ');
  return fail('firewall', `dropped: ${list}`, `let them in from the boot LAN before that rule, e.g. ${rule}`);
}

/**
 * Tokens expire by the clock and the server's certificate is checked against it: a clock far
 * off breaks boots in ways that look like network faults. Checks the year, the certificate's
 * validity window, and that nothing in the state directory was written in the future (the
 * clock went back).
 */
async function clockCheck(c: DisklessConfig | undefined, now: Date): Promise<CheckResult> {
  if (now.getUTCFullYear() < 2025) return fail('clock', `the clock says ${now.toISOString()}`, 'set the time (timedatectl set-ntp true, or date -s)');
  if (c !== undefined) {
    const pem = await readFile(c.server.tlsCertFile, 'utf8').catch(() => undefined);
    if (pem !== undefined) {
      try {
        const cert = new X509Certificate(pem);
        if (new Date(cert.validFrom) > now) return fail('clock', `the clock (${now.toISOString()}) is before the server certificate's start (${cert.validFrom})`, 'the clock went back: set the time');
        if (new Date(cert.validTo) < now) return fail('clock', `the server certificate expired ${cert.validTo}`, `remove ${c.server.tlsCertFile} and its key to have a new one made, and rebuild the images' initrds`);
      } catch {
        // An unreadable certificate is serve's to report (it refuses to start).
      }
    }
    const future = await newestMtime(c.server.stateDir);
    if (future !== undefined && future > now.getTime() + 5 * 60_000) {
      return warn('clock', `files in ${c.server.stateDir} were written at ${new Date(future).toISOString()}, after now (${now.toISOString()})`, 'the clock went back: check the time source');
    }
  }
  const synced = existsSync('/run/systemd/timesync/synchronized') ? ', synchronized by systemd-timesyncd' : '';
  return ok('clock', `${now.toISOString()}${synced}`);
}

async function newestMtime(dir: string): Promise<number | undefined> {
  let newest: number | undefined;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s && (newest === undefined || s.mtimeMs > newest)) newest = s.mtimeMs;
  }
  return newest;
}
