/**
 * Configuration of the Sparkplug B host application (ingest/sparkplug/main.ts) from the
 * environment: one env table (core/env.ts), validated once with every problem named, frozen. The mapping itself is config/sparkplug.yaml (SPARKPLUG_CONFIG).
 */
import { resolve } from 'node:path';
import { DEFAULT_LIMITS, type ContractLimits } from '../../core/contract.ts';
import { envTable, INFLUX_ENV, MQTT_PROTOCOLS, readEnv, SHARED_ENV } from '../../core/env.ts';
import { influxConfigFromEnv, type InfluxConfig } from '../../core/influx/client.ts';
import { DEFAULT_SPARKPLUG_CONFIG } from '../../core/sparkplug/config.ts';

export interface SparkplugHostConfig {
  mqttUrl: string;
  mqttPassword: string;
  /** Fixed client id (default: the host account of config/sparkplug.yaml): the broker keeps this persistent session. */
  clientId?: string;
  /** The mapping file. */
  mappingFile: string;
  influx: InfluxConfig;
  /** Spool segments, checkpoint and births.json (the alias tables). */
  spoolDir: string;
  segmentBytes: number;
  /** Above this many unwritten bytes, acknowledgements wait (back-pressure). */
  maxSpoolBytes: number;
  batchBytes: number;
  flushIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** A node asked to rebirth is asked again after this long without a birth. */
  rebirthRetryMs: number;
  /** Counters (/metrics, /stats, /health); 0 picks a free port, -1 disables. */
  httpPort: number;
  httpHost: string;
  limits: ContractLimits;
}

/** Every variable the Sparkplug host reads (ingest/README.md's Sparkplug table is generated from it). */
export const SPARKPLUG_ENV = envTable({
  MQTT_URL: { type: 'url', default: 'mqtt://127.0.0.1:1883', protocols: MQTT_PROTOCOLS, doc: 'broker' },
  SPARKPLUG_MQTT_PASSWORD: { type: 'text', default: '', secret: true, required: "the host account's password", doc: "the host application account's secret (`npm run credentials` provisions it)" },
  SPARKPLUG_CLIENT_ID: { type: 'text', default: '', check: (v) => (/^[a-z0-9][a-z0-9_-]{0,47}$/.test(v) ? undefined : 'the host account, or the host account followed by -<suffix>'), doc: 'unset = the host account of the mapping. Keep it fixed: the broker keeps this persistent session' },
  SPARKPLUG_CONFIG: { type: 'path', default: 'config/sparkplug.yaml', doc: 'the mapping of groups, edge nodes, devices and metrics to the park model ([docs/sparkplug.md](../docs/sparkplug.md)); `none` turns Sparkplug off (broker accounts too)' },
  ...INFLUX_ENV,
  INFLUX_URL: { ...INFLUX_ENV.INFLUX_URL, default: '', required: 'the InfluxDB base URL, e.g. http://127.0.0.1:8086', doc: 'InfluxDB base URL' },
  SPARKPLUG_SPOOL_DIR: { type: 'path', default: 'data/spool/sparkplug', doc: 'spool segments, checkpoint and `births.json` (the alias tables, kept across restarts)' },
  SPARKPLUG_SEGMENT_BYTES: { type: 'int', default: 64 * 1024 * 1024, range: [64 * 1024, 2 ** 31], unit: 'bytes', doc: 'spool segment size' },
  SPARKPLUG_MAX_SPOOL_BYTES: { type: 'int', default: 2 * 1024 ** 3, range: [1024 * 1024, 2 ** 50], unit: 'bytes', doc: 'above it, acknowledgements wait (back-pressure)' },
  SPARKPLUG_BATCH_BYTES: { type: 'int', default: 1024 * 1024, range: [1024, 4 * 1024 * 1024], unit: 'bytes', doc: 'largest write request' },
  SPARKPLUG_FLUSH_INTERVAL_MS: { type: 'int', default: 50, range: [1, 60_000], unit: 'ms', doc: 'longest a reading waits for a fuller batch' },
  SPARKPLUG_RETRY_MIN_MS: { type: 'int', default: 200, range: [1, 60_000], unit: 'ms', doc: 'first wait after a failed write' },
  SPARKPLUG_RETRY_MAX_MS: { type: 'int', default: 30_000, range: [1, 600_000], unit: 'ms', doc: 'longest wait between write attempts' },
  SPARKPLUG_REBIRTH_RETRY_MS: { type: 'int', default: 30_000, range: [100, 3_600_000], unit: 'ms', doc: 'a node asked to rebirth is asked again after this long without a birth' },
  SPARKPLUG_HTTP_PORT: { type: 'int', default: 9103, range: [-1, 65535], doc: '`/health`, `/metrics`, `/stats`; `0` any free port, `-1` off' },
  SPARKPLUG_HTTP_HOST: { type: 'text', default: '127.0.0.1', doc: 'listen address of that port' },
  ...SHARED_ENV,
});

export function sparkplugHostConfig(env: NodeJS.ProcessEnv = process.env): Readonly<SparkplugHostConfig> {
  const v = readEnv(SPARKPLUG_ENV, env, 'Sparkplug host environment');
  return Object.freeze({
    mqttUrl: v.MQTT_URL, mqttPassword: v.SPARKPLUG_MQTT_PASSWORD,
    ...(v.SPARKPLUG_CLIENT_ID && { clientId: v.SPARKPLUG_CLIENT_ID }),
    mappingFile: resolve(env.SPARKPLUG_CONFIG ? v.SPARKPLUG_CONFIG : DEFAULT_SPARKPLUG_CONFIG),
    influx: influxConfigFromEnv({ ...env, INFLUX_URL: v.INFLUX_URL, INFLUX_TOKEN: v.INFLUX_TOKEN, INFLUX_PASSWORD: v.INFLUX_PASSWORD })!,
    spoolDir: resolve(v.SPARKPLUG_SPOOL_DIR),
    segmentBytes: v.SPARKPLUG_SEGMENT_BYTES,
    maxSpoolBytes: v.SPARKPLUG_MAX_SPOOL_BYTES,
    batchBytes: v.SPARKPLUG_BATCH_BYTES,
    flushIntervalMs: v.SPARKPLUG_FLUSH_INTERVAL_MS,
    retryMinMs: v.SPARKPLUG_RETRY_MIN_MS,
    retryMaxMs: v.SPARKPLUG_RETRY_MAX_MS,
    rebirthRetryMs: v.SPARKPLUG_REBIRTH_RETRY_MS,
    httpPort: v.SPARKPLUG_HTTP_PORT,
    httpHost: v.SPARKPLUG_HTTP_HOST,
    limits: { ...DEFAULT_LIMITS },
  });
}
