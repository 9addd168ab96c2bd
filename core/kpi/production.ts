/**
 * Production and economics data (config/production.yaml), validated against the park model and
 * the standards: which counters are a line's produced and good quantity, unit prices, quota class
 * and thickness factor, OEE run-state device, ideal rate and shift calendar, sub-meters and meter
 * replacements. Unknown devices, metrics, rated figures or lines are refused with the path named.
 */
import { DURATION_PATTERN, durationMs } from '../influx/influxql.ts';
import type { DeviceModel, ParkModel } from '../model.ts';
import { deepFreeze, Problems, type Obj } from '../problems.ts';
import { unitFactor, type Standards } from './standards.ts';

export interface Term { readonly device: string; readonly metric: string; readonly factor: number }
/** A shift in minutes of the local day; endMin may be <= startMin (crosses midnight); 1440 = 24:00. */
export interface Shift { readonly name: string; readonly startMin: number; readonly endMin: number }
export interface LineRef { readonly park: string; readonly enterprise: string; readonly workshop: string; readonly line: string }

export interface OeeConfig {
  readonly runState: { readonly device: string; readonly metric: string; readonly running: readonly string[] };
  /** Ideal rate in product units per hour (1 / PRI). */
  readonly idealRatePerHour: number;
  /** How the ideal rate was derived (rated figures named). */
  readonly idealRateSource: string;
  readonly calendar: string;
  readonly shifts: readonly Shift[];
}

export interface Product {
  readonly id: string;
  readonly name: string;
  readonly line: LineRef;
  readonly unit: string;
  readonly produced: readonly Term[];
  readonly good: readonly Term[];
  readonly unitPriceYuan: number;
  readonly perUnit: number;
  readonly energyFrom: 'workshop' | 'line';
  readonly quota?: { readonly table: string; readonly class: string; readonly thicknessFactor: number; readonly waterAbsorptionPct?: number };
  readonly oee?: OeeConfig;
}

export interface MeterReplacement { readonly device: string; readonly metric: string; readonly at: number; readonly oldFinal: number; readonly newInitial: number }

export interface Production {
  /** Offset of local time from UTC, minutes (China: 480). */
  readonly timezoneOffsetMin: number;
  readonly timezone: string;
  readonly lookback: string;
  readonly lookbackMs: number;
  readonly subMeters: ReadonlySet<string>;
  readonly replacements: readonly MeterReplacement[];
  readonly calendars: ReadonlyMap<string, readonly Shift[]>;
  readonly products: ReadonlyMap<string, Product>;
}

// ---- The file as written (config/production.yaml): the raw shape `parseProduction` reads. Types
// only; scripts/config-schemas.ts generates config/schema/production.schema.json from
// `ProductionFile`. Devices, metrics, lines, rated figures and quota tables are checked against
// the park model and the standards by the parser (`npm run check-config`).

