import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import { initrdServerCerts, openImageStore, openRunningVersions, openVersionPins } from '../app/state-backend.js';
import { missingCopyReason, publishAndWait, PUBLISH_WAIT_SEC } from '../postgres/image-catalog.js';
import type { Database } from '../postgres/database.js';
import { buildImage, networkInitrdBuilder, type InitrdBuilder } from '../images/build-image.js';
import { spawnChrootCommand } from '../images/chroot-command.js';
import { importImage } from '../images/import-oci.js';
import { imageShell, type ImageShellResult, type SignalSource } from '../images/image-shell.js';
import { ImageStore, type InUse } from '../images/store/image-store.js';
import type { DisklessConfig } from '../config/types.js';
import { ProgressBar } from './progress.js';
import { reportError } from './error-report.js';

const HELP = `Usage: diskless image build NAME --from DIR|TAR|mmdebstrap:SUITE [--include pkg,pkg] [--arch ARCH] [--kernel VERSION] [--config FILE]
       diskless image import NAME SOURCE [--kernel-from IMAGE[@V]|DIR|FILE.deb] [--kernel VERSION]
                             [--ca PEM] [--authfile FILE] [--no-tls-verify] [--config FILE]
       diskless image list [--config FILE]
       diskless image show NAME [VERSION] [--config FILE]
       diskless image publish NAME VERSION [--wait SECONDS] [--config FILE]
       diskless image rollback NAME [--config FILE]
       diskless image rm NAME VERSION [--force] [--config FILE]
       diskless image gc [--keep N] [--config FILE]
       diskless image shell NAME [--version V] [--config FILE] [-- COMMAND ARGS...]

Images live in STATE_DIR/images (server.state_dir of the config). "build" makes a new version
(root.sqfs, the root's kernel, and an initrd from that kernel's modules) without publishing it;
nodes boot the published version. With \`state: postgres://…\` the pointers and version lists
are in the database and each server keeps copies of the versions: a server lacking a published
version fetches it from a live peer by content hash, and "publish" waits (--wait, default 120 s)
until every live server holds it, or names those that do not and why; "rm" and "gc" remove a
version from every server (each drops its copy when told, or at its next start). The kernel is found where distributions keep it
(/boot/vmlinuz-VERSION, /usr/lib/modules/VERSION/vmlinuz, Arch's /boot/vmlinuz-linux); of
several, the newest, or the one --kernel names. --include names the packages mmdebstrap adds
to minbase: include a kernel, e.g. --include linux-image-amd64, or the build is refused.
--arch builds another architecture's Debian (arm64 on an x86-64 server: --arch arm64 --include
linux-image-arm64), its package scripts run under qemu-user (qemu-user-static, binfmt_misc);
the initrd is always built for the image kernel's architecture.
"import" makes a version from a container image: SOURCE is docker://REGISTRY/REPO[:TAG],
oci-archive:FILE, docker-archive:FILE or oci:DIR[:TAG] (skopeo reads it, umoci applies its
layers). TLS is verified; --ca trusts a private registry's CA; credentials come from --authfile
or \`skopeo login\`. An image without a kernel takes one, with its modules, from --kernel-from:
a stored image NAME[@VERSION], a root tree (a path with a /) or a kernel .deb.
"shell" (root) unpacks a version (default: the published one, else the newest), runs COMMAND
or a login shell chrooted in it with /proc, /sys and /dev bound and services kept from starting,
and stores the result as a new unpublished version if it exits 0; otherwise it is discarded.
`;

export interface ImageCommandIo {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
  /** Tests replace the initramfs build, which needs a full kernel module tree. */
  buildInitrd?: InitrdBuilder;
  /** `image shell`: where the chrooted command's output goes (default: the terminal, inherited). */
  shellOutput?: (s: string) => void;
  signals?: SignalSource;
}

const ARGS: Record<string, readonly [min: number, max: number, usage: string]> = {
  build: [1, 1, 'NAME'],
  import: [2, 2, 'NAME SOURCE'],
  list: [0, 0, ''],
  show: [1, 2, 'NAME [VERSION]'],
  publish: [2, 2, 'NAME VERSION'],
  rollback: [1, 1, 'NAME'],
  rm: [2, 2, 'NAME VERSION'],
  gc: [0, 0, ''],
  shell: [1, 1, 'NAME'],
};

/**
 * Who runs a version, by hostname where the inventory has one, from the server's record, and
 * who is pinned to it (a rollout's pin: the node's next boot loads it).
 */
async function nodesRunning(config: DisklessConfig): Promise<InUse> {
  const { running, close } = await openRunningVersions(config);
  await close();
  const opened = await openVersionPins(config);
  await opened.close();
  const pins = opened.pins;
  const names = new Map(config.nodes.flatMap((n) => (n.mac === undefined ? [] : [[n.mac, n.hostname ? `${n.hostname} (${n.mac})` : n.mac] as const])));
  return (image, version) => {
    const runners = running.runners(image, version, new Set(names.keys()));
    const pinned = pins.pinnedTo(image, version).filter((m) => names.has(m) && !runners.includes(m));
    return [...runners.map((m) => names.get(m) ?? m), ...pinned.map((m) => `${names.get(m) ?? m} (pinned)`)];
  };
}

