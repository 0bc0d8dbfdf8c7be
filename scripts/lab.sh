#!/usr/bin/env bash
# The main job on its embedded default: installs dependencies, builds, then boots a virtual
# diskless machine from this server inside a private network namespace and shows its console.
set -euo pipefail
cd "$(dirname "$0")/.."
# Network namespaces, QEMU taps and apt need root: a user with sudo is asked for it here, so
# the same command works as root on a bare machine (which has no sudo) and for a sudo user.
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "$0: run this as root (it needs apt, network namespaces and QEMU taps)" >&2; exit 1; }
  exec sudo -- "$PWD/scripts/$(basename "$0")" "$@"
fi
./scripts/install-deps.sh
exec node dist/src/cli/main.js lab "$@"
