/**
 * Last values and last-seen time of many devices in one HTTP request to InfluxDB: per device kind
 * (= measurement) of the devices asked for, `SELECT last(*) ... GROUP BY "device"` for the values
 * and `SELECT * ... GROUP BY "device" ORDER BY time DESC LIMIT 1` for the time (last(*) over several
 * fields reports the start of the range, not a real time). Both are bounded by a look-back.
 */
import type { MetricValue } from '../core/contract.ts';
import type { InfluxClient, Series } from '../core/influx/client.ts';
import { duration, ident, influxql, statements, type Fragment } from '../core/influx/influxql.ts';
import type { DeviceKind, DeviceModel } from '../core/model.ts';

export interface LastValues { lastSeen: number | null; values: Record<string, MetricValue | null> }

/** One tag = value condition that narrows the scan; the value is bound, the tag key is fixed. */
export interface Scope { tag: 'park' | 'enterprise' | 'workshop' | 'line' | 'device'; value: string }

function kindStatements(kind: DeviceKind, lookback: string, scope: Scope | undefined): Fragment[] {
  const m = ident(kind.id);
  const since = duration(lookback);
  if (!scope) {
    return [
      influxql`SELECT last(*) FROM ${m} WHERE time > now() - ${since} GROUP BY "device"`,
      influxql`SELECT * FROM ${m} WHERE time > now() - ${since} GROUP BY "device" ORDER BY time DESC LIMIT 1`,
    ];
  }
  const tag = ident(scope.tag);
  return [
    influxql`SELECT last(*) FROM ${m} WHERE time > now() - ${since} AND ${tag} = ${scope.value} GROUP BY "device"`,
    influxql`SELECT * FROM ${m} WHERE time > now() - ${since} AND ${tag} = ${scope.value} GROUP BY "device" ORDER BY time DESC LIMIT 1`,
  ];
}

export async function queryLastValues(
  influx: InfluxClient, devices: readonly DeviceModel[], lookback: string, scope?: Scope,
): Promise<Map<string, LastValues>> {
  const out = new Map<string, LastValues>();
  const wanted = new Map(devices.map((d) => [d.id, d]));
  const kinds = [...new Map(devices.map((d) => [d.kind.id, d.kind])).values()];
  if (kinds.length === 0) return out;
  const results = await influx.query(statements(kinds.flatMap((k) => kindStatements(k, lookback, scope))));
  const each = (i: number, fn: (d: DeviceModel, s: Series) => void) => {
    for (const s of results[i] ?? []) {
      const d = s.tags?.device === undefined ? undefined : wanted.get(s.tags.device);
      if (d && d.kind.id === s.name) fn(d, s);
    }
  };
  kinds.forEach((_, k) => {
    each(2 * k, (d, s) => {
      const row = s.values[0] ?? [];
      const values: Record<string, MetricValue | null> = {};
      s.columns.forEach((c, i) => {
        const name = c.startsWith('last_') ? c.slice(5) : undefined;
        if (name !== undefined && d.kind.metrics.has(name)) values[name] = (row[i] ?? null) as MetricValue | null;
      });
      out.set(d.id, { lastSeen: out.get(d.id)?.lastSeen ?? null, values });
    });
    each(2 * k + 1, (d, s) => {
      const t = s.values[0]?.[s.columns.indexOf('time')];
      const prev = out.get(d.id) ?? { lastSeen: null, values: {} };
      out.set(d.id, { ...prev, lastSeen: typeof t === 'number' ? t : null });
    });
  });
  return out;
}
