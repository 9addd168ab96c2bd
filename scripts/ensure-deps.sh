# Sourced by up.sh, test.sh and .ci/run: npm packages, and influxd unless INFLUX_URL is set.
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
