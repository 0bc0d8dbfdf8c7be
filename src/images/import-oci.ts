import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { findKernel, findKernels, type ImageKernel, MODULE_DIRS } from '../initramfs/kernel-version.js';
import { resolveInRoot } from '../initramfs/root-path.js';
import { run } from '../process/run.js';
import { CommandError } from '../process/command.js';
import { ImageBuildError, type InitrdBuilder, storeRootVersion } from './build-image.js';
import { type ImageStore, type Manifest, validateName, validateVersion } from './store/image-store.js';

/**
 * `diskless image import`: a container image becomes a stored, unpublished version, as `image
 * build` makes. The container world's own engines do the work: skopeo reads every source (a
 * registry over its v2 API with token auth, an OCI or docker archive, an OCI layout) into an OCI
 * layout, and umoci applies the layers in order, with whiteouts and opaque directories, owners,
 * modes, xattrs and hard links, as a container runtime would.
 *
 * Container images rarely carry a kernel; `kernelFrom` takes one, with its own modules, from a
 * stored image, a root tree or a kernel package, and puts both into the tree: the booted system
 * loads its modules from the same kernel the node runs.
 */

export const SOURCE_FORMS = 'docker://REGISTRY/REPO[:TAG|@DIGEST], oci-archive:FILE, docker-archive:FILE or oci:DIR[:TAG]';

export interface RegistryOptions {
  /** Verify the registry's TLS certificate (default true). */
  tlsVerify?: boolean;
  /** A PEM file of the CA that signed a private registry's certificate, trusted besides the system's. */
  caFile?: string;
  /** A containers-auth.json(5) credentials file (what `skopeo login` or `podman login` write). */
  authFile?: string;
}

export interface ImportImageOptions {
  store: ImageStore;
  name: string;
  source: string;
  /** Scratch space (the layout, the unpacked tree, squashfs and initrd); removed afterwards. */
  workDir: string;
  buildInitrd: InitrdBuilder;
  registry?: RegistryOptions;
  /** The kernel version to boot when the tree has several. */
  kernel?: string;
  /** Where the kernel comes from when the image has none: a directory, a .deb, or a stored NAME[@VERSION]. */
  kernelFrom?: string;
  progress?: (msg: string) => void;
  initrdProgress?: (done: number, total: number) => void;
}

interface ParsedSource {
  transport: 'docker' | 'oci-archive' | 'docker-archive' | 'oci';
  /** As skopeo reads it. */
  ref: string;
}

/** The source as skopeo names it; paths made absolute. Anything else is refused with the forms it may take. */
export function parseImageSource(source: string): ParsedSource {
  const bad = (why: string) => new ImageBuildError(`Cannot import ${JSON.stringify(source)}: ${why}; the source is one of ${SOURCE_FORMS}`);
  if (source.startsWith('docker://')) {
    const rest = source.slice('docker://'.length);
    // A registry reference: host[:port]/path[:tag][@digest]; no spaces, controls or leading dash.
    if (!/^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/.test(rest) || rest.length > 512) throw bad('not a registry reference');
    return { transport: 'docker', ref: source };
  }
  for (const transport of ['oci-archive', 'docker-archive', 'oci'] as const) {
    const prefix = `${transport}:`;
    if (!source.startsWith(prefix)) continue;
    const rest = source.slice(prefix.length);
    if (rest === '') throw bad(`${prefix} needs a path`);
    if (/[\0\n]/.test(rest)) throw bad('the path holds a control character');
    return { transport, ref: `${prefix}${resolve(rest)}` };
  }
  throw bad('unknown transport');
}

/** docker://host/repo:tag → docker://host/repo@DIGEST: the copy reads exactly what was inspected, even if the tag moves. */
export function pinnedReference(ref: string, digest: string): string {
  const rest = ref.slice('docker://'.length);
  let base = rest.split('@')[0]!;
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  if (colon > slash) base = base.slice(0, colon);
  return `docker://${base}@${digest}`;
}

