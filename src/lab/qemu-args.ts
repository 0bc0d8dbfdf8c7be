import { randomBytes } from 'node:crypto';

/**
 * bios: SeaBIOS. uefi: OVMF. uefi-secure-boot: OVMF with Secure Boot enforced (Microsoft's keys
 * enrolled, as on machines sold today). aavmf: arm64 UEFI (QEMU's virt machine).
 */
export type Firmware = 'bios' | 'uefi' | 'uefi-secure-boot' | 'aavmf';

/** Which network boot the UEFI firmware offers: its PXE (TFTP), or only its HTTP boot (no TFTP at all). */
export type UefiNetBoot = 'pxe' | 'http';
/** `usb-net` is a CDC Ethernet device behind a qemu-xhci controller: it appears only after USB enumeration. */
export type NicModel = 'virtio-net-pci' | 'e1000' | 'usb-net';

export type BootMethod =
  | { kind: 'network' }
  /** QEMU loads the kernel itself; `console=ttyS0` and `panic=-1` are added unless given. */
  | { kind: 'kernel'; kernel: string; initrd?: string; append?: string };

export interface NicSpec {
  tap: string;
  model: NicModel;
  mac: string;
  /**
   * false sets romfile= so the NIC has no iPXE ROM and the firmware's own PXE stack boots
   * (OVMF's PXE then loads ipxe.efi over TFTP, as on real UEFI machines).
   */
  optionRom: boolean;
  /**
   * QEMU -netdev options (after `id=net0,`) used instead of the tap, e.g. a UDP socket to the
   * lab's user-space VLAN port (vlan-port.c); `tap` then names that port's own tap on the bridge.
   */
  netdev?: string;
}

/** Everything the command line depends on, with paths already decided. */
export interface QemuSpec {
  boot: BootMethod;
  firmware: Firmware;
  memoryMiB: number;
  machine: 'pc' | 'q35';
  consolePath: string;
  /** The machine's private copy of the firmware's variable store (UEFI firmwares only). */
  uefiVarsPath?: string;
  /** UEFI only; default pxe (the firmware tries PXE first, then HTTP boot). */
  uefiNetBoot?: UefiNetBoot;
  nic?: NicSpec;
  extraArgs?: readonly string[];
  /**
   * A unix socket for typing on the serial console (the console is still logged to
   * consolePath, whether or not anyone is connected).
   */
  consoleSocket?: string;
  /** Let the guest reboot (a real warm reboot); by default a reboot makes QEMU exit. */
  allowReboot?: boolean;
}

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/** OVMF built with Secure Boot (it needs SMM), and a variable store with Microsoft's KEK and db enrolled. */
export const OVMF_SECURE_CODE = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
export const OVMF_MS_VARS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';
/** Debian's qemu-efi-aarch64; both are 64 MiB flash images, as QEMU's virt machine needs. */
export const AAVMF_CODE = '/usr/share/AAVMF/AAVMF_CODE.fd';
export const AAVMF_VARS = '/usr/share/AAVMF/AAVMF_VARS.fd';

/** The firmware files of a UEFI firmware: code (read-only) and the variable store to copy. */
export function uefiFlash(firmware: Exclude<Firmware, 'bios'>): { code: string; vars: string } {
  switch (firmware) {
    case 'uefi': return { code: OVMF_CODE, vars: OVMF_VARS };
    case 'uefi-secure-boot': return { code: OVMF_SECURE_CODE, vars: OVMF_MS_VARS };
    case 'aavmf': return { code: AAVMF_CODE, vars: AAVMF_VARS };
  }
}

/** The QEMU binary for a firmware's architecture. */
export function qemuBinary(firmware: Firmware): string {
  return firmware === 'aavmf' ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
}

/** The serial console a kernel on this firmware's machine writes to. */
export function serialConsole(firmware: Firmware): string {
  return firmware === 'aavmf' ? 'ttyAMA0' : 'ttyS0';
}

// Values inside QEMU's key=value option syntax escape a comma by doubling it.
export const qemuOptionValue = (v: string): string => v.replace(/,/g, ',,');