/** @pattern ^[a-z0-9][a-z0-9_-]{0,47}$ */
export type ProductionFileId = string;
/** A local time on the whole hour, 00:00 to 24:00. @pattern ^(([01][0-9]|2[0-3]):00|24:00)$ */
export type ProductionFileHour = string;
export interface TermFile {
  device: ProductionFileId;
  /** A counter metric of the device's kind. */
  metric: string;
  /** Default 1. */
  factor?: number;
}
export interface ShiftFile {
  /** @minLength 1 @maxLength 300 */
  name: string;
  start: ProductionFileHour;
  end: ProductionFileHour;
}
export interface ProductFile {
  /** @minLength 1 @maxLength 300 */
  name?: string;
  /** park/enterprise/workshop/line of the park model. @pattern ^[a-z0-9][a-z0-9_-]{0,47}/[a-z0-9][a-z0-9_-]{0,47}/[a-z0-9][a-z0-9_-]{0,47}/[a-z0-9][a-z0-9_-]{0,47}$ */
  line: string;
  /** @minLength 1 @maxLength 300 */
  unit: string;
  /** @minItems 1 */
  produced: TermFile[];
  /** @minItems 1 */
  good: TermFile[];
  /** @minimum 0 */
  unitPriceYuan: number;
  /** @exclusiveMinimum 0 */
  perUnit?: number;
  energyFrom?: 'workshop' | 'line';
  quota?: {
    table: string;
    class: string;
    /** @exclusiveMinimum 0 */
    thicknessFactor?: number;
    /** @minimum 0 */
    waterAbsorptionPct?: number;
  };
  oee?: {
    runState: { device: ProductionFileId; metric: string; running: string[] };
    idealRatePerHour: {
      device: ProductionFileId;
      /** Rated figures of the device multiplied together. */
      rated?: string[];
      /** @exclusiveMinimum 0 */
      factor?: number;
    };
    /** A calendar under calendars. */
    calendar: string;
  };
}
export interface MeterReplacementFile {
  device: ProductionFileId;
  metric: string;
  /** RFC 3339 time of the replacement. */
  at: string;
  /** @minimum 0 */
  oldFinal: number;
  /** @minimum 0 */
  newInitial: number;
}
/** The production file (config/production.yaml, docs/kpi.md). */
export interface ProductionFile {
  /** The zone id of the park model. */
  zone: ProductionFileId;
  /** Fixed UTC offset of whole hours (default +08:00). @pattern ^[+-]([01][0-9]|2[0-3]):00$ */
  timezone?: string;
  /** Default 7d. @pattern ^[1-9][0-9]{0,8}(ms|s|m|h|d|w)$ */
  lookback?: string;
  subMeters?: ProductionFileId[];
  meterReplacements?: MeterReplacementFile[];
  calendars?: Record<string, ShiftFile[]>;
  products?: Record<string, ProductFile>;
}

const HHMM = /^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$/;
const hhmm = (s: string) => (s === '24:00' ? 1440 : Number(s.slice(0, 2)) * 60 + Number(s.slice(3)));

function counterTerm(p: Problems, path: string, raw: unknown, model: ParkModel): Term | undefined {
  const o = p.obj(path, raw);
  if (!o) return undefined;
  p.keys(path, o, ['device', 'metric', 'factor']);
  const d = typeof o.device === 'string' ? model.devices.get(o.device) : undefined;
  if (!d) { p.add(`${path}.device`, o.device, 'a device id of the park model'); return undefined; }
  const m = typeof o.metric === 'string' ? d.kind.metrics.get(o.metric) : undefined;
  if (!m || m.type !== 'counter') {
    p.add(`${path}.metric`, o.metric, `a counter metric of kind ${d.kind.id} (${[...d.kind.metrics.values()].filter((x) => x.type === 'counter').map((x) => x.name).join(', ') || 'none'})`);
    return undefined;
  }
  const factor = p.num(`${path}.factor`, o.factor ?? 1) ?? 1;
  return { device: d.id, metric: m.name, factor };
}

function lineRef(p: Problems, path: string, v: unknown, model: ParkModel): LineRef | undefined {
  const parts = typeof v === 'string' ? v.split('/') : [];
  if (parts.length === 4) {
    const [park, enterprise, workshop, line] = parts as [string, string, string, string];
    const ws = model.parks.find((x) => x.id === park)?.enterprises.find((e) => e.id === enterprise)?.workshops.find((w) => w.id === workshop);
    if (ws?.lines.some((l) => l.id === line)) return { park, enterprise, workshop, line };
  }
  p.add(path, v, 'a line of the park model as park/enterprise/workshop/line');
  return undefined;
}

