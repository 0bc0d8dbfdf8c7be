import { randomBytes } from 'node:crypto';
import { nullLogger, type Logger } from '../log/logger.js';
import { arm64Parts, type Arm64Parts } from './arm64-parts.js';
import { labCertificate, LabNode, type DebianLabOptions } from './debian-lab.js';
import type { LabNetwork } from './netns.js';
import { cachedNetworkInitrd } from './lab-initrd.js';
import { ARM64_RECIPE, ensureLabImage, type LabImage } from './lab-image.js';
import { QemuMachine } from './qemu.js';
import { LAB_ARM64_ADDRESS } from './tiny-lab.js';

/** The arm64 node's host name and profile in the lab's inventory. */
export const ARM64_HOSTNAME = 'lab-arm64';
export const ARM64_PROFILE = 'debian-arm64';

/**
 * An arm64 machine in a DebianLab's inventory beside its x86 nodes: its own profile with the
 * arm64 lab image (ARM64_RECIPE: Debian's signed arm64 kernel, our network initrd built from
 * that kernel's modules with arm64 busybox and tools), the arm64 signed chain (shimaa64,
 * grubaa64) for DHCP architecture 11, a live root. `options` go into DebianLab.start; the
 * caller starts the machine once the lab's server runs (DebianLabOptions.beforeBoot) and stops it.
 */
export class Arm64LabNode {
  private constructor(
    readonly node: LabNode,
    readonly image: LabImage,
    readonly initrd: string,
    readonly parts: Arm64Parts,
  ) {}

  static async prepare(cacheDir: string, progress: (m: string) => void = () => {}): Promise<Arm64LabNode> {
    const parts = await arm64Parts(cacheDir);
    const image = await ensureLabImage(cacheDir, progress, ARM64_RECIPE);
    const cert = await labCertificate(cacheDir);
    // virtio_net only: GRUB fetches the initrd over TFTP (its signed network image speaks no
    // HTTP), slowly under TCG, and the machine has no other NIC.
    const initrd = await cachedNetworkInitrd('lab-arm64-debian', [image.dir], { root: image.rootfs, serverCerts: cert.certPem, drivers: ['virtio_net'] }, cacheDir, progress);
    const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
    return new Arm64LabNode(new LabNode(mac, ARM64_HOSTNAME, LAB_ARM64_ADDRESS), image, initrd, parts);
  }

  get mac(): string {
    return this.node.mac;
  }

  /** What DebianLab.start needs to list the machine: the signed chain, its profile, its entry. */
  options(): Pick<DebianLabOptions, 'serverExtra' | 'extraProfiles' | 'extraNodes'> {
    return {
      serverExtra: `signed_boot: { arm64: { shim: ${this.parts.shim}, grub: ${this.parts.grub} } }`,
      extraProfiles: `  ${ARM64_PROFILE}:
    kernel: ${this.image.kernel}
    initrd: ${this.initrd}
    cmdline: console=ttyAMA0
    loader: grub
    secure_boot: true
    root: { mode: live, image: ${this.image.squashfs}, retry: 120 }
`,
      extraNodes: `  - mac: "${this.mac}"
    hostname: ${ARM64_HOSTNAME}
    address: ${LAB_ARM64_ADDRESS}
    profile: ${ARM64_PROFILE}
`,
    };
  }

  /** Powers the machine on: AAVMF on QEMU's virt machine (TCG), netbooting its one virtio NIC. */
  async start(net: LabNetwork, logger: Logger = nullLogger): Promise<void> {
    this.node.vm = await QemuMachine.start({
      boot: { kind: 'network' },
      firmware: 'aavmf',
      network: net,
      tap: await net.addTap(),
      nicModel: 'virtio-net-pci',
      mac: this.mac,
      optionRom: false,
      // The live root (the squashfs, then its overlay) lives in RAM.
      memoryMiB: 1536,
      interactive: true,
      name: ARM64_HOSTNAME,
      logger,
    });
  }

  async stop(): Promise<void> {
    await this.node.vm?.stop().catch(() => undefined);
  }
}
