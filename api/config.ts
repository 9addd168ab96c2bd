/**
 * The API's settings, read once from the environment, validated and frozen. A bad value stops
 * the start with a message naming the key, the value and what was expected.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readEnv } from '../core/env.ts';
import { PlatformError } from '../core/errors.ts';
import { show } from '../core/ids.ts';
import { influxConfigFromEnv, type InfluxConfig } from '../core/influx/client.ts';
import { DEFAULT_PARK_MODEL } from '../core/model-file.ts';
import { API_ENV } from './env.ts';

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
  /** Operator console (api/console/): users file, session lifetime, login limits, device admin files. */
  console: ConsoleConfig;
  /** /metrics on a port of its own (like the other services); port -1 = off. */
  metrics: { host: string; port: number };
  /** Origins allowed to call the API from a browser page elsewhere (CORS); empty = same origin only. */
  corsOrigins: readonly string[];
}

export interface ConsoleConfig {
  /** Console users (api/console/user-store.ts); default console-users.json beside API_KEYS_FILE. */
  usersFile: string;
  sessionTtlMs: number;
  /** Failed logins of one username (or one address) within loginWindowMs before attempts are spaced. */
  loginFreeFailures: number;
  loginAddressFailures: number;
  loginWindowMs: number;
  /** The broker's credential store (same key and default as the broker) and where its pid is (SIGHUP reloads it). */
  credentialsFile: string;
  brokerPidFile?: string;
}

function fail(key: string, value: unknown, expected: string): never {
  throw new PlatformError('SP_ERR_CONFIG', `${key}=${value === undefined ? '(unset)' : show(value)}: expected ${expected}`);
}

/** API_TLS_CERT_FILE and API_TLS_KEY_FILE: both or neither, each a readable PEM file of its kind. */
function tlsFiles(certFile: string, keyFile: string): ApiConfig['tls'] {
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
  const v = readEnv(API_ENV, env, 'API environment');
  const username = v.API_MQTT_USERNAME;
  return Object.freeze({
    host: v.API_HOST,
    port: v.API_PORT,
    mqtt: Object.freeze({ url: v.MQTT_URL, username, password: v.API_MQTT_PASSWORD || undefined, clientId: v.API_MQTT_CLIENT_ID || `${username}-${randomBytes(4).toString('hex')}` }),
    influx: Object.freeze(influxConfigFromEnv({ ...env, INFLUX_URL: v.INFLUX_URL, INFLUX_DB: v.INFLUX_DB, INFLUX_TOKEN: v.INFLUX_TOKEN, INFLUX_PASSWORD: v.INFLUX_PASSWORD })!),
    keysFile: v.API_KEYS_FILE,
    parkModelFile: env.PARK_MODEL ? v.PARK_MODEL : DEFAULT_PARK_MODEL,
    lastValuesLookback: v.API_LAST_VALUES_LOOKBACK,
    maxPoints: v.API_MAX_POINTS,
    wsMaxBufferedBytes: v.API_WS_MAX_BUFFERED_BYTES,
    tls: tlsFiles(v.API_TLS_CERT_FILE, v.API_TLS_KEY_FILE),
    kpiRollup: Object.freeze({
      everyMs: v.API_KPI_ROLLUP_INTERVAL_MS,
      lateHours: v.API_KPI_ROLLUP_LATE_HOURS,
      catchUpHours: v.API_KPI_ROLLUP_CATCHUP_HOURS,
    }),
    console: Object.freeze({
      usersFile: v.CONSOLE_USERS_FILE || join(dirname(v.API_KEYS_FILE), 'console-users.json'),
      sessionTtlMs: v.CONSOLE_SESSION_TTL_MS,
      loginFreeFailures: v.CONSOLE_LOGIN_FREE_FAILURES,
      loginAddressFailures: v.CONSOLE_LOGIN_ADDRESS_FAILURES,
      loginWindowMs: v.CONSOLE_LOGIN_WINDOW_MS,
      credentialsFile: v.MQTT_CREDENTIALS_FILE,
      ...(v.CONSOLE_BROKER_PID_FILE ? { brokerPidFile: v.CONSOLE_BROKER_PID_FILE } : {}),
    }),
    metrics: Object.freeze({ host: v.API_METRICS_HOST, port: v.API_METRICS_PORT }),
    corsOrigins: Object.freeze(v.API_CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean)),
  });
}