export async function imageCommand(argv: string[], io: ImageCommandIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    out(HELP);
    return sub === undefined ? 2 : 0;
  }
  const arity = ARGS[sub];
  if (!arity) {
    err(`diskless image: unknown subcommand "${sub}"\n\n${HELP}`);
    return 2;
  }
  // Everything after "--" is the command to run inside the image, options included.
  const dashes = sub === 'shell' ? rest.indexOf('--') : -1;
  const command = dashes >= 0 ? rest.slice(dashes + 1) : [];
  let parsed;
  try {
    parsed = parseArgs({
      args: dashes >= 0 ? rest.slice(0, dashes) : rest,
      options: {
        config: { type: 'string', short: 'c' },
        from: { type: 'string' },
        include: { type: 'string' },
        arch: { type: 'string' },
        kernel: { type: 'string' },
        'kernel-from': { type: 'string' },
        ca: { type: 'string' },
        authfile: { type: 'string' },
        'no-tls-verify': { type: 'boolean' },
        force: { type: 'boolean' },
        keep: { type: 'string' },
        version: { type: 'string' },
        wait: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    err(`diskless image ${sub}: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(HELP);
    return 0;
  }
  const usage = (msg: string) => {
    err(`diskless image ${sub}: ${msg}\n\n${HELP}`);
    return 2;
  };
  const [min, max, names] = arity;
  if (positionals.length < min || positionals.length > max) return usage(names ? `expects ${names}` : 'takes no arguments');
  if (sub !== 'build' && (values.from !== undefined || values.include !== undefined || values.arch !== undefined)) return usage('--from, --include and --arch only apply to build');
  if (sub !== 'rm' && values.force) return usage('--force only applies to rm');
  if (sub !== 'build' && sub !== 'import' && values.kernel !== undefined) return usage('--kernel only applies to build and import');
  for (const opt of ['kernel-from', 'ca', 'authfile', 'no-tls-verify'] as const) {
    if (sub !== 'import' && values[opt] !== undefined) return usage(`--${opt} only applies to import`);
  }
  if (values['no-tls-verify'] && values.ca !== undefined) return usage('--ca and --no-tls-verify contradict each other');
  if (sub !== 'gc' && values.keep !== undefined) return usage('--keep only applies to gc');
  const keep = values.keep === undefined ? 2 : Number(values.keep);
  if (!Number.isInteger(keep) || keep < 0 || keep > 100) return usage(`--keep must be a whole number of rollback versions to keep, 0 to 100 (got "${values.keep}")`);
  if (sub !== 'shell' && values.version !== undefined) return usage('--version only applies to shell');
  if (sub !== 'publish' && values.wait !== undefined) return usage('--wait only applies to publish');
  const waitSec = values.wait === undefined ? PUBLISH_WAIT_SEC : Number(values.wait);
  if (!Number.isInteger(waitSec) || waitSec < 0 || waitSec > 86_400) return usage(`--wait must be a whole number of seconds, 0 to 86400 (got "${values.wait}")`);
  if (sub === 'build' && !values.from) return usage('--from DIR|TAR|mmdebstrap:SUITE is required');

  let opened: { store: ImageStore; db?: Database; close(): Promise<void> } | undefined;
  try {
    const config = loadConfigFrom(values.config);
    opened = await openImageStore(config);
    const { store, db } = opened;
    const [name = '', version] = positionals;
    // The initrd carries this server's certificate (made now if the server has none yet), and
    // with a shared state database every boot server's, so its nodes hand their secrets token
    // only to these servers.
    const initrdBuilder = async () => io.buildInitrd ?? networkInitrdBuilder(await initrdServerCerts(config));
    // What build and import share: step lines on stderr, where a terminal also gets a redrawn
    // initrd bar (a log plain lines), a work directory beside the store so the results are
    // hard-linked into it rather than copied, and the initrd builder.
    const making = async () => {
      const initrdBar = new ProgressBar({ label: '  initrd archive', unit: 'bytes', output: io.stderr ? { write: err } : process.stderr });
      return {
        progress: (msg: string) => {
          initrdBar.finish();
          err(`${msg}\n`);
        },
        initrdProgress: (done: number, total: number) => initrdBar.update(done, total),
        workDir: join(config.server.stateDir, 'tmp'),
        buildInitrd: await initrdBuilder(),
      };
    };
    switch (sub) {
      case 'build': {
        const include = values.include?.split(',').map((p) => p.trim()).filter(Boolean);
        const m = await buildImage({
          store,
          name,
          from: values.from!,
          ...(include ? { include } : {}),
          ...(values.arch !== undefined ? { arch: values.arch } : {}),
          ...(values.kernel !== undefined ? { kernel: values.kernel } : {}),
          ...(await making()),
        });
        out(`built ${m.name}@${m.version} (kernel ${m.kernelVersion}, ${mib(m.size)}); publish it with: diskless image publish ${m.name} ${m.version}\n`);
        return 0;
      }
      case 'import': {
        const m = await importImage({
          store,
          name,
          source: positionals[1]!,
          ...(values.kernel !== undefined ? { kernel: values.kernel } : {}),
          ...(values['kernel-from'] !== undefined ? { kernelFrom: values['kernel-from'] } : {}),
          registry: {
            ...(values['no-tls-verify'] ? { tlsVerify: false } : {}),
            ...(values.ca !== undefined ? { caFile: values.ca } : {}),
            ...(values.authfile !== undefined ? { authFile: values.authfile } : {}),
          },
          ...(await making()),
        });
        out(`imported ${m.name}@${m.version} from ${m.source?.digest ?? '?'} (kernel ${m.kernelVersion}, ${mib(m.size)}); publish it with: diskless image publish ${m.name} ${m.version}\n`);
        return 0;
      }
      case 'list':
        out(await listTable(store));
        return 0;
      case 'show': {
        const s = await store.show(name, version);
        out(`${JSON.stringify({ ...s.manifest, published: s.published, dir: s.paths.dir }, null, 2)}\n`);
        return 0;
      }
      case 'publish': {
        if (!db) {
          const p = await store.publish(name, version!);
          out(`published ${name}@${p.version}${p.previous[0] ? ` (was ${p.previous[0]})` : ''}\n`);
          return 0;
        }
        const { published: p, copies } = await publishAndWait(db, name, () => store.publish(name, version!), waitSec * 1000);
        out(`published ${name}@${p.version}${p.previous[0] ? ` (was ${p.previous[0]})` : ''}\n`);
        const missing = copies.filter((c) => c.state !== 'present');
        if (missing.length === 0) {
          out(`present on ${copies.length} live server(s): ${copies.map((c) => c.server).join(', ') || 'none registered'}\n`);
          return 0;
        }
        err(`diskless image publish: ${name}@${p.version} is published but missing on ${missing.length} of ${copies.length} live server(s):\n`);
        for (const c of missing) err(`  ${c.server}: ${missingCopyReason(c, waitSec)}\n`);
        err(`Nodes booting from those servers wait for their copy; check their logs ("image version missing here").\n`);
        return 1;
      }
      case 'rollback': {
        const p = await store.rollback(name);
        out(`rolled ${name} back to ${p.version}\n`);
        return 0;
      }
      case 'gc': {
        // Published, the newest rollback targets, unpublished new builds and anything a node
        // was last given all stay.
        const removed = await store.collectGarbage(await nodesRunning(config), { keepPrevious: keep });
        for (const r of removed) out(`removed ${r.name}@${r.version}\n`);
        out(removed.length ? `${removed.length} version(s) removed\n` : 'nothing to remove\n');
        return 0;
      }
      case 'rm': {
        const r = await store.remove(name, version!, { force: values.force ?? false, inUse: await nodesRunning(config) });
        if (r.warning) err(`warning: ${r.warning}\n`);
        out(`removed ${name}@${version}\n`);
        return 0;
      }
      case 'shell': {
        const r = await imageShell({
          store,
          name,
          ...(values.version !== undefined ? { version: values.version } : {}),
          command,
          // Beside the store, as for build: the new version's files are hard-linked into it.
          workDir: join(config.server.stateDir, 'tmp'),
          progress: (msg) => err(`${msg}\n`),
          ...(process.env.SHELL ? { shell: process.env.SHELL } : {}),
          ...(process.env.TERM ? { term: process.env.TERM } : {}),
          buildInitrd: await initrdBuilder(),
          ...(io.shellOutput ? { runCommand: spawnChrootCommand(io.shellOutput) } : {}),
          ...(io.signals ? { signals: io.signals } : {}),
        });
        return reportShell(r, out, err);
      }
    }
    return 2;
  } catch (e) {
    return reportError(e, err, `diskless image ${sub}`);
  } finally {
    await opened?.close();
  }
}

function reportShell(r: ImageShellResult, out: (s: string) => void, err: (s: string) => void): number {
  for (const w of r.warnings) err(`warning: ${w}\n`);
  switch (r.outcome) {
    case 'unchanged':
      out(`no changes: ${r.name}@${r.from} is unchanged, nothing stored\n`);
      break;
    case 'stored': {
      const m = r.manifest;
      const what = r.alreadyStored ? `the result is ${m.name}@${m.version}, already stored` : `new version ${m.name}@${m.version} (parent ${r.from}, not published)`;
      out(`${what}; publish it with: diskless image publish ${m.name} ${m.version}\n`);
      break;
    }
    case 'discarded':
      err(`changes to ${r.name}@${r.from} discarded: ${r.reason}\n`);
      break;
  }
  return r.status;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function listTable(store: ImageStore): Promise<string> {
  const images = await store.list();
  const rows: string[][] = [['NAME', 'VERSION', 'CREATED', 'SIZE', 'KERNEL', 'PUBLISHED']];
  for (const img of images) {
    for (const m of img.versions) {
      rows.push([m.name, m.version, m.created.replace(/\.\d+Z$/, 'Z'), mib(m.size), m.kernelVersion, m.version === img.published ? '*' : '']);
    }
  }
  if (rows.length === 1) return 'no images\n';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('');
}
