#!/usr/bin/env bash
# The test command: installs dependencies, builds, then runs every test, unit and end-to-end
# (end-to-end tests boot QEMU machines in network namespaces, so this runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
node scripts/run-tests.mjs all
