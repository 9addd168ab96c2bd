/** The fleet runner's options, validated once and frozen; a bad one fails with its name. */
import { DEFAULT_LIMITS } from '../core/contract.ts';
import { PlatformError } from '../core/errors.ts';
import type { DeviceModel, ParkModel } from '../core/model.ts';
import { DEFAULTS } from './config.ts';
import { resolveFaults, type FaultConfig } from './faults.ts';
import { checkSecrets, defaultSecretsFile, loadSecrets, selectDevices, type DeviceFilter, type DeviceSecrets } from './select.ts';

export interface FleetProgress {
  elapsedMs: number;
  /** Devices by state: connecting, online, offline (dropped, reconnecting), done, failed. */
  states: Record<DeviceState, number>;
  readingsPublished: number;
  readingsAcked: number;
  messagesAcked: number;
  /** Acknowledged telemetry messages per second since the previous progress report. */
  messagesPerS: number;
  malformed: number;
  errors: number;
  /** Backfill: share of the simulated range done, 0..1. */
  done?: number;
}
export type DeviceState = 'connecting' | 'online' | 'offline' | 'done' | 'failed';

export interface FleetOptions {
  model: ParkModel;
  /** Broker URL (default env MQTT_URL or mqtt://127.0.0.1:1883). */
  url?: string;
  /**
   * Passwords by device id, or the path of such a JSON file (default env DEVICE_SECRETS_FILE, else
   * data/secrets/devices.json, else data/secrets/credentials.json as broker/provision.ts writes it).
   */
  secrets?: DeviceSecrets | string;
  select?: DeviceFilter;
  /** Reporting interval of every device, ms (default: each device's own, divided by rate). */
  intervalMs?: number;
  /** Speed-up of the reporting rate (default 1). */
  rate?: number;
  /** Live mode: run this long, ms (0 or unset: until the signal, unless readings is set). */
  durationMs?: number;
  /** Reporting slots per device (each a reading, a malformed message or a silent slot). */
  readings?: number;
  seed?: string | number;
  /** Readings per telemetry message (default 1 live, 100 backfill). */
  batch?: number;
  maxInflight?: number;
  /** Simulate [fromMs, toMs) as fast as the broker accepts (within the contract's 7-day window). */
  backfill?: { fromMs: number; toMs: number };
  faults?: Partial<FaultConfig>;
  signal?: AbortSignal;
  onProgress?: (p: FleetProgress) => void;
  progressIntervalMs?: number;
  /** Live mode physics origin, epoch ms (default: now, rounded down to the second). */
  originMs?: number;
  tickMs?: number;
  connectTimeoutMs?: number;
  drainTimeoutMs?: number;
  reconnectPeriodMs?: number;
  keepaliveS?: number;
}

export interface ResolvedFleet {
  model: ParkModel;
  url: string;
  devices: readonly DeviceModel[];
  secrets: DeviceSecrets;
  intervalOf: (d: DeviceModel) => number;
  seed: string;
  mode: 'live' | 'backfill';
  originMs: number;
  /** End of the simulated time range (exclusive), Infinity for an open-ended live run. */
  endMs: number;
  readings: number | undefined;
  batch: number;
  maxInflight: number;
  faults: FaultConfig;
  tickMs: number;
  connectTimeoutMs: number;
  drainTimeoutMs: number;
  reconnectPeriodMs: number;
  keepaliveS: number;
  progressIntervalMs: number;
}

const fail = (key: string, value: unknown, expected: string): never => {
  throw new PlatformError('SP_ERR_CONFIG', `${key}: ${JSON.stringify(value)} — expected ${expected}`);
};
const int = (key: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
  if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) fail(key, v, `an integer from ${min} to ${max}`);
  return v;
};

export function resolveFleetOptions(o: FleetOptions, now = Date.now()): ResolvedFleet {
  const url = o.url ?? process.env.MQTT_URL ?? DEFAULTS.url;
  if (!/^(mqtts?|wss?|tcp|tls):\/\/./.test(url)) fail('url', url, 'an MQTT URL such as mqtt://127.0.0.1:1883');
  const rate = o.rate ?? 1;
  if (!(rate > 0 && Number.isFinite(rate))) fail('rate', rate, 'a positive number');
  const intervalMs = int('intervalMs', o.intervalMs, DEFAULTS.minIntervalMs);
  const readings = int('readings', o.readings, 1);
  const durationMs = int('durationMs', o.durationMs, 0);
  const batch = int('batch', o.batch, 1, DEFAULT_LIMITS.maxBatch) ?? (o.backfill ? DEFAULTS.backfillBatch : DEFAULTS.batch);
  const devices = selectDevices(o.model, o.select);
  let secrets: DeviceSecrets;
  if (typeof o.secrets === 'object') {
    secrets = o.secrets;
    checkSecrets(devices, secrets, '(in memory)');
  } else {
    const file = o.secrets ?? defaultSecretsFile();
    secrets = loadSecrets(file);
    checkSecrets(devices, secrets, file);
  }
  let mode: 'live' | 'backfill' = 'live';
  let originMs = o.originMs ?? Math.floor(now / 1000) * 1000;
  let endMs = durationMs ? originMs + durationMs : Infinity;
  if (o.backfill) {
    const { fromMs, toMs } = o.backfill;
    if (durationMs) fail('durationMs', durationMs, 'no duration with a backfill (the range sets it)');
    if (!(Number.isInteger(fromMs) && Number.isInteger(toMs) && fromMs < toMs)) fail('backfill', o.backfill, 'integer epoch ms with fromMs < toMs');
    if (fromMs < now - DEFAULT_LIMITS.maxPastMs) fail('backfill.fromMs', new Date(fromMs).toISOString(), `a time within the last ${DEFAULT_LIMITS.maxPastMs / 86_400_000} days (ingest refuses older readings)`);
    if (toMs > now) fail('backfill.toMs', new Date(toMs).toISOString(), 'a time not in the future');
    mode = 'backfill';
    originMs = fromMs;
    endMs = toMs;
  }
  return Object.freeze({
    model: o.model, url, devices, secrets, seed: String(o.seed ?? DEFAULTS.seed), mode, originMs, endMs, readings, batch,
    intervalOf: (d: DeviceModel) => intervalMs ?? Math.max(DEFAULTS.minIntervalMs, Math.round(d.intervalMs / rate)),
    maxInflight: int('maxInflight', o.maxInflight, 1) ?? DEFAULTS.maxInflight,
    faults: resolveFaults(o.faults),
    tickMs: int('tickMs', o.tickMs, 1) ?? DEFAULTS.tickMs,
    connectTimeoutMs: int('connectTimeoutMs', o.connectTimeoutMs, 1) ?? DEFAULTS.connectTimeoutMs,
    drainTimeoutMs: int('drainTimeoutMs', o.drainTimeoutMs, 0) ?? DEFAULTS.drainTimeoutMs,
    reconnectPeriodMs: int('reconnectPeriodMs', o.reconnectPeriodMs, 1) ?? DEFAULTS.reconnectPeriodMs,
    keepaliveS: int('keepaliveS', o.keepaliveS, 0) ?? DEFAULTS.keepaliveS,
    progressIntervalMs: int('progressIntervalMs', o.progressIntervalMs, 1) ?? DEFAULTS.progressIntervalMs,
  });
}
