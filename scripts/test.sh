#!/usr/bin/env bash
# The full test suite on a fresh machine: installs what is missing, then runs vitest against
# real servers (each test starts its own; see test/harness).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
# The suite proves the contract with a client that is not ours: Mosquitto's mosquitto_pub.
command -v mosquitto_pub >/dev/null 2>&1 || apt_install mosquitto-clients
# The durable broker profile's tests start their own redis-server; Debian's service is not needed.
if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server
  service redis-server stop >/dev/null 2>&1 || true
fi
# deploy/systemd's units are checked with systemd-analyze; the gateway is tested against a Modbus
# server we did not write (Debian's pymodbus, for /usr/bin/python3).
command -v systemd-analyze >/dev/null 2>&1 || apt_install systemd
/usr/bin/python3 -c 'import pymodbus' >/dev/null 2>&1 || apt_install python3-pymodbus
# The cluster profile's tests (issue 14) start their own Debian nats-server cluster.
if ! command -v nats-server >/dev/null 2>&1; then
  apt_install nats-server
  service nats-server stop >/dev/null 2>&1 || true
fi
# The cluster profile's failover test puts Debian's HAProxy in front of two brokers.
if ! command -v haproxy >/dev/null 2>&1; then
  apt_install haproxy
  service haproxy stop >/dev/null 2>&1 || true
fi
# The console's browser tests (test/console-browser.test.ts) drive Debian's chromium with
# playwright-core (nothing downloaded); a CJK font so the zh-CN screenshots show their labels.
command -v chromium >/dev/null 2>&1 || apt_install chromium
fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk' || apt_install fonts-wqy-microhei
# Every service's /metrics is linted by promtool (test/metrics-promtool.test.ts): Debian's prometheus.
if ! command -v promtool >/dev/null 2>&1; then
  apt_install prometheus
  service prometheus stop >/dev/null 2>&1 || true
fi
npx tsc --noEmit -p .
npx tsc --noEmit -p console
exec npx vitest run "$@"
