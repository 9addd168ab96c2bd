#!/usr/bin/env bash
# One command for the whole platform on a fresh machine: installs what is missing
# (npm packages; Debian's InfluxDB when no INFLUX_URL is given), then starts InfluxDB, broker,
# ingest, API and the simulated park (with --profile cluster: NATS JetStream and HAProxy too).
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
# The cluster profile (--profile cluster) runs Debian's nats-server (JetStream) and HAProxy.
for a in "$@"; do
  if [ "$a" = "cluster" ] || [ "$a" = "--profile=cluster" ]; then
    if ! command -v nats-server >/dev/null 2>&1; then apt_install nats-server; service nats-server stop >/dev/null 2>&1 || true; fi
    if ! command -v haproxy >/dev/null 2>&1; then apt_install haproxy; service haproxy stop >/dev/null 2>&1 || true; fi
  fi
done
exec node --import tsx scripts/up.ts "$@"
