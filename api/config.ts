/**
 * The API's settings, read once from the environment, validated and frozen. A bad value stops
 * the start with a message naming the key, the value and what was expected.
 */
import { readFileSync } from 'node:fs';
import { secretFromEnv } from '../core/secrets.ts';
import { randomBytes } from 'node:crypto';
import { DEFAULT_PARK_MODEL } from '../core/model-file.ts';
import { PlatformError } from '../core/errors.ts';
import { show } from '../core/ids.ts';
import { influxConfigFromEnv, type InfluxConfig } from '../core/influx/client.ts';
import { DURATION_PATTERN } from '../core/influx/influxql.ts';

export interface ApiConfig {
  host: string;
  port: number;
  mqtt: { url: string; username: string; password?: string; clientId: string };
  influx: InfluxConfig;
  keysFile: string;
  parkModelFile: string;
  /** How far back /devices looks for last values (InfluxQL duration). */
  lastValuesLookback: string;
  /** Most points a telemetry query may return (raw limit and aggregated windows). */
  maxPoints: number;
  /** A live WebSocket client whose unsent data exceeds this is skipped (message dropped, counted). */
  wsMaxBufferedBytes: number;
  /** PEM certificate chain and private key files: when set, the API serves HTTPS (and wss) only. */
  tls?: { certFile: string; keyFile: string };
  /** Hourly KPI facts for dashboards (api/kpi/rollup.ts): tick period (0 = off), hours recomputed per tick, hours caught up at start. */
  kpiRollup: { everyMs: number; lateHours: number; catchUpHours: number };
}

export const DEFAULTS = Object.freeze({
  API_HOST: '127.0.0.1',
  API_PORT: '8080',
  MQTT_URL: 'mqtt://127.0.0.1:1883',
  API_MQTT_USERNAME: 'svc-api',
  INFLUX_URL: 'http://127.0.0.1:8086',
  API_KEYS_FILE: 'data/secrets/api-keys.json',
  API_LAST_VALUES_LOOKBACK: '1d',
  API_MAX_POINTS: '10000',
  API_WS_MAX_BUFFERED_BYTES: String(1024 * 1024), // 1 MiB
  API_KPI_ROLLUP_INTERVAL_MS: '60000', // recompute the open hours every minute; 0 = no rollup
  API_KPI_ROLLUP_LATE_HOURS: '2', // hours before the current one recomputed on every tick (late data)
  API_KPI_ROLLUP_CATCHUP_HOURS: '48', // hours computed once at start
});

function fail(key: string, value: unknown, expected: string): never {
  throw new PlatformError('SP_ERR_CONFIG', `${key}=${value === undefined ? '(unset)' : show(value)}: expected ${expected}`);
}

function int(env: NodeJS.ProcessEnv, key: keyof typeof DEFAULTS, min: number, max: number): number {
  const raw = env[key] || DEFAULTS[key];
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) fail(key, raw, `an integer from ${min} to ${max}`);
  return n;
}

function url(key: string, raw: string, protocols: string[]): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return fail(key, raw, `a URL (${protocols.join(', ')})`);
  }
  if (!protocols.includes(u.protocol)) fail(key, raw, `a URL with scheme ${protocols.join(', ')}`);
  return raw;
}

/** API_TLS_CERT_FILE and API_TLS_KEY_FILE: both or neither, each a readable PEM file of its kind. */
function tlsFiles(env: NodeJS.ProcessEnv): ApiConfig['tls'] {
  const certFile = env.API_TLS_CERT_FILE || '';
  const keyFile = env.API_TLS_KEY_FILE || '';
  if (!certFile && !keyFile) return undefined;
  if (!certFile) fail('API_TLS_CERT_FILE', undefined, 'a PEM certificate file, since API_TLS_KEY_FILE is set (both or neither)');
  if (!keyFile) fail('API_TLS_KEY_FILE', undefined, 'a PEM private key file, since API_TLS_CERT_FILE is set (both or neither)');
  for (const [key, file, marker] of [['API_TLS_CERT_FILE', certFile, 'CERTIFICATE'], ['API_TLS_KEY_FILE', keyFile, 'PRIVATE KEY']] as const) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      fail(key, file, `a readable PEM file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (!new RegExp(`-----BEGIN [A-Z ]*${marker}-----`).test(text)) fail(key, file, `a PEM ${marker.toLowerCase()}`);
  }
  return Object.freeze({ certFile, keyFile });
}

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ApiConfig> {
  const host = env.API_HOST || DEFAULTS.API_HOST;
  if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(host)) fail('API_HOST', host, 'a host name or IP address to listen on');
  const mqttUrl = url('MQTT_URL', env.MQTT_URL || DEFAULTS.MQTT_URL, ['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ws:', 'wss:']);
  const username = env.API_MQTT_USERNAME || DEFAULTS.API_MQTT_USERNAME;
  const clientId = env.API_MQTT_CLIENT_ID || `${username}-${randomBytes(4).toString('hex')}`;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(clientId)) fail('API_MQTT_CLIENT_ID', clientId, 'letters, digits, - or _ (at most 64)');
  const influx = influxConfigFromEnv({ ...env, INFLUX_URL: env.INFLUX_URL || DEFAULTS.INFLUX_URL })!;
  url('INFLUX_URL', influx.url, ['http:', 'https:']);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(influx.db)) fail('INFLUX_DB', influx.db, 'a database name (letters, digits, _ . -)');
  const lookback = env.API_LAST_VALUES_LOOKBACK || DEFAULTS.API_LAST_VALUES_LOOKBACK;
  if (!DURATION_PATTERN.test(lookback)) fail('API_LAST_VALUES_LOOKBACK', lookback, 'an InfluxQL duration such as 6h or 1d');
  return Object.freeze({
    host,
    port: int(env, 'API_PORT', 0, 65535),
    mqtt: Object.freeze({ url: mqttUrl, username, password: secretFromEnv(env, 'API_MQTT_PASSWORD', (f) => readFileSync(f, 'utf8')), clientId }),
    influx: Object.freeze(influx),
    keysFile: env.API_KEYS_FILE || DEFAULTS.API_KEYS_FILE,
    parkModelFile: env.PARK_MODEL || DEFAULT_PARK_MODEL,
    lastValuesLookback: lookback,
    maxPoints: int(env, 'API_MAX_POINTS', 10, 1_000_000),
    wsMaxBufferedBytes: int(env, 'API_WS_MAX_BUFFERED_BYTES', 1024, 1024 ** 3),
    tls: tlsFiles(env),
    kpiRollup: Object.freeze({
      everyMs: int(env, 'API_KPI_ROLLUP_INTERVAL_MS', 0, 86_400_000),
      lateHours: int(env, 'API_KPI_ROLLUP_LATE_HOURS', 0, 24 * 7),
      catchUpHours: int(env, 'API_KPI_ROLLUP_CATCHUP_HOURS', 0, 24 * 31),
    }),
  });
}
