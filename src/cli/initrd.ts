import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { listInitramfs } from '../initramfs/list.js';
import { buildNetworkInitrd } from '../initramfs/network-initrd.js';
import { loadConfigFrom } from '../config/config-path.js';
import { initrdServerCerts } from '../app/state-backend.js';
import { pemCertificates } from '../tls/server-certificate.js';
import { ProgressBar } from './progress.js';
import type { RootMode } from '../config/types.js';

const HELP = `Usage: diskless initrd build --output FILE [--config FILE | --server-cert PEM] [--root DIR]
                            [--kernel VERSION] [--drivers a,b] [--modules x,y]
                            [--root-modes nbd,nfs] [--compression zstd|gzip|none]
       diskless initrd build --list FILE

Builds the network initramfs from an image's own kernel modules (ROOT/lib/modules/VERSION or
ROOT/usr/lib/modules/VERSION; compressed .ko.gz/.xz/.zst ones are carried decompressed): by
default every network driver of that kernel, so one initrd boots any NIC; --drivers
e1000,virtio_net makes a small one for known hardware instead. Always carries squashfs,
overlay and loop, and nbd and nfs when the kernel has them (--root-modes nbd,nfs makes them
required), the firmware those drivers name when the image has it, the image's modprobe.d,
a static busybox, nbd-client, openssl and the Diskless /init.
It carries the boot server's certificate (server.tls_cert of the config, made if the server
has none yet, and with state: postgres://… every boot server's that started on the database;
or the certificates in --server-cert): nodes send their secrets token only to a server that
presents one of them.
--list shows what an existing initrd (ours or Debian's) contains.
`;

export async function initrdCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'build') {
    process.stdout.write(HELP);
    return sub === undefined || sub === '--help' || sub === '-h' ? 0 : 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      output: { type: 'string', short: 'o' },
      config: { type: 'string', short: 'c' },
      'server-cert': { type: 'string' },
      root: { type: 'string', default: '/' },
      kernel: { type: 'string' },
      drivers: { type: 'string' },
      modules: { type: 'string' },
      'root-modes': { type: 'string' },
      compression: { type: 'string', default: 'zstd' },
      list: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.list !== undefined) {
    const entries = await listInitramfs(values.list);
    for (const e of entries) {
      process.stdout.write(`${e.type.padEnd(7)} ${(e.mode & 0o7777).toString(8).padStart(4, '0')} ${String(e.size).padStart(10)} ${e.path}${e.target ? ` -> ${e.target}` : ''}\n`);
    }
    process.stdout.write(`${entries.length} entries\n`);
    return 0;
  }
  if (!values.output) {
    process.stderr.write(`diskless initrd build: --output FILE is required\n\n${HELP}`);
    return 2;
  }
  const compression = values.compression;
  if (compression !== 'zstd' && compression !== 'gzip' && compression !== 'none') {
    process.stderr.write(`diskless initrd build: --compression must be zstd, gzip or none (got "${compression}")\n`);
    return 2;
  }
  if (values.config !== undefined && values['server-cert'] !== undefined) {
    process.stderr.write(`diskless initrd build: give --config FILE (this server's certificate) or --server-cert PEM, not both\n\n${HELP}`);
    return 2;
  }
  const serverCerts = values['server-cert'] === undefined
    ? await initrdServerCerts(loadConfigFrom(values.config))
    : readFileSync(values['server-cert'], 'utf8');
  if (pemCertificates(serverCerts).length === 0) {
    process.stderr.write(`diskless initrd build: ${values['server-cert']} holds no PEM certificate\n`);
    return 2;
  }
  const list = (s: string | undefined) => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));
  const requireRootModes = list(values['root-modes']) ?? [];
  const badMode = requireRootModes.find((m) => m !== 'live' && m !== 'nbd' && m !== 'nfs');
  if (badMode !== undefined) {
    process.stderr.write(`diskless initrd build: --root-modes takes live, nbd and nfs (got "${badMode}")\n`);
    return 2;
  }
  const started = Date.now();
  const bar = new ProgressBar({ label: 'writing the initrd', unit: 'bytes' });
  const s = await buildNetworkInitrd({
    output: values.output,
    root: values.root,
    serverCerts,
    extraModules: list(values.modules) ?? [],
    drivers: list(values.drivers),
    compression,
    requireRootModes: requireRootModes as RootMode[],
    ...(values.kernel !== undefined ? { kernelVersion: values.kernel } : {}),
    onProgress: (done, total) => bar.update(done, total),
  });
  bar.finish();
  for (const w of s.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(
    `${s.path}: kernel ${s.kernelVersion}, ${s.moduleCount} modules, ${s.files} entries\n` +
      `  modules: ${s.modules.join(' ')}\n` +
      `  root modes: ${s.rootModes.join(', ')}; firmware: ${s.firmware.length} file(s) added${s.firmwareMissing > 0 ? `, ${s.firmwareMissing} named by the drivers not in the image` : ''}` +
      `${s.modprobeConfig.length > 0 ? `; modprobe.d: ${s.modprobeConfig.join(' ')}` : ''}\n` +
      `  size: ${(s.size / 1048576).toFixed(1)} MiB ${compression} (${(s.uncompressedBytes / 1048576).toFixed(1)} MiB uncompressed), built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return 0;
}
