/**
 * The InfluxQL behind the KPIs, built only with core's influxql builders (identifiers from the
 * model, values bound). Each function sends ONE request with all its statements; counters are
 * digested server-side (first/last selectors, non_negative_difference summed per hour, negative
 * differences = resets), so a day of the whole park is a few hundred rows, not raw readings.
 * Checked on InfluxDB 1.6.7: a lone selector without GROUP BY time returns the point's own time;
 * `time = a OR time = b` matches nothing (so reset values are fetched with time >= t AND time <= t).
 */
import type { InfluxClient, Series } from '../../core/influx/client.ts';
import { ident, influxql, join, keyword, statements, type Fragment } from '../../core/influx/influxql.ts';
import { STATUS_MEASUREMENT } from '../../core/influx/line-protocol.ts';
import { counterIncrements, stepIncrement, sumIncrements, type CounterDigest, type Replacement, type Sample } from '../../core/kpi/counters.ts';
import type { MeterReplacement } from '../../core/kpi/production.ts';
import type { DeviceModel } from '../../core/model.ts';

export const counterKey = (device: string, metric: string) => `${device}.${metric}`;

/** `("device" = $a OR "device" = $b ...)` with bound values. */
function deviceFilter(ids: readonly string[]): Fragment {
  return anyOf(ident('device'), ids);
}

/** `(f = $a OR f = $b ...)` with bound values. */
function anyOf(f: Fragment, values: readonly string[]): Fragment {
  return influxql`(${join(values.map((v) => influxql`${f} = ${v}`), ' OR ')})`;
}

/** The selectors of the hourly digest, each as a column `first0`, `last0`, ... per metric. */
const SELECTORS = ['first', 'last', 'min', 'max'] as const;

interface Tagged { device: string; ts: number; v: number }
function rows(series: Series[] | undefined): Tagged[] {
  const out: Tagged[] = [];
  for (const s of series ?? []) {
    const t = s.columns.indexOf('time');
    const vi = s.columns.length - 1;
    for (const r of s.values) if (typeof r[vi] === 'number') out.push({ device: s.tags?.device ?? '', ts: r[t] as number, v: r[vi] as number });
  }
  return out;
}

export interface CounterRef { device: DeviceModel; metric: string }

/**
 * Digests of the given counters over [from, to), one request per kind, in parallel: per counter
 * a `last()` before `from` and a `first()` in the period (lone selectors keep the point's time),
 * and per kind ONE statement of first/last/min/max per hour and device. An hour whose first is its
 * min and last its max holds no drop, so its increments are last - first, plus the step from the
 * previous hour's last reading (a reset when it drops). An hour that is not monotone (a reset
 * inside) is recomputed from its raw readings in one more request; so are declared replacements.
 * (first/last/min/max cost ~40 ms per kind and day here, a difference() subquery ~100 ms.)
 */
