#!/usr/bin/env bash
# One command for the whole platform on a fresh machine: installs what is missing
# (npm packages; Debian's InfluxDB when no INFLUX_URL is given), then starts InfluxDB, broker,
# ingest, API and the simulated park. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
exec node --import tsx scripts/up.ts "$@"