function kernelCommandLine(append: string | undefined, firmware: Firmware): string {
  const parts = append === undefined || append === '' ? [] : [append];
  if (!/(^|\s)console=/.test(append ?? '')) parts.unshift(`console=${serialConsole(firmware)}`);
  // A dead /init then reboots at once, and -no-reboot turns that into QEMU exiting.
  if (!/(^|\s)panic=/.test(append ?? '')) parts.push('panic=-1');
  return parts.join(' ');
}

/** The arguments (without the binary, see qemuBinary) for `spec`. Pure; no TCG flag needed. */
export function qemuArgs(spec: QemuSpec): string[] {
  const secure = spec.firmware === 'uefi-secure-boot';
  if (secure && spec.machine !== 'q35') throw new Error('Cannot boot OVMF with Secure Boot on the pc machine: its SMM-protected variables need q35');
  const machine = spec.firmware === 'aavmf'
    ? ['-machine', 'virt', '-cpu', 'cortex-a57']
    // graphics=off: SeaBIOS and iPXE print on serial. smm=on: the Secure Boot OVMF keeps its
    // variables (the keys) where only System Management Mode may write them.
    : ['-machine', `${spec.machine},graphics=off${secure ? ',smm=on' : ''}`, ...(secure ? ['-global', 'driver=cfi.pflash01,property=secure,value=on'] : [])];
  const args = [
    ...machine,
    '-m', String(spec.memoryMiB),
    '-nodefaults', '-no-user-config',
    '-display', 'none',
    ...(spec.consoleSocket === undefined
      ? ['-serial', `file:${qemuOptionValue(spec.consolePath)}`]
      : [
          '-chardev', `socket,id=con0,path=${qemuOptionValue(spec.consoleSocket)},server=on,wait=off,logfile=${qemuOptionValue(spec.consolePath)},logappend=on`,
          '-serial', 'chardev:con0',
        ]),
    ...(spec.allowReboot ? [] : ['-no-reboot']),
  ];
  if (spec.firmware !== 'bios') {
    if (spec.uefiVarsPath === undefined) throw new Error('Cannot boot UEFI: no variable store path');
    args.push(
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${qemuOptionValue(uefiFlash(spec.firmware).code)}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${qemuOptionValue(spec.uefiVarsPath)}`,
    );
    if (spec.uefiNetBoot === 'http') {
      // The firmware setting "PXE off": EDK II's network stack then offers HTTP boot only.
      args.push('-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n');
    }
  } else if (spec.uefiNetBoot !== undefined) {
    throw new Error('Cannot choose a UEFI network boot for BIOS firmware');
  }
  if (spec.nic === undefined) {
    args.push('-nic', 'none');
  } else {
    const n = spec.nic;
    if (spec.firmware !== 'bios' && n.model === 'e1000' && !n.optionRom) {
      // Verified: OVMF has a virtio-net driver but none for e1000; it falls to the EFI shell.
      throw new Error('Cannot boot UEFI over e1000 without its option ROM: OVMF has no e1000 driver');
    }
    if (n.model === 'usb-net' && spec.boot.kind === 'network') {
      throw new Error('Cannot network-boot through usb-net: QEMU\'s firmware has no driver for it; give the kernel and initrd directly');
    }
    if (n.netdev !== undefined) args.push('-netdev', n.netdev.replace(/^(\w+)(,|$)/, '$1,id=net0$2'));
    else args.push('-netdev', `tap,id=net0,ifname=${qemuOptionValue(n.tap)},script=no,downscript=no`);
    if (n.model === 'usb-net') args.push('-device', 'qemu-xhci,id=xhci', '-device', `usb-net,bus=xhci.0,netdev=net0,mac=${n.mac}`);
    else args.push('-device', `${n.model},netdev=net0,mac=${n.mac}${n.optionRom ? '' : ',romfile='}`);
  }
  if (spec.boot.kind === 'network') {
    // QEMU's virt machine has no boot order of its own: AAVMF boots the NIC when nothing else is there.
    if (spec.firmware !== 'aavmf') args.push('-boot', 'n');
  } else {
    args.push('-kernel', spec.boot.kernel);
    if (spec.boot.initrd !== undefined) args.push('-initrd', spec.boot.initrd);
    args.push('-append', kernelCommandLine(spec.boot.append, spec.firmware));
  }
  return [...args, ...(spec.extraArgs ?? [])];
}

/** A locally administered unicast MAC in QEMU's 52:54:00 range. */
export function randomMac(): string {
  return ['52', '54', '00', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
