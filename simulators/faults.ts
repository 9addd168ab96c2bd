/**
 * Fault injection, deterministic from the seed: dropouts (silent, optionally with an abrupt
 * disconnect), spikes, stuck values, clock skew and malformed payloads. Each malformed type is
 * paired with the error code core's parseTelemetry gives it, so a test can predict the refusal.
 */
import type { ErrorCode } from '../core/errors.ts';
import { PlatformError } from '../core/errors.ts';
import type { Reading } from '../core/contract.ts';
import type { DeviceKind, MetricDef } from '../core/model.ts';
import { parseDurationMs } from './config.ts';
import type { Rng } from './rng.ts';

export const MALFORMED_TYPES = [
  'not_json', 'bad_shape', 'bad_ts', 'empty_metrics', 'unknown_metric',
  'wrong_type', 'string_number', 'non_finite', 'bad_enum', 'negative_counter',
] as const;
export type MalformedType = (typeof MALFORMED_TYPES)[number];

/** What ingest (core/contract.ts parseTelemetry) answers to each malformed type. */
export const MALFORMED_CODES: Readonly<Record<MalformedType, ErrorCode>> = {
  not_json: 'SP_ERR_PAYLOAD_JSON',
  bad_shape: 'SP_ERR_PAYLOAD_SHAPE',
  bad_ts: 'SP_ERR_TIMESTAMP',
  empty_metrics: 'SP_ERR_NO_METRICS',
  unknown_metric: 'SP_ERR_UNKNOWN_METRIC',
  wrong_type: 'SP_ERR_METRIC_TYPE',
  string_number: 'SP_ERR_METRIC_TYPE',
  non_finite: 'SP_ERR_NON_FINITE',
  bad_enum: 'SP_ERR_ENUM_VALUE',
  negative_counter: 'SP_ERR_COUNTER_NEGATIVE',
};

export interface FaultConfig {
  /** Probability per reading that a dropout starts (the device goes silent). */
  dropout: number;
  /** Mean dropout length, ms (exponential). */
  dropoutMs: number;
  /** Share of dropouts that also close the connection abruptly (the broker sends the last will). */
  disconnect: number;
  /** Probability per reading of a spike: one number metric jumps to an outlier (still finite). */
  spike: number;
  /** A spike multiplies the value by this (or adds 10× it near zero). */
  spikeFactor: number;
  /** Probability per reading that a numeric metric gets stuck at its last value. */
  stuck: number;
  /** Mean stuck period, ms (exponential). */
  stuckMs: number;
  /** Probability per reading that its timestamp is skewed. */
  skew: number;
  /** Skew added to ts, ms (default 10 min: beyond the contract's 5-minute future limit). */
  skewMs: number;
  /** Probability per reading that a malformed message is sent instead. */
  malformed: number;
  malformedTypes: readonly MalformedType[];
}

export const NO_FAULTS: Readonly<FaultConfig> = Object.freeze({
  dropout: 0, dropoutMs: 120_000, disconnect: 0.5, spike: 0, spikeFactor: 8, stuck: 0, stuckMs: 300_000,
  skew: 0, skewMs: 600_000, malformed: 0, malformedTypes: MALFORMED_TYPES,
});

const PROBABILITIES = ['dropout', 'disconnect', 'spike', 'stuck', 'skew', 'malformed'] as const;
const DURATIONS = { 'dropout-ms': 'dropoutMs', 'stuck-ms': 'stuckMs', 'skew-ms': 'skewMs' } as const;

/** Parses `dropout=0.01,spike=0.005,skew-ms=10m,malformed-types=not_json|non_finite`. */
export function parseFaults(spec: string): Partial<FaultConfig> {
  const out: { -readonly [K in keyof FaultConfig]?: FaultConfig[K] } = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key = '', value = ''] = part.split('=', 2).map((s) => s.trim());
    if ((PROBABILITIES as readonly string[]).includes(key)) {
      out[key as (typeof PROBABILITIES)[number]] = Number(value);
    } else if (key in DURATIONS) {
      out[DURATIONS[key as keyof typeof DURATIONS]] = parseDurationMs(value, `--faults ${key}`, key === 'skew-ms');
    } else if (key === 'spike-factor') {
      out.spikeFactor = Number(value);
    } else if (key === 'malformed-types') {
      out.malformedTypes = value.split('|').map((s) => s.trim()) as MalformedType[];
    } else {
      throw new PlatformError('SP_ERR_CONFIG', `--faults: unknown key ${JSON.stringify(key)} — expected one of ${[...PROBABILITIES, ...Object.keys(DURATIONS), 'spike-factor', 'malformed-types'].join(', ')}`);
    }
  }
  return out;
}