export async function counterDigests(influx: InfluxClient, refs: readonly CounterRef[], from: number, to: number, lookbackMs: number, replacements: readonly MeterReplacement[]): Promise<Map<string, CounterDigest>> {
  const kinds = new Map<string, { metrics: string[]; devices: string[] }>();
  for (const r of refs) {
    const g = kinds.get(r.device.kind.id) ?? { metrics: [], devices: [] };
    if (!g.metrics.includes(r.metric)) g.metrics.push(r.metric);
    if (!g.devices.includes(r.device.id)) g.devices.push(r.device.id);
    kinds.set(r.device.kind.id, g);
  }
  const F = new Date(from);
  const T = new Date(to);
  type Digest = { prev?: Sample; first?: Sample; buckets: { ts: number; sum: number }[]; resets: number; replacements: { r: Replacement; before?: Sample; after?: Sample }[] };
  const out = new Map<string, Digest>();
  for (const r of refs) out.set(counterKey(r.device.id, r.metric), { buckets: [], resets: 0, replacements: [] });
  const redo: { kind: string; metric: string; device: string; start: number; end: number; i: number }[] = [];

  await Promise.all([...kinds].map(async ([kind, g]) => {
    const m = ident(kind);
    const devs = deviceFilter(g.devices);
    const list: Fragment[] = [];
    for (const metric of g.metrics) {
      const f = ident(metric);
      list.push(influxql`SELECT last(${f}) AS "v" FROM ${m} WHERE ${devs} AND time >= ${new Date(from - lookbackMs)} AND time < ${F} GROUP BY "device"`);
      list.push(influxql`SELECT first(${f}) AS "v" FROM ${m} WHERE ${devs} AND time >= ${F} AND time < ${T} GROUP BY "device"`);
    }
    const sel = join(g.metrics.flatMap((x, i) => SELECTORS.map((fn) => influxql`${keyword(fn, SELECTORS)}(${ident(x)}) AS ${ident(`${fn}${i}`)}`)));
    list.push(influxql`SELECT ${sel} FROM ${m} WHERE ${devs} AND time >= ${F} AND time < ${T} GROUP BY time(1h), "device" fill(none)`);
    const res = await influx.query(statements(list));
    g.metrics.forEach((metric, j) => {
      for (const x of rows(res[2 * j])) { const d = out.get(counterKey(x.device, metric)); if (d) d.prev = { ts: x.ts, v: x.v }; }
      for (const x of rows(res[2 * j + 1])) { const d = out.get(counterKey(x.device, metric)); if (d) d.first = { ts: x.ts, v: x.v }; }
    });
    for (const s of res[2 * g.metrics.length] ?? []) {
      const device = s.tags?.device ?? '';
      const t = s.columns.indexOf('time');
      g.metrics.forEach((metric, j) => {
        const d = out.get(counterKey(device, metric));
        if (!d) return;
        const col = (fn: string) => s.columns.indexOf(`${fn}${j}`);
        const [fi, li, ni, xi] = [col('first'), col('last'), col('min'), col('max')];
        let prevLast: number | undefined;
        for (const row of s.values) {
          const [fv, lv, nv, xv] = [row[fi], row[li], row[ni], row[xi]];
          if (typeof fv !== 'number' || typeof lv !== 'number') continue;
          const start = Math.max(row[t] as number, from);
          if (fv === nv && lv === xv) {
            const step = prevLast === undefined ? 0 : stepIncrement(prevLast, fv);
            if (prevLast !== undefined && fv < prevLast) d.resets++;
            d.buckets.push({ ts: start, sum: step + (lv - fv) });
          } else {
            d.buckets.push({ ts: start, sum: 0 });
            redo.push({ kind, metric, device, start, end: Math.min((row[t] as number) + 3_600_000, to), i: d.buckets.length - 1 });
          }
          prevLast = lv;
        }
      });
    }
  }));

  const refKeys = new Set(refs.map((r) => counterKey(r.device.id, r.metric)));
  const reps = replacements.filter((r) => refKeys.has(counterKey(r.device, r.metric)) && r.at > from - lookbackMs && r.at <= to);
  const kindOf = (device: string) => refs.find((x) => x.device.id === device)!.device.kind.id;
  // declared replacements (the readings around them) and hours with a drop inside (their raw
  // readings and the in-period reading before them): one more request, only when there are any
  const more: Fragment[] = [];
  for (const r of reps) {
    const m = ident(kindOf(r.device));
    const f = ident(r.metric);
    more.push(influxql`SELECT last(${f}) AS "v" FROM ${m} WHERE "device" = ${r.device} AND time >= ${new Date(r.at - lookbackMs)} AND time < ${new Date(r.at)}`);
    more.push(influxql`SELECT first(${f}) AS "v" FROM ${m} WHERE "device" = ${r.device} AND time >= ${new Date(r.at)} AND time < ${new Date(Math.max(to, r.at + 1))}`);
  }
  for (const x of redo) {
    more.push(influxql`SELECT last(${ident(x.metric)}) AS "v" FROM ${ident(x.kind)} WHERE "device" = ${x.device} AND time >= ${F} AND time < ${new Date(x.start)}`);
    more.push(influxql`SELECT ${ident(x.metric)} AS "v" FROM ${ident(x.kind)} WHERE "device" = ${x.device} AND time >= ${new Date(x.start)} AND time < ${new Date(x.end)}`);
  }
  if (more.length > 0) {
    const res = await influx.query(statements(more));
    reps.forEach((r, i) => {
      const [b] = rows(res[2 * i]);
      const [a] = rows(res[2 * i + 1]);
      out.get(counterKey(r.device, r.metric))!.replacements.push({ r, ...(b ? { before: { ts: b.ts, v: b.v } } : {}), ...(a ? { after: { ts: a.ts, v: a.v } } : {}) });
    });
    redo.forEach((x, k) => {
      const o = 2 * reps.length + 2 * k;
      const samples = [...rows(res[o]), ...rows(res[o + 1])].map((r) => ({ ts: r.ts, v: r.v }));
      const incs = counterIncrements(samples, x.start, x.end);
      const d = out.get(counterKey(x.device, x.metric))!;
      d.buckets[x.i] = { ts: x.start, sum: sumIncrements(incs) };
      d.resets += incs.filter((y) => y.kind === 'reset').length;
    });
  }
  return out;
}

