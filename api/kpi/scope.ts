/**
 * The scope (zone, park, enterprise, workshop, line or device) and the period of a KPI request,
 * checked against the park model; a bad parameter is a 400 naming it.
 */
import type { DeviceModel, ParkModel } from '../../core/model.ts';
import { badParam } from '../errors.ts';
import { parseTimeParam } from '../time-params.ts';

export const SCOPE_PARAMS = ['park', 'enterprise', 'workshop', 'line', 'device'] as const;
export type ScopeLevel = 'zone' | (typeof SCOPE_PARAMS)[number];

export interface ScopeQuery { park?: string; enterprise?: string; workshop?: string; line?: string; device?: string }
export interface PeriodQuery { from?: string; to?: string; period?: 'hour' | 'day' | 'month'; date?: string }

export interface Scope {
  readonly level: ScopeLevel;
  readonly park?: string; readonly enterprise?: string; readonly workshop?: string; readonly line?: string; readonly device?: string;
  /** Devices of the scope. */
  readonly devices: readonly DeviceModel[];
}

export function resolveScope(model: ParkModel, q: ScopeQuery): Scope {
  let devices = [...model.devices.values()];
  let level: ScopeLevel = 'zone';
  for (const k of SCOPE_PARAMS) {
    const v = q[k];
    if (v === undefined) continue;
    const key = k === 'device' ? 'id' : k;
    const next = devices.filter((d) => d[key] === v);
    if (next.length === 0) {
      const exists = [...model.devices.values()].some((d) => d[key] === v);
      throw badParam(k, exists ? `${k} "${v}" is not within the ${level} given by the other parameters` : `${k} "${v}" is not in the park model; see GET /api/v1/park`);
    }
    devices = next;
    level = k;
  }
  // line and workshop ids repeat across enterprises: the scope must name one place
  const d0 = devices[0]!;
  if (level !== 'zone' && level !== 'device') {
    for (const k of SCOPE_PARAMS.slice(0, SCOPE_PARAMS.indexOf(level))) {
      if (devices.some((d) => d[k as 'park'] !== d0[k as 'park'])) throw badParam(level, `${level} "${q[level]}" exists in several places; add ${k} to name one`);
    }
  }
  const tags = level === 'zone' ? {} : level === 'device'
    ? { park: d0.park, enterprise: d0.enterprise, workshop: d0.workshop, ...(d0.line ? { line: d0.line } : {}), device: d0.id }
    : Object.fromEntries(SCOPE_PARAMS.slice(0, SCOPE_PARAMS.indexOf(level) + 1).map((k) => [k, d0[k as 'park']]));
  return { level, ...tags, devices };
}

const LOCAL_DATE = { hour: /^(\d{4})-(\d{2})-(\d{2})T(\d{2})$/, day: /^(\d{4})-(\d{2})-(\d{2})$/, month: /^(\d{4})-(\d{2})$/ } as const;

/** [from, to) of the request: period+date in local time, or from/to (default the last 24 h). */
export function resolvePeriod(q: PeriodQuery, now: number, offsetMin: number): { from: number; to: number } {
  if (q.period !== undefined) {
    if (q.from !== undefined || q.to !== undefined) throw badParam('period', 'give either period (with date) or from/to, not both');
    if (q.date === undefined) throw badParam('date', `date is required with period=${q.period} (${q.period === 'hour' ? 'YYYY-MM-DDTHH' : q.period === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM'}, local time)`);
    const m = LOCAL_DATE[q.period].exec(q.date);
    if (!m) throw badParam('date', `date ${JSON.stringify(q.date)} is not ${q.period === 'hour' ? 'YYYY-MM-DDTHH' : q.period === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM'} (local time)`);
    const [y, mo, d, h] = [Number(m[1]), Number(m[2]) - 1, Number(m[3] ?? 1), Number(m[4] ?? 0)];
    const start = Date.UTC(y, mo, d, h) - offsetMin * 60_000;
    const end = q.period === 'hour' ? start + 3_600_000 : q.period === 'day' ? start + 86_400_000 : Date.UTC(y, mo + 1, 1) - offsetMin * 60_000;
    const check = new Date(start + offsetMin * 60_000);
    if (check.getUTCMonth() !== mo || check.getUTCDate() !== d || h > 23) throw badParam('date', `date ${JSON.stringify(q.date)} is not a valid ${q.period}`);
    return { from: start, to: end };
  }
  if (q.date !== undefined) throw badParam('date', 'date needs period (hour, day or month)');
  const from = parseTimeParam('from', q.from ?? '-1d', now);
  const to = parseTimeParam('to', q.to ?? 'now', now);
  if (from >= to) throw badParam('from', `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`);
  if (to - from > 366 * 86_400_000) throw badParam('from', 'the range may span at most 366 days');
  return { from, to };
}
