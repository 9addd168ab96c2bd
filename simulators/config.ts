/** Defaults of the fleet runner and the CLI, with units in the names, and duration parsing. */
import { PlatformError } from '../core/errors.ts';

export const DEFAULTS = Object.freeze({
  url: 'mqtt://127.0.0.1:1883',
  secretsFile: 'data/secrets/devices.json',
  /** Used when secretsFile does not exist: the plain secrets broker/provision.ts writes. */
  secretsFallbackFile: 'data/secrets/credentials.json',
  seed: '1',
  /** Readings per telemetry message in live mode; backfill uses backfillBatch. */
  batch: 1,
  backfillBatch: 100,
  /** Unacknowledged telemetry messages a device may have before it waits. */
  maxInflight: 32,
  /** Physics step, ms. */
  tickMs: 1000,
  /** Shortest reporting interval accepted, ms. */
  minIntervalMs: 10,
  connectTimeoutMs: 10_000,
  /** On stop, how long to wait for outstanding PUBACKs before closing anyway. */
  drainTimeoutMs: 5_000,
  /** mqtt.js reconnect period after a dropped connection, ms. */
  reconnectPeriodMs: 1_000,
  keepaliveS: 30,
  progressIntervalMs: 5_000,
});

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** "250ms", "60s", "10m", "1.5h", "2d" or a bare number of milliseconds; negative allowed with allowNegative. */
export function parseDurationMs(text: string, what: string, allowNegative = false): number {
  const m = /^(-?\d+(?:\.\d+)?)(ms|s|m|min|h|d)?$/.exec(text.trim());
  const v = m ? Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1) : NaN;
  if (!Number.isFinite(v) || (!allowNegative && v < 0)) {
    throw new PlatformError('SP_ERR_CONFIG', `${what}: ${JSON.stringify(text)} is not a duration — expected e.g. 500ms, 60s, 10m, 2h, 1d${allowNegative ? ' (a leading - for negative)' : ''}`);
  }
  return Math.round(v);
}
