#!/usr/bin/env bash
# The main job on its embedded default: installs dependencies, builds, then boots a virtual
# diskless machine from this server inside a private network namespace and shows its console.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
exec node dist/src/cli/main.js lab "$@"
