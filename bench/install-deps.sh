#!/usr/bin/env bash
# Installs the peers the benchmarks compare Diskless with (as root), and makes sure none of
# their daemons keeps running on the host: every peer runs only inside the benchmark's own
# network namespaces, started by bench/run.sh. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  tftpd-hpa                     # TFTP peer
  dnsmasq-base                  # TFTP and DHCP peer (the binary only, no service)
  tftp-hpa atftp curl           # TFTP and HTTP clients
  nginx-light                   # HTTP peer (sendfile on)
  nbd-server nbdkit             # NBD peers
  libnbd-bin                    # nbdcopy, nbdsh (python3-libnbd comes with it via nbdsh)
  python3-libnbd
  kea-admin                     # perfdhcp
  initramfs-tools               # mkinitramfs, the initrd peer
  linux-image-amd64 busybox-static zstd cpio
  iproute2 procps
  nfs-ganesha nfs-ganesha-vfs rpcbind   # reference NFS root (full-scale boot benchmark)
  qemu-system-x86 ipxe-qemu     # boot benchmarks
)

# Debian's maintainer scripts start daemons through invoke-rc.d; a policy-rc.d that answers
# 101 stops them from starting any during this install (there may be no systemd here).
POLICY=/usr/sbin/policy-rc.d
policy_added=0
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench/install-deps: missing Debian packages: ${missing[*]}; run as root" >&2
    exit 1
  fi
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    policy_added=1
  fi
  trap '[ "$policy_added" = 1 ] && rm -f "$POLICY"' EXIT
  echo "bench/install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Stop and disable any host daemon these packages may have started anyway (with or without
# systemd). Only the packages' own services, by their own init scripts / pid files.
for svc in tftpd-hpa nginx nbd-server dnsmasq rpcbind nfs-ganesha; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$svc" ]; then
    "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done
exit 0
