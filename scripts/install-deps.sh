#!/usr/bin/env bash
# Installs what Diskless needs on a fresh Debian 12 machine (as root): the engines it drives
# (iPXE, syslinux, QEMU and OVMF for the lab, busybox for initramfs, real TFTP/DHCP clients
# for the tests), then the npm packages, then builds. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  ipxe pxelinux syslinux-common           # boot loaders handed to machines
  qemu-system-x86 ipxe-qemu ovmf          # the lab's virtual machines (BIOS and UEFI)
  shim-signed grub-efi-amd64-signed       # the signed chain (Microsoft-signed shim, Debian-signed GRUB network image)
  qemu-system-arm qemu-efi-aarch64        # the lab's arm64 machines (AAVMF); their packages: src/lab/arm64-parts.ts
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross  # the static C helpers cross-built for arm64 initrds
  qemu-user-static binfmt-support arch-test    # arm64 programs on this host: busybox's applet list, mmdebstrap --arch arm64
  linux-image-amd64 busybox-static        # a kernel; static busybox (initramfs, udhcpc client)
  iproute2 procps cpio kmod zstd          # namespaces, process tools, archive checks
  xz-utils                                # .ko.xz modules (Fedora, RHEL 9, Debian 13) decompressed into initrds
  dnsmasq-base                            # a foreign DHCP server for the proxyDHCP test
  isc-dhcp-relay                          # a real DHCP relay (dhcrelay) for the routed-subnet and switch-port tests
  tftp-hpa atftp curl                     # real TFTP/HTTP clients for interop tests
  nbd-client                              # the NBD client put into node initramfs (netlink)
  openssl                                 # the server's TLS certificate; the initramfs' pinned TLS client
  tcpdump                                 # captures of the boot LAN in the security tests
  gcc libc6-dev                           # builds the static NBD reconnect helper (src/initramfs/helpers)
  mmdebstrap squashfs-tools               # building Debian images
  skopeo umoci                            # image import: registry/archive reader, OCI layer unpacker
  docker-registry attr                    # a real registry for the import tests; setfattr/getfattr (xattrs in layers)
  nfs-ganesha nfs-ganesha-vfs             # NFS roots (the host kernel may have no nfsd)
  rpcbind                                 # NFSv3 roots: clients find mountd and nfsd through it
  libnfs-utils                            # nfs-ls, nfs-cat: user-space NFS clients for the export tests
  libnbd-bin qemu-utils                   # nbdinfo/nbdcopy, qemu-img: real NBD clients for tests
  ndisc6                                  # rdisc6: a real IPv6 router-discovery client for the RA responder test
  openssh-client                          # ssh-keygen: per-node SSH host keys
  chromium fonts-dejavu-core              # headless browser for the dashboard test (src/lab/browser.ts)
  postgresql                              # shared state of several servers; tests initdb their own cluster (src/testing/postgres-cluster.ts)
  kea-admin                               # perfdhcp: the DHCP load generator of bench/ and the two-server lease test
  nftables                                # a host firewall for diskless doctor's firewall check test
  openipmi ipmitool                       # ipmi_sim (a BMC simulator) and the IPMI client diskless power drives
)

# The arm64 lab machine's kernel, busybox, shim and GRUB are arm64 packages, fetched with
# apt-get download (never installed) by src/lab/arm64-parts.ts: apt must know the architecture.
if [ "$(id -u)" -eq 0 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -qq
fi

# mmdebstrap --arch arm64 runs the image's package scripts under qemu-user: the kernel must hand
# arm64 programs to it (binfmt_misc, registered by qemu-user-static with flag F).
enable_binfmt() {
  [ "$(id -u)" -eq 0 ] || return 0
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 || true
}

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: these Debian packages are missing: ${missing[*]}" >&2
    echo "install-deps: run this script as root (sudo) so it can apt-get install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
enable_binfmt

if [ -f package-lock.json ]; then npm ci --no-fund --no-audit --loglevel=error; else npm install --no-fund --no-audit --loglevel=error; fi
npm run --silent build
