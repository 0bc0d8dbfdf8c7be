import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/yaml-fields.js';
import { buildImage, ImageBuildError, type InitrdBuilder } from '../images/build-image.js';
import { ImageStore, StoreError } from '../images/store/image-store.js';

const HELP = `Usage: diskless image build NAME --from DIR|TAR|mmdebstrap:SUITE [--include pkg,pkg] --config FILE
       diskless image list --config FILE
       diskless image show NAME [VERSION] --config FILE
       diskless image publish NAME VERSION --config FILE
       diskless image rollback NAME --config FILE
       diskless image rm NAME VERSION [--force] --config FILE

Images live in STATE_DIR/images (server.state_dir of the config). "build" makes a new version
(root.sqfs, the newest /boot/vmlinuz-* of the root, and an initrd from its modules) without
publishing it; nodes boot the published version. --include names the packages mmdebstrap adds
to minbase: include a kernel, e.g. --include linux-image-amd64, or the build is refused.
`;

export interface ImageCommandIo {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
  /** Tests replace the initramfs build, which needs a full kernel module tree. */
  buildInitrd?: InitrdBuilder;
}

const ARGS: Record<string, readonly [min: number, max: number, usage: string]> = {
  build: [1, 1, 'NAME'],
  list: [0, 0, ''],
  show: [1, 2, 'NAME [VERSION]'],
  publish: [2, 2, 'NAME VERSION'],
  rollback: [1, 1, 'NAME'],
  rm: [2, 2, 'NAME VERSION'],
};

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
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c' },
        from: { type: 'string' },
        include: { type: 'string' },
        force: { type: 'boolean' },
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
  if (!values.config) return usage('--config FILE is required');
  if (sub !== 'build' && (values.from !== undefined || values.include !== undefined)) return usage('--from and --include only apply to build');
  if (sub !== 'rm' && values.force) return usage('--force only applies to rm');
  if (sub === 'build' && !values.from) return usage('--from DIR|TAR|mmdebstrap:SUITE is required');

  try {
    const config = loadConfig(values.config);
    const store = new ImageStore({ root: join(config.server.stateDir, 'images') });
    const [name = '', version] = positionals;
    switch (sub) {
      case 'build': {
        const include = values.include?.split(',').map((p) => p.trim()).filter(Boolean);
        const m = await buildImage({
          store,
          name,
          from: values.from!,
          ...(include ? { include } : {}),
          progress: (msg) => err(`${msg}\n`),
          // Beside the store so the results are hard-linked into it rather than copied.
          workDir: join(config.server.stateDir, 'tmp'),
          ...(io.buildInitrd ? { buildInitrd: io.buildInitrd } : {}),
        });
        out(`built ${m.name}@${m.version} (kernel ${m.kernelVersion}, ${mib(m.size)}); publish it with: diskless image publish ${m.name} ${m.version}\n`);
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
        const p = await store.publish(name, version!);
        out(`published ${name}@${p.version}${p.previous[0] ? ` (was ${p.previous[0]})` : ''}\n`);
        return 0;
      }
      case 'rollback': {
        const p = await store.rollback(name);
        out(`rolled ${name} back to ${p.version}\n`);
        return 0;
      }
      case 'rm': {
        // No record of which node runs which version exists yet; until the boot services keep
        // one, nothing counts as in use and only the published version is protected.
        const r = await store.remove(name, version!, { force: values.force ?? false, inUse: () => [] });
        if (r.warning) err(`warning: ${r.warning}\n`);
        out(`removed ${name}@${version}\n`);
        return 0;
      }
    }
    return 2;
  } catch (e) {
    if (e instanceof StoreError || e instanceof ImageBuildError) err(`diskless image ${sub}: ${e.message}\n`);
    else if (e instanceof ConfigError) err(`diskless: config error: ${e.message}\n`);
    else throw e;
    return 1;
  }
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
