#!/usr/bin/env bash
# The full test suite on a fresh machine: installs what is missing, then runs vitest against
# real servers (each test starts its own; see test/harness).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
npx tsc --noEmit -p .
exec npx vitest run "$@"