/** Imports `source` as a new unpublished version of `name`. */
export async function importImage(o: ImportImageOptions): Promise<Manifest> {
  validateName(o.name);
  const src = parseImageSource(o.source);
  if (src.transport === 'oci-archive' || src.transport === 'docker-archive') {
    const file = src.ref.slice(src.transport.length + 1);
    if (!(await stat(file).catch(() => undefined))?.isFile()) throw new ImageBuildError(`Cannot import ${o.source}: ${file} is not a file`);
  } else if (src.transport === 'oci') {
    // oci:DIR or oci:DIR:TAG; a DIR may hold a colon itself.
    const whole = src.ref.slice('oci:'.length);
    const dir = (await stat(whole).catch(() => undefined))?.isDirectory() ? whole : whole.replace(/:[^/:]*$/, '');
    if (!(await stat(join(dir, 'index.json')).catch(() => undefined))?.isFile()) {
      throw new ImageBuildError(`Cannot import ${o.source}: ${dir} is not an OCI layout (no index.json)`);
    }
  }
  if (o.registry?.caFile !== undefined && !(await stat(o.registry.caFile).catch(() => undefined))?.isFile()) {
    throw new ImageBuildError(`Cannot import ${o.source}: the CA file ${o.registry.caFile} does not exist`);
  }
  if (o.registry?.authFile !== undefined && !(await stat(o.registry.authFile).catch(() => undefined))?.isFile()) {
    throw new ImageBuildError(`Cannot import ${o.source}: the credentials file ${o.registry.authFile} does not exist`);
  }
  await mkdir(o.workDir, { recursive: true });
  const tmp = await mkdtemp(join(resolve(o.workDir), `import-${o.name}-`));
  const progress = o.progress ?? (() => {});
  try {
    // `inspect` takes these flags as they are, `copy` with "src-" for its source.
    const flags = await sourceFlags(src, o.registry ?? {}, tmp);
    const inspectFlags = flags.flatMap(([f, v]) => (v === undefined ? [`--${f}`] : [`--${f}`, v]));
    const copyFlags = flags.flatMap(([f, v]) => (v === undefined ? [`--src-${f}`] : [`--src-${f}`, v]));
    const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      progress(`${what}…`);
      const r = await fn();
      progress(`${what}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return r;
    };
    const raw = await timed(`reading the manifest of ${o.source}`, () => skopeo(['inspect', '--raw', ...inspectFlags, src.ref], o.source));
    const digest = `sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`;
    progress(`  ${o.source} is ${digest}`);
    const layout = join(tmp, 'layout');
    const from = src.transport === 'docker' ? pinnedReference(src.ref, digest) : src.ref;
    await timed(`pulling ${o.source}`, () =>
      skopeo(['copy', '--quiet=false', ...copyFlags, from, `oci:${layout}:import`], o.source, (l) => progress(`  ${l}`)));
    const root = join(tmp, 'root');
    // As root, umoci keeps the layers' owners; the tree is only ours until it is squashed.
    await timed('unpacking the layers', () =>
      run(['umoci', '--log', 'info', 'raw', 'unpack', '--image', `${layout}:import`, root], { onLine: (l) => progress(`  ${l.replace(/^\s*\S+\s+/, '')}`) }));
    let kernel = o.kernel;
    if (o.kernelFrom !== undefined) {
      const k = await timed(`adding the kernel from ${o.kernelFrom}`, () => addKernelFrom(root, o.kernelFrom!, o, tmp));
      progress(`  kernel ${k} with its modules`);
      kernel = k;
    }
    const parent = (await o.store.list()).find((s) => s.name === o.name)?.published ?? null;
    const r = await storeRootVersion({
      store: o.store,
      name: o.name,
      root,
      label: o.source,
      tmp,
      parent,
      buildInitrd: o.buildInitrd,
      source: { ref: o.source, digest },
      ...(kernel !== undefined ? { kernel } : {}),
      progress,
      ...(o.initrdProgress ? { initrdProgress: o.initrdProgress } : {}),
    });
    if (r.unchanged) throw new Error('unreachable: no unchangedSha256 was given');
    return r.manifest;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** skopeo's registry flags as [name, value]: a value is its own argv word. */
async function sourceFlags(src: ParsedSource, reg: RegistryOptions, tmp: string): Promise<Array<[string, string?]>> {
  if (src.transport !== 'docker') return [];
  const flags: Array<[string, string?]> = [];
  if (reg.tlsVerify === false) flags.push(['tls-verify=false']);
  if (reg.caFile !== undefined) {
    // skopeo trusts every *.crt of a directory as a CA, beside the system's.
    const certs = join(tmp, 'certs');
    await mkdir(certs);
    await copyFile(reg.caFile, join(certs, 'ca.crt'));
    flags.push(['cert-dir', certs]);
  }
  if (reg.authFile !== undefined) flags.push(['authfile', resolve(reg.authFile)]);
  return flags;
}

async function skopeo(args: string[], label: string, onLine?: (l: string) => void) {
  try {
    return await run(['skopeo', ...args], { timeoutMs: 60 * 60_000, ...(onLine ? { onLine } : {}) });
  } catch (e) {
    if (!(e instanceof CommandError) || e.failure !== 'exit') throw e;
    const said = e.message;
    const hint = /x509|certificate/i.test(said)
      ? ' (the registry\'s certificate is not trusted: --ca FILE trusts a private CA)'
      : /unauthorized|authentication required|denied/i.test(said)
        ? ' (credentials: --authfile FILE, or `skopeo login` beforehand)'
        : /http response to https|server gave HTTP response/i.test(said)
          ? ' (a registry without TLS needs --no-tls-verify)'
          : '';
    throw new ImageBuildError(`Cannot import ${label}${hint}: ${said}`);
  }
}

/** A kernel and its modules, as found in another place. */
interface KernelSource {
  version: string;
  kernelFile: string;
  /** The modules directory on the host. */
  modulesHostDir: string;
}

/**
 * Puts a kernel and its own modules into `root`: modules under the tree's /lib/modules/VERSION
 * (through its own /lib link on merged /usr), the kernel file beside them as vmlinuz (where
 * Red Hat keeps it). Refused when the tree already has modules for that version, which would mix.
 */
async function addKernelFrom(root: string, spec: string, o: ImportImageOptions, tmp: string): Promise<string> {
  const k = await kernelSource(spec, o, tmp);
  const have = await findKernels(root);
  if (have.kernels.some((x) => x.version === k.version)) {
    throw new ImageBuildError(`Cannot take the kernel from ${spec}: the image already has kernel ${k.version} of its own`);
  }
  const lib = await resolveInRoot(root, '/lib');
  const base = lib.ok && lib.stats.isDirectory() ? join(lib.hostPath, 'modules') : join(root, 'usr/lib/modules');
  await mkdir(base, { recursive: true });
  const dest = join(base, k.version);
  if ((await stat(dest).catch(() => undefined)) !== undefined) {
    throw new ImageBuildError(`Cannot take the kernel from ${spec}: the image already has ${dest.slice(root.length)}`);
  }
  await run(['cp', '-a', k.modulesHostDir, dest]);
  await copyFile(k.kernelFile, join(dest, 'vmlinuz'));
  return k.version;
}

const STORED = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:@(.+))?$/;

async function kernelSource(spec: string, o: ImportImageOptions, tmp: string): Promise<KernelSource> {
  const wanted = o.kernel;
  const fromTree = async (dir: string, label: string): Promise<KernelSource> => {
    let k: ImageKernel;
    try {
      k = await findKernel(dir, wanted);
    } catch (e) {
      throw new ImageBuildError(`Cannot take the kernel from ${label}: ${(e as Error).message.replace(dir, label)}`);
    }
    const mods = await resolveInRoot(dir, k.modulesDir);
    if (!mods.ok) throw new ImageBuildError(`Cannot take the kernel from ${label}: ${k.modulesDir}: ${mods.error}`);
    return { version: k.version, kernelFile: k.hostPath, modulesHostDir: mods.hostPath };
  };
  if (spec.includes('/') || spec.endsWith('.deb')) {
    const path = resolve(spec);
    const st = await stat(path).catch(() => undefined);
    if (st?.isDirectory()) return fromTree(path, spec);
    if (st?.isFile() && spec.endsWith('.deb')) {
      const dir = join(tmp, 'kernel-package');
      await run(['dpkg-deb', '-x', path, dir]);
      // A kernel package ships its modules without modules.dep (its postinst runs depmod).
      for (const b of MODULE_DIRS) {
        const where = await resolveInRoot(dir, b);
        if (!where.ok || !where.stats.isDirectory()) continue;
        for (const v of await readdir(where.hostPath)) {
          if (!(await stat(join(where.hostPath, v, 'modules.dep')).catch(() => undefined))) await run(['depmod', '-b', dir, v]);
        }
      }
      return fromTree(dir, spec);
    }
    throw new ImageBuildError(`Cannot take the kernel from ${spec}: it is neither a directory nor a .deb kernel package`);
  }
  const m = STORED.exec(spec);
  if (m === null) throw new ImageBuildError(`Cannot take the kernel from ${JSON.stringify(spec)}: give a directory, a .deb file or a stored image NAME[@VERSION]`);
  const name = validateName(m[1]!);
  const shown = await o.store.show(name, m[2] !== undefined ? validateVersion(m[2]) : undefined);
  const version = shown.manifest.kernelVersion;
  if (wanted !== undefined && wanted !== version) throw new ImageBuildError(`Cannot take kernel ${wanted} from ${spec}: it boots ${version}`);
  const dir = join(tmp, 'kernel-image');
  // Only the modules of the kernel that image boots; the kernel file is the store's own copy.
  await run(['unsquashfs', '-no-progress', '-d', dir, shown.paths.rootSqfs, ...MODULE_DIRS.map((d) => `${d.slice(1)}/${version}`)]);
  for (const d of MODULE_DIRS) {
    const mods = await resolveInRoot(dir, `${d}/${version}`);
    if (mods.ok && mods.stats.isDirectory()) return { version, kernelFile: shown.paths.kernel, modulesHostDir: mods.hostPath };
  }
  throw new ImageBuildError(`Cannot take the kernel from ${name}@${shown.version}: its root has no modules for ${version}`);
}

