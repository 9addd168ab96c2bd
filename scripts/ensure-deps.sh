# Sourced by up.sh and test.sh: npm packages, influxd unless INFLUX_URL is set, and Debian's
# redis-server for the durable broker profile (MQTT_PERSISTENCE_URL=redis://… on this machine).
apt_install() {
  echo "== installing from Debian: $*"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  [ -n "${APT_UPDATED:-}" ] || { $sudo apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi
if [ -z "${INFLUX_URL:-}" ] && ! command -v influxd >/dev/null 2>&1; then
  apt_install influxdb
  # Debian's package may start a system influxd on :8086; the platform runs its own, so stop it.
  service influxdb stop >/dev/null 2>&1 || true
fi
# Redis: only when the durable broker profile names this machine (MQTT_PERSISTENCE_URL). Debian's
# package starts a system redis-server on :6379 (appendonly off: the broker warns; see
# broker/README.md); that is the one MQTT_PERSISTENCE_URL then names. test.sh installs it for the suite.
case "${MQTT_PERSISTENCE_URL:-}" in
  redis://127.0.0.1*|redis://localhost*|redis://\[::1\]*|redis://*@127.0.0.1*|redis://*@localhost*)
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server ;;
esac
