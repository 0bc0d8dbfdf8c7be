#!/usr/bin/env bash
# Diskless against the peers admins run today, side by side on this host:
#   sudo bench/run.sh [--quick] [--only tftp,http,nbd,dhcp,initrd,boot] [--skip NAME]
# Installs the peers (bench/install-deps.sh; their host daemons stay stopped), builds, and runs
# dist/bench/main.js, which prints a table and writes bench/results/<date>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "bench/run.sh: run as root (sudo): it creates network namespaces" >&2; exit 1; fi
bench/install-deps.sh
[ -d node_modules ] || npm ci --no-fund --no-audit --loglevel=error
# tsc emits even with type errors; another part of the tree being mid-edit should not stop a run.
npx tsc -p . || echo 'bench/run.sh: tsc reported errors (see above); running what it emitted' >&2
exec node dist/bench/main.js "$@"
