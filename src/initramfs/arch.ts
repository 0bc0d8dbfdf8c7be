import { chooseKernelVersion } from './kernel-version.js';
import { parseElf64 } from './elf/elf64.js';
import { readModuleFile } from './modules/module-file.js';
import { loadModuleTree } from './modules/tree.js';
import { resolveInRoot } from './root-path.js';

/**
 * The machine architectures an initrd can be built for, by Debian's names (what apt and dpkg
 * take: `nbd-client:arm64`).
 */
export type CpuArch = 'amd64' | 'arm64';

/** e_machine of ELF64 files (EM_X86_64, EM_AARCH64). */
const BY_ELF_MACHINE: ReadonlyMap<number, CpuArch> = new Map([[62, 'amd64'], [183, 'arm64']]);

/**
 * For each architecture: the GNU triplet (cross compilers are `TRIPLET-gcc`), the qemu-user
 * binary that runs its programs here, and the binfmt_misc entry qemu-user-static registers.
 */
export const ARCH_TOOLS: Readonly<Record<CpuArch, { triplet: string; qemuUser: string; binfmt: string }>> = {
  amd64: { triplet: 'x86_64-linux-gnu', qemuUser: 'qemu-x86_64-static', binfmt: 'qemu-x86_64' },
  arm64: { triplet: 'aarch64-linux-gnu', qemuUser: 'qemu-aarch64-static', binfmt: 'qemu-aarch64' },
};

export function isCpuArch(arch: string): arch is CpuArch {
  return Object.hasOwn(ARCH_TOOLS, arch);
}

export function archOfElfMachine(machine: number): CpuArch | undefined {
  return BY_ELF_MACHINE.get(machine);
}

/** The architecture this server runs on; what it can compile for and run without emulation. */
export function hostArch(): CpuArch {
  if (process.arch === 'x64') return 'amd64';
  if (process.arch === 'arm64') return 'arm64';
  throw new Error(`Cannot build initrds on a ${process.arch} host: only x86-64 (amd64) and arm64 are supported`);
}

/**
 * The architecture an image's kernel is built for, read from the ELF header of one of its
 * modules (the kernel loads only modules of its own machine), never from the host: an arm64
 * image is prepared on an x86 server.
 */
export async function imageArch(root: string, kernelVersion?: string): Promise<CpuArch> {
  const version = kernelVersion ?? (await chooseKernelVersion(root));
  const tree = await loadModuleTree(root, version);
  const first = tree.modules.values().next();
  if (first.done === true) throw new Error(`Cannot tell the architecture of kernel ${version} in ${root}: it has no modules`);
  const host = await resolveInRoot(root, `${tree.dir}/${first.value.path}`);
  if (!host.ok || !host.stats.isFile()) throw new Error(`Cannot read module ${first.value.path} of kernel ${version}: ${host.ok ? 'not a regular file' : host.error}`);
  const elf = parseElf64(await readModuleFile(host.hostPath, first.value.path));
  if (!elf.ok) throw new Error(`Cannot read module ${first.value.path} of kernel ${version}: ${elf.error}`);
  const arch = archOfElfMachine(elf.elf.machine);
  if (arch === undefined) throw new Error(`Cannot build an initrd for kernel ${version}: its modules are for ELF machine ${elf.elf.machine}, neither x86-64 nor arm64`);
  return arch;
}