function parseShifts(p: Problems, path: string, v: unknown): Shift[] {
  return p.arr(path, v).map((raw, i) => {
    const sp = `${path}[${i}]`;
    const o = p.obj(sp, raw) ?? {};
    p.keys(sp, o, ['name', 'start', 'end']);
    const name = p.text(`${sp}.name`, o.name) ?? '?';
    const ok = (x: unknown, key: string) => {
      if (typeof x === 'string' && HHMM.test(x)) return hhmm(x);
      p.add(`${sp}.${key}`, x, 'a local time HH:MM (00:00 to 24:00)');
      return 0;
    };
    const startMin = ok(o.start, 'start');
    const endMin = ok(o.end, 'end');
    if (startMin === endMin) p.add(sp, o, 'a shift with start != end');
    // run-state and counter sums are bucketed by the hour in InfluxDB, so shifts start on whole hours
    if (startMin % 60 !== 0) p.add(`${sp}.start`, o.start, 'a whole hour (HH:00)');
    if (endMin % 60 !== 0) p.add(`${sp}.end`, o.end, 'a whole hour (HH:00)');
    return { name, startMin, endMin };
  });
}

function parseOee(p: Problems, path: string, v: unknown, model: ParkModel, calendars: Map<string, Shift[]>, line: LineRef | undefined): OeeConfig | undefined {
  const o = p.obj(path, v);
  if (!o) return undefined;
  p.keys(path, o, ['runState', 'idealRatePerHour', 'calendar']);
  const rs = p.obj(`${path}.runState`, o.runState) ?? {};
  p.keys(`${path}.runState`, rs, ['device', 'metric', 'running']);
  const d: DeviceModel | undefined = typeof rs.device === 'string' ? model.devices.get(rs.device) : undefined;
  if (!d) p.add(`${path}.runState.device`, rs.device, 'a device id of the park model');
  else if (line && d.line !== line.line) p.add(`${path}.runState.device`, rs.device, `a device of line ${line.line}`);
  const m = d && typeof rs.metric === 'string' ? d.kind.metrics.get(rs.metric) : undefined;
  if (d && (!m || m.type !== 'enum')) p.add(`${path}.runState.metric`, rs.metric, `an enum metric of kind ${d.kind.id}`);
  const running = p.arr(`${path}.runState.running`, rs.running).filter((x): x is string => typeof x === 'string');
  if (m?.values && (running.length === 0 || running.some((x) => !m.values!.includes(x)))) {
    p.add(`${path}.runState.running`, rs.running, `a non-empty list of values of ${m.name} (${m.values.join(', ')})`);
  }
  const ir = p.obj(`${path}.idealRatePerHour`, o.idealRatePerHour) ?? {};
  p.keys(`${path}.idealRatePerHour`, ir, ['device', 'rated', 'factor']);
  const rd = typeof ir.device === 'string' ? model.devices.get(ir.device) : undefined;
  if (!rd) p.add(`${path}.idealRatePerHour.device`, ir.device, 'a device id of the park model');
  let rate = p.num(`${path}.idealRatePerHour.factor`, ir.factor ?? 1, { exclusiveMin: 0 }) ?? 1;
  const names = p.arr(`${path}.idealRatePerHour.rated`, ir.rated, true);
  for (const [i, n] of names.entries()) {
    const x = rd && typeof n === 'string' ? rd.rated[n] : undefined;
    if (x === undefined || !(x > 0)) { if (rd) p.add(`${path}.idealRatePerHour.rated[${i}]`, n, `a positive rated figure of ${rd.id} (${Object.keys(rd.rated).join(', ')})`); } else rate *= x;
  }
  const cal = typeof o.calendar === 'string' ? calendars.get(o.calendar) : undefined;
  if (!cal) p.add(`${path}.calendar`, o.calendar, `a calendar under calendars (${[...calendars.keys()].join(', ')})`);
  if (!d || !m || !rd || !cal) return undefined;
  return {
    runState: { device: d.id, metric: m.name, running }, idealRatePerHour: rate,
    idealRateSource: `${names.map((n) => `${rd.id}.rated.${String(n)}`).join(' × ') || '1'} × ${String(ir.factor ?? 1)}`,
    calendar: String(o.calendar), shifts: cal,
  };
}