/** Merges with the defaults and checks every value; a bad one fails with its name. */
export function resolveFaults(f: Partial<FaultConfig> = {}): FaultConfig {
  const c: FaultConfig = { ...NO_FAULTS, ...f };
  for (const k of PROBABILITIES) {
    if (!(c[k] >= 0 && c[k] <= 1)) throw new PlatformError('SP_ERR_CONFIG', `faults.${k}: ${c[k]} — expected a probability between 0 and 1`);
  }
  for (const k of ['dropoutMs', 'stuckMs'] as const) {
    if (!(c[k] > 0 && Number.isFinite(c[k]))) throw new PlatformError('SP_ERR_CONFIG', `faults.${k}: ${c[k]} — expected a positive number of milliseconds`);
  }
  if (!Number.isFinite(c.skewMs)) throw new PlatformError('SP_ERR_CONFIG', `faults.skewMs: ${c.skewMs} — expected a number of milliseconds`);
  if (!(c.spikeFactor > 1 && Number.isFinite(c.spikeFactor))) throw new PlatformError('SP_ERR_CONFIG', `faults.spikeFactor: ${c.spikeFactor} — expected a number above 1`);
  const bad = c.malformedTypes.filter((t) => !MALFORMED_TYPES.includes(t));
  if (bad.length > 0 || c.malformedTypes.length === 0) {
    throw new PlatformError('SP_ERR_CONFIG', `faults.malformedTypes: ${JSON.stringify(bad.length ? bad : c.malformedTypes)} — expected some of ${MALFORMED_TYPES.join(', ')}`);
  }
  return Object.freeze({ ...c, malformedTypes: Object.freeze([...c.malformedTypes]) });
}

const numeric = (d: MetricDef): boolean => d.type === 'number' || d.type === 'integer' || d.type === 'counter';

/** The malformed types a device of this kind can produce (bad_enum needs an enum metric, …). */
export function applicableTypes(kind: DeviceKind, allowed: readonly MalformedType[]): MalformedType[] {
  const defs = [...kind.metrics.values()];
  return allowed.filter((t) => {
    if (t === 'bad_enum') return defs.some((d) => d.type === 'enum');
    if (t === 'negative_counter') return defs.some((d) => d.type === 'counter');
    if (t === 'wrong_type' || t === 'string_number' || t === 'non_finite') return defs.some((d) => d.type === 'number' || d.type === 'integer');
    return true;
  });
}

/** The payload text of a malformed message built from an otherwise good reading. */
export function malformedPayload(type: MalformedType, r: Reading, kind: DeviceKind, rng: Rng): string {
  const defs = [...kind.metrics.values()];
  const pick = (f: (d: MetricDef) => boolean): string => rng.pick(defs.filter(f)).name;
  const m = { ...r.metrics };
  const withMetrics = (metrics: Record<string, unknown>): string => JSON.stringify({ ts: r.ts, seq: r.seq, metrics });
  switch (type) {
    case 'not_json': return JSON.stringify(r).slice(0, -1 - rng.int(8));
    case 'bad_shape': return JSON.stringify([r]);
    case 'bad_ts': return JSON.stringify({ ts: 'yesterday', seq: r.seq, metrics: m });
    case 'empty_metrics': return withMetrics({});
    case 'unknown_metric': return withMetrics({ bogus_sensor: 1, ...m });
    case 'wrong_type': return withMetrics({ ...m, [pick((d) => d.type === 'number' || d.type === 'integer')]: true });
    case 'string_number': {
      const k = pick((d) => d.type === 'number' || d.type === 'integer');
      return withMetrics({ ...m, [k]: String(m[k]) });
    }
    case 'non_finite': {
      // JSON has no Infinity; 1e999 is valid JSON text that parses to it.
      const k = pick((d) => d.type === 'number' || d.type === 'integer');
      return withMetrics({ ...m, [k]: '__NON_FINITE__' }).replace('"__NON_FINITE__"', '1e999');
    }
    case 'bad_enum': return withMetrics({ ...m, [pick((d) => d.type === 'enum')]: 'exploded' });
    case 'negative_counter': return withMetrics({ ...m, [pick((d) => d.type === 'counter')]: -1.5 });
  }
}

/** A spiked value of a numeric metric: an outlier that is still a valid number. */
export function spikeValue(v: number, def: MetricDef, factor: number, rng: Rng): number {
  const up = rng.chance(0.7);
  const x = Math.abs(v) >= 1 ? v * (up ? factor : 1 / factor) : v + (up ? 10 : -10) * factor;
  return def.type === 'integer' ? Math.round(Math.abs(x)) : Math.round(x * 1000) / 1000;
}

export const isSpikeable = (d: MetricDef): boolean => d.type === 'number' || d.type === 'integer';
export const isStickable = numeric;
