/** Ingest configuration from the environment: defaults here, validated once, frozen. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_ALARM_RULES } from '../core/alarms/file.ts';
import { DEFAULT_LIMITS, TOPIC_ROOT, type ContractLimits } from '../core/contract.ts';
import { PlatformError } from '../core/errors.ts';
import { secretFromEnv } from '../core/secrets.ts';
import { influxConfigFromEnv, type InfluxConfig } from '../core/influx/client.ts';

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

type NumKey = 'segmentBytes' | 'maxSpoolBytes' | 'batchBytes' | 'flushIntervalMs' | 'retryMinMs' | 'retryMaxMs' | 'httpPort' | 'alarmTickMs';
const NUMS: Record<NumKey, [env: string, def: number, lo: number, hi: number]> = {
  segmentBytes: ['INGEST_SEGMENT_BYTES', 64 * 1024 * 1024, 64 * 1024, 2 ** 31],
  maxSpoolBytes: ['INGEST_MAX_SPOOL_BYTES', 2 * 1024 ** 3, 1024 * 1024, 2 ** 50],
  batchBytes: ['INGEST_BATCH_BYTES', 1024 * 1024, 1024, 4 * 1024 * 1024],
  flushIntervalMs: ['INGEST_FLUSH_INTERVAL_MS', 50, 1, 60_000],
  retryMinMs: ['INGEST_RETRY_MIN_MS', 200, 1, 60_000],
  retryMaxMs: ['INGEST_RETRY_MAX_MS', 30_000, 1, 600_000],
  httpPort: ['INGEST_HTTP_PORT', 9102, -1, 65535],
  alarmTickMs: ['INGEST_ALARM_TICK_MS', 1000, 10, 60_000],
};

export function ingestConfig(env: NodeJS.ProcessEnv = process.env): Readonly<IngestConfig> {
  const need = (key: string): string => {
    const v = env[key];
    if (!v) throw new PlatformError('SP_ERR_CONFIG', `${key} is not set: expected ${key === 'INFLUX_URL' ? 'the InfluxDB base URL, e.g. http://127.0.0.1:8086' : 'a value'}`);
    return v;
  };
  const nums = {} as Record<NumKey, number>;
  for (const [k, [name, def, lo, hi]] of Object.entries(NUMS) as [NumKey, (typeof NUMS)[NumKey]][]) {
    const raw = env[name];
    const n = raw === undefined || raw === '' ? def : Number(raw);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new PlatformError('SP_ERR_CONFIG', `${name}=${JSON.stringify(raw)}: expected an integer from ${lo} to ${hi}`);
    nums[k] = n;
  }
  need('INFLUX_URL');
  const topics = (env.INGEST_TOPICS ?? `${TOPIC_ROOT}/#`).split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of topics) {
    if (!t.startsWith(`${TOPIC_ROOT}/`)) throw new PlatformError('SP_ERR_CONFIG', `INGEST_TOPICS: ${JSON.stringify(t)}: expected filters under ${TOPIC_ROOT}/`);
  }
  return Object.freeze({
    mqttUrl: env.MQTT_URL ?? 'mqtt://127.0.0.1:1883',
    mqttUsername: env.INGEST_MQTT_USERNAME ?? 'svc-ingest',
    mqttPassword: secretFromEnv(env, 'INGEST_MQTT_PASSWORD', (f) => readFileSync(f, 'utf8')) ?? need('INGEST_MQTT_PASSWORD'),
    clientId: env.INGEST_CLIENT_ID ?? env.INGEST_MQTT_USERNAME ?? 'svc-ingest',
    topics,
    influx: influxConfigFromEnv(env)!,
    spoolDir: resolve(env.INGEST_SPOOL_DIR ?? 'data/spool/ingest'),
    ...nums,
    spoolWarnRatio: 0.8,
    httpHost: env.INGEST_HTTP_HOST ?? '127.0.0.1',
    limits: { ...DEFAULT_LIMITS },
    ...(env.INGEST_ALARMS_FILE === 'none' ? {} : { alarmsFile: resolve(env.INGEST_ALARMS_FILE || DEFAULT_ALARM_RULES) }),
  });
}