function parseProduct(p: Problems, id: string, raw: unknown, model: ParkModel, standards: Standards, calendars: Map<string, Shift[]>): Product | undefined {
  const path = `products.${id}`;
  const o = p.obj(path, raw);
  if (!o) return undefined;
  p.keys(path, o, ['name', 'line', 'unit', 'produced', 'good', 'unitPriceYuan', 'perUnit', 'energyFrom', 'quota', 'oee']);
  const line = lineRef(p, `${path}.line`, o.line, model);
  const terms = (key: 'produced' | 'good') => {
    const list = p.arr(`${path}.${key}`, o[key]).map((t, i) => counterTerm(p, `${path}.${key}[${i}]`, t, model));
    if (list.length === 0) p.add(`${path}.${key}`, o[key], 'at least one counter term');
    list.forEach((t, i) => {
      const d = t && model.devices.get(t.device);
      if (d && line && (d.workshop !== line.workshop || d.enterprise !== line.enterprise)) p.add(`${path}.${key}[${i}].device`, t!.device, `a device of workshop ${line.workshop}`);
    });
    return list.filter((t): t is Term => t !== undefined);
  };
  const produced = terms('produced');
  const good = terms('good');
  let quota: Product['quota'];
  if (o.quota !== undefined) {
    const q = p.obj(`${path}.quota`, o.quota) ?? {};
    p.keys(`${path}.quota`, q, ['table', 'class', 'thicknessFactor', 'waterAbsorptionPct']);
    const table = typeof q.table === 'string' ? standards.quotas.get(q.table) : undefined;
    if (!table) p.add(`${path}.quota.table`, q.table, `a quota table of the standards file (${[...standards.quotas.keys()].join(', ')})`);
    else if (typeof q.class !== 'string' || !table.classes.has(q.class)) p.add(`${path}.quota.class`, q.class, `a class of ${table.id} (${[...table.classes.keys()].join(', ')})`);
    const tf = p.num(`${path}.quota.thicknessFactor`, q.thicknessFactor ?? 1, { exclusiveMin: 0 }) ?? 1;
    const wa = p.num(`${path}.quota.waterAbsorptionPct`, q.waterAbsorptionPct, { min: 0, optional: true });
    quota = { table: String(q.table), class: String(q.class), thicknessFactor: tf, ...(wa !== undefined ? { waterAbsorptionPct: wa } : {}) };
  }
  const oee = o.oee === undefined ? undefined : parseOee(p, `${path}.oee`, o.oee, model, calendars, line);
  if (!line) return undefined;
  return {
    id, name: p.text(`${path}.name`, o.name, true) ?? id, line,
    unit: p.text(`${path}.unit`, o.unit) ?? '?', produced, good,
    unitPriceYuan: p.num(`${path}.unitPriceYuan`, o.unitPriceYuan, { min: 0 }) ?? 0,
    perUnit: p.num(`${path}.perUnit`, o.perUnit ?? 1, { exclusiveMin: 0 }) ?? 1,
    energyFrom: p.oneOf(`${path}.energyFrom`, o.energyFrom ?? 'workshop', ['workshop', 'line'] as const) ?? 'workshop',
    ...(quota ? { quota } : {}), ...(oee ? { oee } : {}),
  };
}

