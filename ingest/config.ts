/** Ingest configuration from the environment: defaults here, validated once, frozen. */
import { resolve } from 'node:path';
import { DEFAULT_ALARM_RULES } from '../core/alarms/file.ts';
import { DEFAULT_LIMITS, TOPIC_ROOT, type ContractLimits } from '../core/contract.ts';
import { PlatformError } from '../core/errors.ts';
import { envTable, INFLUX_ENV, MQTT_PROTOCOLS, readEnv, SHARED_ENV } from '../core/env.ts';
import { influxConfigFromEnv, type InfluxConfig } from '../core/influx/client.ts';

function topicsCheck(v: string): string | undefined {
  const bad = v.split(',').map((t) => t.trim()).filter(Boolean).find((t) => !t.startsWith(`${TOPIC_ROOT}/`));
  return bad === undefined ? undefined : `filters under ${TOPIC_ROOT}/ (${JSON.stringify(bad)} is not)`;
}

export interface IngestConfig {
  mqttUrl: string;
  mqttUsername: string;
  mqttPassword: string;
  /** Fixed client id: the broker keeps this persistent session (clean=false) across restarts. */
  clientId: string;
  /** Comma-separated subscription filters; narrow them to split devices between ingest instances. */
  topics: string[];
  influx: InfluxConfig;
  spoolDir: string;
  segmentBytes: number;
  /** Back-pressure: above this many unwritten bytes on disk, new messages wait before being acknowledged. */
  maxSpoolBytes: number;
  /** A warning is logged when the spool passes this share of maxSpoolBytes. */
  spoolWarnRatio: number;
  batchBytes: number;
  flushIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** Counters and health over HTTP (/metrics, /stats, /health); 0 picks a free port, -1 disables. */
  httpPort: number;
  httpHost: string;
  limits: ContractLimits;
  /** Alarm rules file (config/alarms.yaml); undefined when INGEST_ALARMS_FILE=none. */
  alarmsFile?: string;
  /** How often silent devices are checked. */
  alarmTickMs: number;
}

/** Every variable ingest reads: default, range and meaning (the README table is generated from it). */
export const INGEST_ENV = envTable({
  MQTT_URL: { type: 'url', default: 'mqtt://127.0.0.1:1883', protocols: MQTT_PROTOCOLS, doc: 'broker' },
  INGEST_MQTT_USERNAME: { type: 'text', default: 'svc-ingest', doc: 'service account' },
  INGEST_MQTT_PASSWORD: { type: 'text', default: '', secret: true, required: 'a value', doc: "the service account's secret" },
  INGEST_CLIENT_ID: { type: 'text', default: '', doc: 'unset = the username. Keep it fixed: the broker keeps this session while ingest is down' },
  INGEST_TOPICS: { type: 'text', default: `${TOPIC_ROOT}/#`, check: topicsCheck, doc: `comma-separated filters; narrow them (e.g. \`${TOPIC_ROOT}/guangfu/#\`) to split devices between instances` },
  ...INFLUX_ENV,
  INFLUX_URL: { ...INFLUX_ENV.INFLUX_URL, default: '', required: 'the InfluxDB base URL, e.g. http://127.0.0.1:8086', doc: 'InfluxDB base URL: the v1-compatible endpoint of InfluxDB 1.x, 2.4+ or 3.x' },
  INGEST_SPOOL_DIR: { type: 'path', default: 'data/spool/ingest', doc: 'spool segments and checkpoint' },
  INGEST_SEGMENT_BYTES: { type: 'int', default: 64 * 1024 * 1024, range: [64 * 1024, 2 ** 31], unit: 'bytes', doc: 'spool segment size' },
  INGEST_MAX_SPOOL_BYTES: { type: 'int', default: 2 * 1024 ** 3, range: [1024 * 1024, 2 ** 50], unit: 'bytes', doc: 'above it, acknowledgements wait (back-pressure); warning at 80 %' },
  INGEST_BATCH_BYTES: { type: 'int', default: 1024 * 1024, range: [1024, 4 * 1024 * 1024], unit: 'bytes', doc: 'largest write request' },
  INGEST_FLUSH_INTERVAL_MS: { type: 'int', default: 50, range: [1, 60_000], unit: 'ms', doc: 'longest a reading waits for a fuller batch' },
  INGEST_RETRY_MIN_MS: { type: 'int', default: 200, range: [1, 60_000], unit: 'ms', doc: 'first wait after a failed write (doubled per failure)' },
  INGEST_RETRY_MAX_MS: { type: 'int', default: 30_000, range: [1, 600_000], unit: 'ms', doc: 'longest wait between write attempts' },
  INGEST_HTTP_PORT: { type: 'int', default: 9102, range: [-1, 65535], doc: '`/health`, `/metrics`, `/stats`; `0` any free port, `-1` off' },
  INGEST_HTTP_HOST: { type: 'text', default: '127.0.0.1', doc: 'listen address of that port' },
  INGEST_ALARMS_FILE: { type: 'path', default: 'config/alarms.yaml', doc: 'alarm rules evaluated on the validated stream ([docs/alarms.md](../docs/alarms.md)); `none` turns alarms off' },
  INGEST_ALARM_TICK_MS: { type: 'int', default: 1000, range: [10, 60_000], unit: 'ms', doc: 'how often the silent-device rule checks its timers' },
  ...SHARED_ENV,
});

export function ingestConfig(env: NodeJS.ProcessEnv = process.env): Readonly<IngestConfig> {
  const v = readEnv(INGEST_ENV, env, 'ingest environment');
  return Object.freeze({
    mqttUrl: v.MQTT_URL,
    mqttUsername: v.INGEST_MQTT_USERNAME,
    mqttPassword: v.INGEST_MQTT_PASSWORD,
    clientId: v.INGEST_CLIENT_ID || v.INGEST_MQTT_USERNAME,
    topics: v.INGEST_TOPICS.split(',').map((s) => s.trim()).filter(Boolean),
    influx: influxConfigFromEnv({ ...env, INFLUX_URL: v.INFLUX_URL })!,
    spoolDir: resolve(v.INGEST_SPOOL_DIR),
    segmentBytes: v.INGEST_SEGMENT_BYTES,
    maxSpoolBytes: v.INGEST_MAX_SPOOL_BYTES,
    batchBytes: v.INGEST_BATCH_BYTES,
    flushIntervalMs: v.INGEST_FLUSH_INTERVAL_MS,
    retryMinMs: v.INGEST_RETRY_MIN_MS,
    retryMaxMs: v.INGEST_RETRY_MAX_MS,
    httpPort: v.INGEST_HTTP_PORT,
    alarmTickMs: v.INGEST_ALARM_TICK_MS,
    spoolWarnRatio: 0.8,
    httpHost: v.INGEST_HTTP_HOST,
    limits: { ...DEFAULT_LIMITS },
    ...(v.INGEST_ALARMS_FILE === 'none' ? {} : { alarmsFile: resolve(env.INGEST_ALARMS_FILE ? v.INGEST_ALARMS_FILE : DEFAULT_ALARM_RULES) }),
  });
}
