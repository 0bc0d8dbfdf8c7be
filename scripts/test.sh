#!/usr/bin/env bash
# The test command: installs dependencies, builds, then runs every test, unit and end-to-end
# (end-to-end tests boot QEMU machines in network namespaces, so this runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."
# Network namespaces, QEMU taps and apt need root: a user with sudo is asked for it here, so
# the same command works as root on a bare machine (which has no sudo) and for a sudo user.
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "$0: run this as root (it needs apt, network namespaces and QEMU taps)" >&2; exit 1; }
  exec sudo -- "$PWD/scripts/$(basename "$0")" "$@"
fi
./scripts/install-deps.sh
node scripts/run-tests.mjs all