/** Validates production data against the park model and the standards; returns it frozen. */
export function parseProduction(data: unknown, model: ParkModel, standards: Standards): Production {
  const p = new Problems();
  const root: Obj = p.obj('(root)', data) ?? {};
  p.keys('(root)', root, ['zone', 'timezone', 'lookback', 'subMeters', 'meterReplacements', 'calendars', 'products']);
  if (root.zone !== model.zone.id) p.add('zone', root.zone, `the zone id of the park model (${model.zone.id}): a production file describes one zone`);
  const tz = root.timezone ?? '+08:00';
  const tzm = typeof tz === 'string' ? /^([+-])([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(tz) : null;
  if (!tzm || tzm[3] !== '00') p.add('timezone', tz, 'a fixed UTC offset of whole hours like +08:00');
  const timezoneOffsetMin = tzm ? (tzm[1] === '-' ? -1 : 1) * (Number(tzm[2]) * 60 + Number(tzm[3])) : 480;
  const lookback = root.lookback ?? '7d';
  if (typeof lookback !== 'string' || !DURATION_PATTERN.test(lookback)) p.add('lookback', lookback, 'a duration like 1d or 7d');
  const subMeters = new Set<string>();
  p.arr('subMeters', root.subMeters, true).forEach((v, i) => {
    if (typeof v === 'string' && model.devices.has(v)) subMeters.add(v);
    else p.add(`subMeters[${i}]`, v, 'a device id of the park model');
  });
  const replacements = p.arr('meterReplacements', root.meterReplacements, true).flatMap((raw, i): MeterReplacement[] => {
    const path = `meterReplacements[${i}]`;
    const o = p.obj(path, raw) ?? {};
    p.keys(path, o, ['device', 'metric', 'at', 'oldFinal', 'newInitial']);
    const t = counterTerm(p, path, { device: o.device, metric: o.metric }, model);
    const at = typeof o.at === 'string' ? Date.parse(o.at) : NaN;
    if (!Number.isFinite(at)) p.add(`${path}.at`, o.at, 'an RFC 3339 time');
    const oldFinal = p.num(`${path}.oldFinal`, o.oldFinal, { min: 0 });
    const newInitial = p.num(`${path}.newInitial`, o.newInitial, { min: 0 });
    return t && Number.isFinite(at) && oldFinal !== undefined && newInitial !== undefined ? [{ device: t.device, metric: t.metric, at, oldFinal, newInitial }] : [];
  });
  const calendars = new Map<string, Shift[]>();
  for (const [id, v] of Object.entries(p.obj('calendars', root.calendars ?? {}) ?? {})) calendars.set(id, parseShifts(p, `calendars.${id}`, v));
  const products = new Map<string, Product>();
  const lines = new Map<string, string>();
  for (const [id, raw] of Object.entries(p.obj('products', root.products ?? {}) ?? {})) {
    const prod = parseProduct(p, id, raw, model, standards, calendars);
    if (!prod) continue;
    const key = Object.values(prod.line).join('/');
    if (lines.has(key)) p.add(`products.${id}.line`, key, `a line without another product (${lines.get(key)} is on it)`);
    lines.set(key, id);
    products.set(id, prod);
  }
  // every carrier the model meters needs a standard-coal coefficient in a convertible unit
  for (const kind of model.kinds.values()) {
    for (const m of kind.metrics.values()) {
      if (!m.carrier) continue;
      const c = standards.carriers.get(m.carrier);
      if (!c) p.add(`(park model) kinds.${kind.id}.metrics.${m.name}.carrier`, m.carrier, `a carrier with a coefficient in the standards file (${[...standards.carriers.keys()].join(', ')})`);
      else if (unitFactor(m.unit ?? '', c.unit) === undefined) p.add(`(park model) kinds.${kind.id}.metrics.${m.name}.unit`, m.unit, `a unit convertible to ${c.unit} (the unit of the ${m.carrier} coefficient)`);
    }
  }
  p.check('production file');
  return deepFreeze({
    timezoneOffsetMin, timezone: String(tz), lookback: String(lookback),
    lookbackMs: typeof lookback === 'string' && DURATION_PATTERN.test(lookback) ? durationMs(lookback) : 7 * 86_400_000,
    subMeters, replacements, calendars, products,
  });
}

/** No production data (a zone without a production file): energy, carbon and data quality still work. */
export function emptyProduction(): Production {
  return deepFreeze({
    timezoneOffsetMin: 480, timezone: '+08:00', lookback: '7d', lookbackMs: 7 * 86_400_000,
    subMeters: new Set<string>(), replacements: [], calendars: new Map(), products: new Map(),
  });
}
