/** Gateway configuration from the environment: defaults here, validated once, frozen. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_LIMITS, type ContractLimits } from '../core/contract.ts';
import { PlatformError } from '../core/errors.ts';
import { isId } from '../core/ids.ts';
import { GATEWAY_PREFIX } from '../core/model.ts';
import { secretFromEnv } from '../core/secrets.ts';

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

type NumKey = 'mqttKeepaliveS' | 'mqttReconnectMs' | 'mqttConnectTimeoutMs' | 'maxInflight' | 'bufferMaxBytes' | 'drainChunkBytes' | 'httpPort';
const NUMS: Record<NumKey, [env: string, def: number, lo: number, hi: number]> = {
  mqttKeepaliveS: ['GATEWAY_MQTT_KEEPALIVE_S', 30, 5, 3600],
  mqttReconnectMs: ['GATEWAY_MQTT_RECONNECT_MS', 2000, 100, 600_000],
  mqttConnectTimeoutMs: ['GATEWAY_MQTT_CONNECT_TIMEOUT_MS', 10_000, 500, 120_000],
  maxInflight: ['GATEWAY_MAX_INFLIGHT', 32, 1, 1000],
  bufferMaxBytes: ['GATEWAY_BUFFER_MAX_BYTES', 256 * 1024 * 1024, 256 * 1024, 2 ** 45],
  drainChunkBytes: ['GATEWAY_DRAIN_CHUNK_BYTES', 1024 * 1024, 4096, 4 * 1024 * 1024],
  httpPort: ['GATEWAY_HTTP_PORT', 9104, -1, 65535],
};

const int = (env: NodeJS.ProcessEnv, name: string, def: number, lo: number, hi: number): number => {
  const raw = env[name];
  const n = raw === undefined || raw === '' ? def : Number(raw);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new PlatformError('SP_ERR_CONFIG', `${name}=${JSON.stringify(raw)}: expected an integer from ${lo} to ${hi}`);
  return n;
};

/** The gateway's secret: GATEWAY_MQTT_PASSWORD, GATEWAY_MQTT_PASSWORD_FILE, else its entry in GATEWAY_SECRETS_FILE. */
function password(env: NodeJS.ProcessEnv, id: string): string {
  const direct = secretFromEnv(env, 'GATEWAY_MQTT_PASSWORD', (f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw new PlatformError('SP_ERR_CONFIG', `GATEWAY_MQTT_PASSWORD_FILE=${JSON.stringify(f)}: cannot be read (${(e as Error).message})`);
    }
  });
  if (direct) return direct;
  const file = resolve(env.GATEWAY_SECRETS_FILE || 'data/secrets/credentials.json');
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
  const nums = {} as Record<NumKey, number>;
  for (const [k, [name, def, lo, hi]] of Object.entries(NUMS) as [NumKey, (typeof NUMS)[NumKey]][]) nums[k] = int(env, name, def, lo, hi);
  // Segments: a sixteenth of the bound (so a drop at the bound frees a sixteenth), 64 KiB .. 64 MiB.
  const segDefault = Math.min(64 * 1024 * 1024, Math.max(64 * 1024, Math.floor(nums.bufferMaxBytes / 16)));
  const bufferSegmentBytes = int(env, 'GATEWAY_BUFFER_SEGMENT_BYTES', segDefault, 16 * 1024, Math.max(16 * 1024, Math.floor(nums.bufferMaxBytes / 2)));
  const url = env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
  if (!/^(mqtts?|wss?|tcp|ssl):\/\/[^/]/.test(url)) throw new PlatformError('SP_ERR_CONFIG', `MQTT_URL=${JSON.stringify(url)}: expected mqtt://host:port, mqtts://, ws:// or wss://`);
  return Object.freeze({
    gatewayId: id,
    configFile: resolve(env.GATEWAY_CONFIG || 'config/gateway.yaml'),
    mqttUrl: url,
    mqttPassword: password(env, id),
    ...nums,
    bufferDir: resolve(env.GATEWAY_BUFFER_DIR || `data/spool/${id}`),
    bufferSegmentBytes,
    bufferWarnRatio: 0.8,
    httpHost: env.GATEWAY_HTTP_HOST || '127.0.0.1',
    limits: Object.freeze({ ...DEFAULT_LIMITS }),
    expiryMarginMs: 10 * 60_000,
  });
}
