# Sourced by up.sh, test.sh and .ci/run: npm packages, and influxd unless INFLUX_URL is set.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi
if [ -z "${INFLUX_URL:-}" ] && ! command -v influxd >/dev/null 2>&1; then
  echo "== installing InfluxDB from Debian (apt-get install influxdb)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq influxdb >/dev/null
  # Debian's package may start a system influxd on :8086; the platform runs its own, so stop it.
  $SUDO service influxdb stop >/dev/null 2>&1 || true
fi
