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
  libnbd-bin python3-libnbd     # nbdcopy; python3 -m nbd (nbdsh) for the random reader
  kea-admin                     # perfdhcp
  postgresql tcpdump            # dhcp-shared: the shared database (run by the bench itself) and the capture
  initramfs-tools               # mkinitramfs, the initrd peer
  linux-image-amd64 busybox-static zstd cpio
  iproute2 procps
  nfs-ganesha nfs-ganesha-vfs rpcbind   # the reference stack's NFSv3 root (boot benchmark)
  qemu-system-x86 ipxe-qemu ipxe        # boot benchmarks
  mmdebstrap squashfs-tools nbd-client  # the lab image and our initrd, if not cached yet
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

# Disable the host services these packages ship, and stop any that started anyway: only a
# daemon named by its package's own pid file and running in the host's network namespace
# (never by name: other jobs may run the same programs inside their own namespaces).
for svc in tftpd-hpa nginx nbd-server rpcbind nfs-ganesha; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  elif [ -e "/etc/init.d/$svc" ]; then
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done
# This script runs in the host namespace: its own is the host's.
host_ns=$(readlink /proc/self/ns/net || true)
for pidfile in /run/tftpd-hpa.pid /run/nginx.pid /run/nbd-server.pid; do
  [ -n "$host_ns" ] && [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if [ -d "/proc/$pid" ] && [ "$(readlink "/proc/$pid/ns/net")" = "$host_ns" ]; then
    echo "bench/install-deps: stopping host daemon $pid ($pidfile)"
    kill "$pid" || true
  fi
done
exit 0
