/** Time parameters of telemetry queries: RFC 3339, epoch milliseconds, `now`, or relative (`-1h`). */
import { RFC3339 } from '../core/contract.ts';
import { durationMs } from '../core/influx/influxql.ts';
import { badParam } from './errors.ts';

const RELATIVE = /^-([1-9][0-9]{0,8}(?:ms|s|m|h|d|w))$/;
const EPOCH_MS = /^[0-9]{1,15}$/;
/** Latest instant InfluxDB can store (2262-04-11), in ms. */
const MAX_MS = 9_223_372_036_854;
/** Earliest instant InfluxDB can store (1677-09-21), in ms. */
const MIN_MS = -9_223_372_036_854;

export const TIME_FORMS = 'an RFC 3339 time (2025-06-01T08:00:00Z), epoch milliseconds, "now", or relative like -15m, -1h, -7d';

export function parseTimeParam(param: string, raw: string, now: number): number {
  let t: number | undefined;
  const rel = RELATIVE.exec(raw);
  if (raw === 'now') t = now;
  else if (rel) t = now - durationMs(rel[1]!);
  else if (EPOCH_MS.test(raw)) t = Number(raw);
  else if (RFC3339.test(raw)) t = Date.parse(raw);
  if (t === undefined || !Number.isFinite(t)) throw badParam(param, `${param} is not ${TIME_FORMS}`);
  if (t < MIN_MS || t > MAX_MS) throw badParam(param, `${param} is outside the range InfluxDB can store (1677-09-21 to 2262-04-11)`);
  return t;
}
