/**
 * Telemetry of one device: checks the request against the device's kind (metrics declared,
 * numeric for mean/min/max/sum, a window that keeps the answer under maxPoints), builds the one
 * InfluxQL statement (identifiers from the model only, values bound) and shapes the answer.
 */
import type { MetricValue } from '../core/contract.ts';
import type { InfluxClient } from '../core/influx/client.ts';
import { duration, durationMs, ident, influxql, join, keyword, type Fragment } from '../core/influx/influxql.ts';
import type { DeviceModel, MetricDef } from '../core/model.ts';
import { badParam } from './errors.ts';
import { parseTimeParam } from './time-params.ts';

export const AGGREGATES = ['mean', 'min', 'max', 'last', 'sum', 'count'] as const;
export type Aggregate = (typeof AGGREGATES)[number];
const NUMERIC_AGGREGATES: readonly string[] = ['mean', 'min', 'max', 'sum'];
const NUMERIC_TYPES: readonly string[] = ['number', 'counter', 'integer'];

export interface TelemetryParams { metric?: string; from?: string; to?: string; agg?: Aggregate | 'none'; window?: string; limit?: number }

export interface TelemetryPlan {
  device: DeviceModel;
  metrics: MetricDef[];
  from: number;
  to: number;
  agg: Aggregate | 'none';
  window: string | null;
  limit: number;
  statement: Fragment;
}

export interface Point { ts: number; values: Record<string, MetricValue | null> }

function pickMetrics(device: DeviceModel, list: string | undefined, agg: Aggregate | 'none'): MetricDef[] {
  const numericOnly = NUMERIC_AGGREGATES.includes(agg);
  const kind = device.kind;
  if (list === undefined) {
    const all = [...kind.metrics.values()].filter((m) => !numericOnly || NUMERIC_TYPES.includes(m.type));
    if (all.length === 0) throw badParam('metric', `kind ${kind.id} has no numeric metric for ${agg}`);
    return all;
  }
  const names = [...new Set(list.split(',').map((s) => s.trim()))];
  return names.map((name) => {
    const def = kind.metrics.get(name);
    if (!def) throw badParam('metric', `metric ${JSON.stringify(name.slice(0, 60))} is not declared for kind ${kind.id} (declared: ${[...kind.metrics.keys()].join(', ')})`);
    if (numericOnly && !NUMERIC_TYPES.includes(def.type)) {
      throw badParam('metric', `metric ${name} is ${def.type}; ${agg} needs a numeric metric (use last or count)`);
    }
    return def;
  });
}

/** Number of GROUP BY time() windows InfluxDB makes between from and to (windows align to the epoch). */
function windowCount(from: number, to: number, windowMs: number): number {
  return Math.floor(to / windowMs) - Math.floor(from / windowMs) + 1;
}

/** A select item such as `mean("power") AS "power"`, from a checked keyword and model identifiers. */
function aggregateItem(fn: Fragment, m: MetricDef): Fragment {
  return influxql`${fn}(${ident(m.name)}) AS ${ident(m.name)}`;
}

export function planTelemetry(device: DeviceModel, p: TelemetryParams, now: number, maxPoints: number): TelemetryPlan {
  const agg = p.agg ?? 'none';
  const from = parseTimeParam('from', p.from ?? '-1h', now);
  const to = parseTimeParam('to', p.to ?? 'now', now);
  if (from > to) throw badParam('from', `from (${new Date(from).toISOString()}) is after to (${new Date(to).toISOString()})`);
  const metrics = pickMetrics(device, p.metric, agg);
  const m = ident(device.kind.id);
  const limit = p.limit ?? Math.min(1000, maxPoints);
  if (agg === 'none') {
    if (p.window !== undefined) throw badParam('window', 'window needs agg (one of mean, min, max, last, sum, count)');
    const fields = join(metrics.map((x) => ident(x.name)));
    const statement = influxql`SELECT ${fields} FROM ${m} WHERE "device" = ${device.id} AND time >= ${new Date(from)} AND time <= ${new Date(to)} ORDER BY time ASC LIMIT ${limit + 1}`;
    return { device, metrics, from, to, agg, window: null, limit, statement };
  }
  if (p.window === undefined) throw badParam('window', `window is required with agg=${agg} (like 10s, 1m, 1h)`);
  if (p.limit !== undefined) throw badParam('limit', 'limit applies to raw points; with agg the window bounds the answer');
  const windowMs = durationMs(p.window);
  const n = windowCount(from, to, windowMs);
  if (n > maxPoints) {
    const least = Math.ceil((to - from) / (maxPoints - 1) / 1000);
    throw badParam('window', `window ${p.window} over ${Math.round((to - from) / 1000)} s gives ${n} points, more than ${maxPoints}; use a window of at least ${least}s or a shorter range`);
  }
  const fn = keyword(agg, AGGREGATES);
  const items = join(metrics.map((x) => aggregateItem(fn, x)));
  const statement = influxql`SELECT ${items} FROM ${m} WHERE "device" = ${device.id} AND time >= ${new Date(from)} AND time <= ${new Date(to)} GROUP BY time(${duration(p.window)}) fill(none)`;
  return { device, metrics, from, to, agg, window: p.window, limit: maxPoints, statement };
}

export async function runTelemetry(influx: InfluxClient, plan: TelemetryPlan): Promise<{ points: Point[]; truncated: boolean }> {
  const [series = []] = await influx.query(plan.statement);
  const s = series.find((x) => x.name === plan.device.kind.id);
  if (!s) return { points: [], truncated: false };
  const col = plan.metrics.map((m) => [m.name, s.columns.indexOf(m.name)] as const);
  const t = s.columns.indexOf('time');
  const rows = s.values.slice(0, plan.limit);
  const points = rows.map((row) => ({
    ts: row[t] as number,
    values: Object.fromEntries(col.map(([name, i]) => [name, i < 0 ? null : (row[i] ?? null) as MetricValue | null])),
  }));
  return { points, truncated: s.values.length > plan.limit };
}