/** Samples in one of `values` of an enum metric per hour bucket: [{ts, n}] per device. */
export async function stateCounts(influx: InfluxClient, items: readonly { device: DeviceModel; metric: string; values: readonly string[] }[], from: number, to: number): Promise<Map<string, { ts: number; n: number }[]>> {
  const out = new Map<string, { ts: number; n: number }[]>();
  if (items.length === 0) return out;
  const list = items.map((it) => {
    const f = ident(it.metric);
    const either = anyOf(f, it.values);
    return influxql`SELECT count(${f}) AS "v" FROM ${ident(it.device.kind.id)} WHERE "device" = ${it.device.id} AND ${either} AND time >= ${new Date(from)} AND time < ${new Date(to)} GROUP BY time(1h) fill(none)`;
  });
  const res = await influx.query(statements(list));
  items.forEach((it, i) => out.set(it.device.id, rows(res[i]).map((x) => ({ ts: Math.max(x.ts, from), n: x.v }))));
  return out;
}

export interface DeviceActivity {
  samples: number;
  /** Last device_status state at `to` (within 30 days). */
  status?: string;
  /** Samples in the last `tailMs` before min(to, now) (fallback for devices with no status). */
  recent: number;
}

/**
 * Samples per device in [from, to) and last status at `to`. Counts `seq` (cheap: one field); a
 * device with no `seq` in the period (a foreign device that omits it, or a silent one) is counted
 * again with `count(*)` (the most of any field) in a second request.
 */
export async function deviceActivity(influx: InfluxClient, devices: readonly DeviceModel[], from: number, to: number, now: number): Promise<Map<string, DeviceActivity>> {
  const F = new Date(from);
  const T = new Date(to);
  const byKind = (list: readonly DeviceModel[]) => {
    const m = new Map<string, string[]>();
    for (const d of list) m.set(d.kind.id, [...(m.get(d.kind.id) ?? []), d.id]);
    return m;
  };
  const out = new Map<string, DeviceActivity>(devices.map((d) => [d.id, { samples: 0, recent: 0 }]));
  const end = Math.min(to, now);
  /** How recently a device of kind k must have reported to count as online without a status. */
  const tailOf = (k: string) => Math.max(60_000, 3 * Math.max(...devices.filter((d) => d.kind.id === k).map((d) => d.intervalMs)));
  const take = (series: Series[] | undefined) => {
    for (const s of series ?? []) {
      const a = out.get(s.tags?.device ?? '');
      const row = s.values[0] ?? [];
      if (a) a.samples = Math.max(a.samples, ...row.slice(1).map((x) => (typeof x === 'number' ? x : 0)));
    }
  };
  const kinds = byKind(devices);
  // one request per kind, in parallel (InfluxDB runs the statements of one request one by one)
  const [status, ...counts] = await Promise.all([
    influx.query(influxql`SELECT last("state") AS "v" FROM ${ident(STATUS_MEASUREMENT)} WHERE ${deviceFilter(devices.map((d) => d.id))} AND time >= ${new Date(to - 30 * 86_400_000)} AND time <= ${T} GROUP BY "device"`),
    ...[...kinds].map(([k, ids]) => {
      const tail = tailOf(k);
      return influx.query(statements([
        influxql`SELECT count("seq") FROM ${ident(k)} WHERE ${deviceFilter(ids)} AND time >= ${F} AND time < ${T} GROUP BY "device"`,
        influxql`SELECT count("seq") FROM ${ident(k)} WHERE ${deviceFilter(ids)} AND time >= ${new Date(end - tail)} AND time < ${new Date(end)} GROUP BY "device"`,
      ]));
    }),
  ]);
  counts.forEach((r) => {
    take(r[0]);
    for (const s of r[1] ?? []) {
      const a = out.get(s.tags?.device ?? '');
      const n = s.values[0]?.[1];
      if (a && typeof n === 'number') a.recent = n;
    }
  });
  for (const s of status![0] ?? []) {
    const a = out.get(s.tags?.device ?? '');
    const v = s.values[0]?.[s.columns.indexOf('v')];
    if (a && typeof v === 'string') a.status = v;
  }
  const again = byKind(devices.filter((d) => out.get(d.id)!.samples === 0));
  if (again.size > 0) {
    const more = await influx.query(statements([...again].flatMap(([k, ids]) => [
      influxql`SELECT count(*) FROM ${ident(k)} WHERE ${deviceFilter(ids)} AND time >= ${F} AND time < ${T} GROUP BY "device"`,
      influxql`SELECT count(*) FROM ${ident(k)} WHERE ${deviceFilter(ids)} AND time >= ${new Date(end - tailOf(k))} AND time < ${new Date(end)} GROUP BY "device"`,
    ])));
    [...again].forEach((_, i) => {
      take(more[2 * i]);
      for (const s of more[2 * i + 1] ?? []) {
        const a = out.get(s.tags?.device ?? '');
        if (a) a.recent = Math.max(0, ...(s.values[0] ?? []).slice(1).map((x) => (typeof x === 'number' ? x : 0)));
      }
    });
  }
  return out;
}
