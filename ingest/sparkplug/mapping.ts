/**
 * Sparkplug metrics of one park device -> readings of the park model: the mapping of
 * config/sparkplug.yaml names the park metric and the unit conversion; the value is checked
 * against the park metric's declaration exactly as a JSON reading's is (core/contract.ts
 * checkMetric), and metrics are grouped into one reading per timestamp (the metric's own,
 * else the payload's, else the time received). Pure.
 */
import { checkMetric, DEFAULT_LIMITS, type ContractLimits, type MetricValue, type Reading } from '../../core/contract.ts';
import type { ErrorCode } from '../../core/errors.ts';
import type { MetricDef } from '../../core/model.ts';
import { dataTypeName, SUPPORTED_DATATYPES, DataType, valueAs, type SpMetric, type SpValue } from '../../core/sparkplug/codec.ts';
import type { SparkplugDeviceMap } from '../../core/sparkplug/config.ts';
import type { BirthMetric } from './sessions.ts';

export interface MetricRefusal { readonly metric: string; readonly code: ErrorCode; readonly reason: string }

/** Metrics of the Sparkplug control namespace: part of the birth, never data of a park device. */
export function isControlMetric(name: string): boolean {
  return name === 'bdSeq' || name.startsWith('Node Control/') || name.startsWith('Device Control/') || name.startsWith('Properties/');
}

const SUPPORTED = new Set<number>(SUPPORTED_DATATYPES.map((n) => DataType[n]));

type Converted = { ok: true; value: MetricValue } | { ok: false; why: string };
const show = (v: SpValue) => (typeof v === 'bigint' ? String(v) : JSON.stringify(v));

/** A Sparkplug value as the park metric's type (unit converted), or why not. */
function parkValue(def: MetricDef, v: SpValue, factor: number, offset: number): Converted {
  switch (def.type) {
    case 'number': case 'counter': case 'integer': {
      let n: number;
      if (typeof v === 'bigint') {
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return { ok: false, why: `${v} is beyond the exact range of a stored number (2^53)` };
        n = Number(v);
      } else if (typeof v === 'number') n = v;
      else return { ok: false, why: `${show(v)} is not a number` };
      return { ok: true, value: factor === 1 && offset === 0 ? n : n * factor + offset };
    }
    case 'boolean': return typeof v === 'boolean' ? { ok: true, value: v } : { ok: false, why: `${show(v)} is not a Boolean` };
    case 'enum': case 'text': return typeof v === 'string' ? { ok: true, value: v } : { ok: false, why: `${show(v)} is not a string` };
  }
}

export interface MappedMetrics {
  readings: Reading[];
  /** Metrics stored (one field of one reading each). */
  stored: number;
  refusals: MetricRefusal[];
  /** Null values, transient metrics and control metrics: known, deliberately not stored. */
  skipped: number;
}

/**
 * Maps the metrics of one birth or data message of one Sparkplug device (or the node's own).
 * `resolve` gives each metric's birth entry (name, datatype); it is never undefined here (the
 * caller refuses a message with an unknown alias before mapping anything).
 */
export function mapMetrics(
  dm: SparkplugDeviceMap | undefined, metrics: readonly SpMetric[], resolve: (m: SpMetric) => BirthMetric,
  payloadTs: number | undefined, now: number, limits: ContractLimits = DEFAULT_LIMITS,
): MappedMetrics {
  const byTs = new Map<number, Record<string, MetricValue>>();
  const refusals: MetricRefusal[] = [];
  let stored = 0;
  let skipped = 0;
  for (const m of metrics) {
    const b = resolve(m);
    if (isControlMetric(b.name) || m.isTransient || m.isNull) { skipped++; continue; }
    const mm = dm?.metrics.get(b.name);
    if (!mm) {
      refusals.push({ metric: b.name, code: 'SP_ERR_SPB_UNMAPPED', reason: dm ? `metric ${JSON.stringify(b.name)} has no mapping for park device ${dm.device.id}` : `metric ${JSON.stringify(b.name)}: its Sparkplug device has no mapping` });
      continue;
    }
    const dt = b.datatype ?? m.datatype;
    if (dt === undefined || !SUPPORTED.has(dt)) {
      refusals.push({ metric: b.name, code: 'SP_ERR_SPB_DATATYPE', reason: `metric ${JSON.stringify(b.name)}: ${dt === undefined ? 'no datatype in its birth' : `datatype ${dataTypeName(dt)} is not supported`}` });
      continue;
    }
    if (m.datatype !== undefined && m.datatype !== dt) {
      refusals.push({ metric: b.name, code: 'SP_ERR_SPB_DATATYPE', reason: `metric ${JSON.stringify(b.name)}: sent as ${dataTypeName(m.datatype)}, born as ${dataTypeName(dt)}` });
      continue;
    }
    const v = valueAs(m, dt);
    if (v === undefined) { skipped++; continue; } // no value field: nothing was measured
    const c = parkValue(mm.metric, v, mm.factor, mm.offset);
    if (!c.ok) {
      refusals.push({ metric: b.name, code: 'SP_ERR_METRIC_TYPE', reason: `metric ${JSON.stringify(b.name)} -> ${mm.metric.name} (${mm.metric.type}): ${c.why}` });
      continue;
    }
    const pv = c.value;
    const bad = checkMetric(mm.metric, pv);
    if (bad) { refusals.push({ metric: b.name, code: bad.code, reason: `metric ${JSON.stringify(b.name)}: ${bad.reason}` }); continue; }
    const ts = m.timestamp ?? payloadTs ?? now;
    if (ts > now + limits.maxFutureMs || ts < now - limits.maxPastMs || ts <= 0) {
      const future = ts > now;
      refusals.push({ metric: b.name, code: future ? 'SP_ERR_TS_FUTURE' : 'SP_ERR_TS_PAST', reason: `metric ${JSON.stringify(b.name)}: timestamp ${ts} is ${future ? 'too far ahead of the platform clock' : 'too old'}` });
      continue;
    }
    let r = byTs.get(ts);
    if (!r) byTs.set(ts, (r = {}));
    r[mm.metric.name] = pv;
    stored++;
  }
  return { readings: [...byTs].map(([ts, metrics]) => ({ ts, metrics })), stored, refusals, skipped };
}
