/** Gateway configuration from the environment: defaults here, validated once, frozen. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_LIMITS, type ContractLimits } from '../core/contract.ts';
import { envTable, MQTT_PROTOCOLS, readEnv, SHARED_ENV, type EnvValues } from '../core/env.ts';
import { PlatformError } from '../core/errors.ts';
import { isId } from '../core/ids.ts';
import { GATEWAY_PREFIX } from '../core/model.ts';

export interface GatewayEnvConfig {
  /** The gateway's id: its entry in the gateway config and the park model, its MQTT client id and username. */
  gatewayId: string;
  /** The field configuration (connections, devices, register maps). */
  configFile: string;
  mqttUrl: string;
  mqttPassword: string;
  mqttKeepaliveS: number;
  mqttReconnectMs: number;
  mqttConnectTimeoutMs: number;
  /** Unacknowledged publishes at once (each up to limits.maxBatch readings). */
  maxInflight: number;
  bufferDir: string;
  /** Bound on the buffer's disk use; the oldest segment is dropped past it. */
  bufferMaxBytes: number;
  bufferSegmentBytes: number;
  /** A warning is logged when the buffer passes this share of bufferMaxBytes. */
  bufferWarnRatio: number;
  /** Most bytes of buffer read in one go when draining. */
  drainChunkBytes: number;
  /** Health, /stats and /metrics; 0 picks a free port, -1 disables. */
  httpPort: number;
  httpHost: string;
  /** The contract's limits: batch size and payload size of a publish, and the oldest reading ingest accepts. */
  limits: ContractLimits;
  /** Readings this close to limits.maxPastMs are not sent (ingest would refuse the whole batch): counted as expired. */
  expiryMarginMs: number;
}

/** Every variable the gateway reads: default, range and meaning (the README table is generated from it). */
export const GATEWAY_ENV = envTable({
  GATEWAY_ID: { type: 'text', default: '', doc: "required: the gateway's id (`gw-…`): its entry in `config/gateway.yaml` and in the park model's `gateways:`, its MQTT client id and username" },
  GATEWAY_CONFIG: { type: 'path', default: 'config/gateway.yaml', doc: 'field configuration: connections, devices, profiles (validated against the park model at start, path-named errors)' },
  MQTT_URL: { type: 'url', default: 'mqtt://127.0.0.1:1883', protocols: MQTT_PROTOCOLS, expected: 'mqtt://host:port, mqtts://, ws:// or wss://', doc: 'broker (`mqtts://`, `ws://`, `wss://` too)' },
  GATEWAY_MQTT_PASSWORD: { type: 'text', default: '', secret: true, doc: "the gateway account's secret" },
  GATEWAY_SECRETS_FILE: { type: 'path', default: 'data/secrets/credentials.json', doc: 'used only when no password is given: `{"gw-…": "<secret>"}` as `npm run credentials` writes it' },
  GATEWAY_MQTT_KEEPALIVE_S: { type: 'int', default: 30, range: [5, 3600], unit: 's', doc: 'MQTT keepalive' },
  GATEWAY_MQTT_RECONNECT_MS: { type: 'int', default: 2000, range: [100, 600_000], unit: 'ms', doc: 'wait between reconnect attempts to the broker (forever)' },
  GATEWAY_MQTT_CONNECT_TIMEOUT_MS: { type: 'int', default: 10_000, range: [500, 120_000], unit: 'ms', doc: 'time allowed for the CONNACK' },
  GATEWAY_MAX_INFLIGHT: { type: 'int', default: 32, range: [1, 1000], unit: 'messages', doc: 'unacknowledged publishes at once (each up to 1,000 readings)' },
  GATEWAY_BUFFER_DIR: { type: 'path', default: '', doc: 'buffer segments and checkpoint; unset = `data/spool/<GATEWAY_ID>`' },
  GATEWAY_BUFFER_MAX_BYTES: { type: 'int', default: 256 * 1024 * 1024, range: [256 * 1024, 2 ** 45], unit: 'bytes', doc: "bound on the buffer's disk use; warning at 80 %, oldest segment dropped past it" },
  GATEWAY_BUFFER_SEGMENT_BYTES: { type: 'int', default: 0, range: [0, 2 ** 44], unit: 'bytes', doc: 'segment size = what one drop at the bound frees; `0` = a sixteenth of the bound (64 KiB – 64 MiB); at least 16 KiB and at most half the bound' },
  GATEWAY_DRAIN_CHUNK_BYTES: { type: 'int', default: 1024 * 1024, range: [4096, 4 * 1024 * 1024], unit: 'bytes', doc: 'most buffer bytes read in one go when draining' },
  GATEWAY_HTTP_PORT: { type: 'int', default: 9104, range: [-1, 65535], doc: '`/health` (503 while the broker is away), `/stats` (JSON, with each device\'s status), `/metrics` (Prometheus); `0` any free port, `-1` off' },
  GATEWAY_HTTP_HOST: { type: 'text', default: '127.0.0.1', doc: 'listen address of that port' },
  ...SHARED_ENV,
});

