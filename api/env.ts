/** Every variable the API reads: default, range and meaning (api/README.md's table is generated from it). */
import { envTable, INFLUX_ENV, MQTT_PROTOCOLS, SHARED_ENV } from '../core/env.ts';
import { DURATION_PATTERN } from '../core/influx/influxql.ts';

function corsCheck(v: string): string | undefined {
  const bad = v.split(',').map((o) => o.trim()).filter(Boolean).find((o) => !/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(o));
  return bad === undefined ? undefined : `origins like https://scada.example:8443, comma-separated (${JSON.stringify(bad)} is not one)`;
}

export const API_ENV = envTable({
  API_HOST: { type: 'text', default: '127.0.0.1', check: (v) => (/^[A-Za-z0-9.:_-]{1,253}$/.test(v) ? undefined : 'a host name or IP address to listen on'), doc: 'listen address' },
  API_PORT: { type: 'int', default: 8080, range: [0, 65535], doc: 'HTTP (HTTPS with a certificate) and the live WebSocket; `0` any free port' },
  API_METRICS_PORT: { type: 'int', default: 9109, range: [-1, 65535], doc: '`/metrics` (Prometheus, prom-client) on a port of its own, like the other services; `0` any free port, `-1` off' },
  API_METRICS_HOST: { type: 'text', default: '127.0.0.1', doc: 'listen address of the metrics port' },
  API_CORS_ORIGINS: { type: 'text', default: '', check: corsCheck, doc: 'comma-separated origins (`https://host[:port]`) whose browser pages may call the API with an API key (CORS); unset = same origin only. Cookies (console sessions) are never allowed cross-origin' },
  MQTT_URL: { type: 'url', default: 'mqtt://127.0.0.1:1883', protocols: MQTT_PROTOCOLS, doc: 'broker (status, live feed, alarms)' },
  API_MQTT_USERNAME: { type: 'text', default: 'svc-api', doc: 'service account' },
  API_MQTT_PASSWORD: { type: 'text', default: '', secret: true, doc: "the service account's secret" },
  API_MQTT_CLIENT_ID: { type: 'text', default: '', check: (v) => (/^[A-Za-z0-9_-]{1,64}$/.test(v) ? undefined : 'letters, digits, - or _ (at most 64)'), doc: 'unset = `svc-api-<8 random hex>` (several API instances at once)' },
  ...INFLUX_ENV,
  API_KEYS_FILE: { type: 'path', default: 'data/secrets/api-keys.json', doc: '`{"keys":[{"id","role","hash"}]}`; must exist (`api/keys.ts add` creates it)' },
  API_LAST_VALUES_LOOKBACK: { type: 'text', default: '1d', check: (v) => (DURATION_PATTERN.test(v) ? undefined : 'an InfluxQL duration such as 6h or 1d'), doc: 'how far back `/devices` looks for last values' },
  API_MAX_POINTS: { type: 'int', default: 10_000, range: [10, 1_000_000], unit: 'points', doc: 'most points per telemetry answer' },
  API_WS_MAX_BUFFERED_BYTES: { type: 'int', default: 1024 * 1024, range: [1024, 1024 ** 3], unit: 'bytes', doc: 'a live client with more unsent is skipped for that message (counted)' },
  API_KPI_ROLLUP_INTERVAL_MS: { type: 'int', default: 60_000, range: [0, 86_400_000], unit: 'ms', doc: 'how often the hourly KPI facts of the dashboards (`kpi_hourly`, `api/kpi/rollup.ts`) are recomputed; `0` turns the rollup off' },
  API_KPI_ROLLUP_LATE_HOURS: { type: 'int', default: 2, range: [0, 24 * 7], unit: 'hours', doc: 'hours before the current one recomputed on every tick (late readings change their hour in place)' },
  API_KPI_ROLLUP_CATCHUP_HOURS: { type: 'int', default: 48, range: [0, 24 * 31], unit: 'hours', doc: 'hours computed once at start' },
  API_TLS_CERT_FILE: { type: 'path', default: '', doc: 'PEM certificate chain; with `API_TLS_KEY_FILE` the API serves HTTPS and `wss://…/api/v1/live` only, on `API_PORT` (TLS ≥ 1.2); one without the other stops the start' },
  API_TLS_KEY_FILE: { type: 'path', default: '', doc: 'PEM private key of that certificate' },
  STANDARDS_FILE: { type: 'path', default: 'config/standards.yaml', doc: 'coefficients, grid factors, quotas; each with source and confidence' },
  PRODUCTION_FILE: { type: 'path', default: 'config/production.yaml', doc: "products, prices, quota class, OEE calendars, sub-meters, meter replacements; used only when its `zone` is the model's zone unless set explicitly" },
  CONSOLE_USERS_FILE: { type: 'path', default: '', doc: 'console users (scrypt hashes, roles; `api/console/users.ts` manages them); unset = `console-users.json` beside `API_KEYS_FILE`. Created with a first-run admin when missing' },
  CONSOLE_SESSION_TTL_MS: { type: 'int', default: 8 * 3_600_000, range: [60_000, 30 * 86_400_000], unit: 'ms', doc: 'console session lifetime' },
  CONSOLE_LOGIN_FREE_FAILURES: { type: 'int', default: 5, range: [1, 1000], unit: 'count', doc: 'failed logins of one username within the window before further attempts are spaced' },
  CONSOLE_LOGIN_ADDRESS_FAILURES: { type: 'int', default: 50, range: [1, 1_000_000], unit: 'count', doc: 'failed logins from one address within the window before its attempts are spaced too' },
  CONSOLE_LOGIN_WINDOW_MS: { type: 'int', default: 15 * 60_000, range: [1000, 86_400_000], unit: 'ms', doc: 'the window of the two login limits' },
  MQTT_CREDENTIALS_FILE: { type: 'path', default: 'data/secrets/mqtt-credentials.json', doc: "the broker's credential store, which the console's device admin edits (same key and default as the broker)" },
  CONSOLE_BROKER_PID_FILE: { type: 'path', default: '', doc: "the broker's pid file: after a device admin change the API sends it SIGHUP (reload); unset = the change applies at the broker's next reload" },
  ...SHARED_ENV,
});