/** The gateway's secret: GATEWAY_MQTT_PASSWORD, GATEWAY_MQTT_PASSWORD_FILE, else its entry in GATEWAY_SECRETS_FILE. */
function password(v: EnvValues<typeof GATEWAY_ENV>, id: string): string {
  if (v.GATEWAY_MQTT_PASSWORD) return v.GATEWAY_MQTT_PASSWORD;
  const file = resolve(v.GATEWAY_SECRETS_FILE);
  let secrets: Record<string, unknown>;
  try {
    secrets = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `GATEWAY_MQTT_PASSWORD is not set and GATEWAY_SECRETS_FILE=${JSON.stringify(file)} cannot be read (${(e as Error).message}): expected the gateway's secret (npm run credentials provisions it)`);
  }
  const s = secrets[id];
  if (typeof s !== 'string' || s === '') throw new PlatformError('SP_ERR_CONFIG', `GATEWAY_SECRETS_FILE=${JSON.stringify(file)} has no secret for ${id}: expected "${id}": "<secret>" (npm run credentials provisions it)`);
  return s;
}

export function gatewayConfig(env: NodeJS.ProcessEnv = process.env): Readonly<GatewayEnvConfig> {
  const id = env.GATEWAY_ID ?? '';
  if (!isId(id) || !id.startsWith(GATEWAY_PREFIX)) {
    throw new PlatformError('SP_ERR_CONFIG', `GATEWAY_ID=${JSON.stringify(env.GATEWAY_ID)}: expected a gateway id starting with ${GATEWAY_PREFIX} from the park model's gateways (e.g. gw-weimei-1)`);
  }
  const v = readEnv(GATEWAY_ENV, env, 'gateway environment');
  // Segments: a sixteenth of the bound (so a drop at the bound frees a sixteenth), 64 KiB .. 64 MiB.
  const segDefault = Math.min(64 * 1024 * 1024, Math.max(64 * 1024, Math.floor(v.GATEWAY_BUFFER_MAX_BYTES / 16)));
  const segMax = Math.max(16 * 1024, Math.floor(v.GATEWAY_BUFFER_MAX_BYTES / 2));
  const seg = v.GATEWAY_BUFFER_SEGMENT_BYTES || segDefault;
  if (seg < 16 * 1024 || seg > segMax) throw new PlatformError('SP_ERR_CONFIG', `GATEWAY_BUFFER_SEGMENT_BYTES=${JSON.stringify(env.GATEWAY_BUFFER_SEGMENT_BYTES)}: expected an integer from ${16 * 1024} to ${segMax}`);
  return Object.freeze({
    gatewayId: id,
    configFile: resolve(v.GATEWAY_CONFIG),
    mqttUrl: v.MQTT_URL,
    mqttPassword: password(v, id),
    mqttKeepaliveS: v.GATEWAY_MQTT_KEEPALIVE_S,
    mqttReconnectMs: v.GATEWAY_MQTT_RECONNECT_MS,
    mqttConnectTimeoutMs: v.GATEWAY_MQTT_CONNECT_TIMEOUT_MS,
    maxInflight: v.GATEWAY_MAX_INFLIGHT,
    bufferMaxBytes: v.GATEWAY_BUFFER_MAX_BYTES,
    drainChunkBytes: v.GATEWAY_DRAIN_CHUNK_BYTES,
    httpPort: v.GATEWAY_HTTP_PORT,
    bufferDir: resolve(v.GATEWAY_BUFFER_DIR || `data/spool/${id}`),
    bufferSegmentBytes: seg,
    bufferWarnRatio: 0.8,
    httpHost: v.GATEWAY_HTTP_HOST,
    limits: Object.freeze({ ...DEFAULT_LIMITS }),
    expiryMarginMs: 10 * 60_000,
  });
}
