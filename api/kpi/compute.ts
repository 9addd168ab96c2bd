/**
 * Computes the KPIs of one scope and period: three requests to InfluxDB in parallel (counter
 * digests, run-state counts, device activity), then the pure formulas of core/kpi, one function
 * per section (energy, carbon, products with per-unit energy, intensity, OEE, data quality) over
 * the same `Period`. Every figure carries its unit; every coefficient its value, unit and source.
 */
import type { InfluxClient } from '../../core/influx/client.ts';
import { digestIncrements, sumIncrements, type CounterDigest, type Increment } from '../../core/kpi/counters.ts';
import { carbon, carrierEnergy, grade, inWindows, intensityTcePer10kYuan, oee, perUnit, plannedWindows, ratio, windowsMs } from '../../core/kpi/formulas.ts';
import type { LineRef, Product, Production, Term } from '../../core/kpi/production.ts';
import { unitFactor, type Standards } from '../../core/kpi/standards.ts';
import type { DeviceModel, ParkModel } from '../../core/model.ts';
import { counterDigests, counterKey, deviceActivity, stateCounts, type CounterRef, type DeviceActivity } from './queries.ts';
import type { Scope } from './scope.ts';

export interface KpiDeps { model: ParkModel; influx: InfluxClient; standards: Standards; production: Production }
export const SECTIONS = ['energy', 'carbon', 'products', 'intensity', 'oee', 'dataQuality'] as const;
export type Section = (typeof SECTIONS)[number];

/** Rounds for the answer (no -0). */
const round = (x: number | null, digits = 6): number | null => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits + 0);

interface Meter { device: DeviceModel; metric: string; carrier: string; unit: string }

function carrierCounters(d: DeviceModel): Meter[] {
  return [...d.kind.metrics.values()].filter((m) => m.carrier).map((m) => ({ device: d, metric: m.name, carrier: m.carrier!, unit: m.unit ?? '' }));
}

/** Meters whose sum is the scope's energy: main meters for workshop and above, all counters below. */
export function scopeMeters(scope: Scope, production: Production): { basis: string; meters: Meter[] } {
  if (scope.level === 'device' || scope.level === 'line') {
    return { basis: scope.level === 'line' ? 'counters of the line\'s devices (sub-metering)' : 'the device\'s own counters', meters: scope.devices.flatMap(carrierCounters) };
  }
  const main = scope.devices.filter((d) => d.line === undefined && !production.subMeters.has(d.id));
  return { basis: 'workshop main meters (line counters and declared sub-meters excluded)', meters: main.flatMap(carrierCounters) };
}

function workshopMainMeters(model: ParkModel, production: Production, p: Product): Meter[] {
  const devs = [...model.devices.values()].filter((d) => d.enterprise === p.line.enterprise && d.workshop === p.line.workshop && d.park === p.line.park);
  if (p.energyFrom === 'line') return devs.filter((d) => d.line === p.line.line).flatMap(carrierCounters);
  return devs.filter((d) => d.line === undefined && !production.subMeters.has(d.id)).flatMap(carrierCounters);
}

function productsIn(scope: Scope, production: Production): Product[] {
  if (scope.level === 'device') return [];
  return [...production.products.values()].filter((p) => (['park', 'enterprise', 'workshop', 'line'] as const).every((k) => scope[k] === undefined || scope[k] === p.line[k]));
}

/** Energy by carrier of a set of meters (quantities in the first meter's unit of each carrier). */
function energyOf(deps: KpiDeps, meters: readonly Meter[], qty: (m: Meter) => number) {
  const by = new Map<string, { unit: string; quantity: number }>();
  for (const m of meters) {
    const e = by.get(m.carrier) ?? { unit: m.unit, quantity: 0 };
    e.quantity += qty(m) * (unitFactor(m.unit, e.unit) ?? 1);
    by.set(m.carrier, e);
  }
  const carriers = [...by.entries()].map(([c, e]) => carrierEnergy(deps.standards, c, e.quantity, e.unit));
  const kgce = carriers.reduce((a, c) => a + c.kgce, 0);
  const kWh = carriers.filter((c) => c.carrier === 'electricity').reduce((a, c) => a + c.quantity * (unitFactor(c.unit, 'kWh') ?? 0), 0);
  return { carriers, kgce, kWh };
}

/** Periods of a breakdown: whole hours, or local days of the given UTC offset, clipped to [from, to). */
export function seriesWindows(from: number, to: number, step: 'hour' | 'day', offsetMin: number): { from: number; to: number }[] {
  const size = step === 'hour' ? 3_600_000 : 86_400_000;
  const off = step === 'hour' ? 0 : offsetMin * 60_000;
  const out: { from: number; to: number }[] = [];
  for (let a = Math.floor((from + off) / size) * size - off; a < to; a += size) out.push({ from: Math.max(a, from), to: Math.min(a + size, to) });
  return out;
}

export interface KpiOptions { now?: number; series?: 'hour' | 'day' }

/** What every section reads: the scope, its meters and products, and the counters' increments over the period. */
interface Period {
  readonly deps: KpiDeps;
  readonly scope: Scope;
  readonly from: number;
  readonly to: number;
  readonly basis: string;
  readonly meters: readonly Meter[];
  readonly productMeters: ReadonlyMap<string, readonly Meter[]>;
  readonly digests: ReadonlyMap<string, CounterDigest>;
  readonly incs: ReadonlyMap<string, Increment[]>;
  /** Quantity of a counter over the period (or the increments `keep` keeps). */
  qty(device: string, metric: string, keep?: (ts: number) => boolean): number;
  /** Sum of factor × quantity of the terms (a product's produced or good output). */
  terms(ts: readonly Term[], keep?: (ts: number) => boolean): number;
}

type Energy = ReturnType<typeof energyOf>;
type CarrierFigure = Energy['carriers'][number];

/** The counters every section needs: the scope's meters, the products' meters and output counters. */
function counterRefs(model: ParkModel, meters: readonly Meter[], products: readonly Product[], productMeters: ReadonlyMap<string, readonly Meter[]>): CounterRef[] {
  const refs: CounterRef[] = [];
  for (const m of [...meters, ...[...productMeters.values()].flat()]) refs.push({ device: m.device, metric: m.metric });
  for (const p of products) for (const t of [...p.produced, ...p.good]) refs.push({ device: model.devices.get(t.device)!, metric: t.metric });
  return refs;
}

/** The answer: the sections asked for, in this order. */
export interface Kpis {
  energy?: ReturnType<typeof energySection>;
  carbon?: ReturnType<typeof carbonSection>;
  products?: ReturnType<typeof productSection>;
  intensity?: ReturnType<typeof intensitySection>;
  oee?: ReturnType<typeof oeeSection>;
  dataQuality?: ReturnType<typeof dataQualitySection>;
}

export async function computeKpis(deps: KpiDeps, scope: Scope, from: number, to: number, sections: readonly Section[], opts: KpiOptions = {}): Promise<Kpis> {
  const now = opts.now ?? Date.now();
  const { model, production } = deps;
  const want = new Set(sections);
  const { basis, meters } = scopeMeters(scope, production);
  const products = productsIn(scope, production);
  const productMeters = new Map(products.map((p) => [p.id, workshopMainMeters(model, production, p)]));
  const oeeProducts = want.has('oee') ? products.filter((p) => p.oee) : [];
  const [digests, states, activity] = await Promise.all([
    counterDigests(deps.influx, counterRefs(model, meters, products, productMeters), from, to, production.lookbackMs, production.replacements),
    stateCounts(deps.influx, oeeProducts.map((p) => ({ device: model.devices.get(p.oee!.runState.device)!, metric: p.oee!.runState.metric, values: p.oee!.runState.running })), from, to),
    want.has('dataQuality') ? deviceActivity(deps.influx, scope.devices, from, to, now) : Promise.resolve(undefined),
  ]);
  const incs = new Map<string, Increment[]>();
  for (const [k, d] of digests) incs.set(k, digestIncrements(d, from, to));
  const qty = (device: string, metric: string, keep?: (ts: number) => boolean) => sumIncrements(incs.get(counterKey(device, metric)) ?? [], keep);
  const c: Period = {
    deps, scope, from, to, basis, meters, productMeters, digests, incs, qty,
    terms: (ts, keep) => ts.reduce((a, t) => a + t.factor * qty(t.device, t.metric, keep), 0),
  };

  const scopeEnergy = energyOf(deps, meters, (m) => qty(m.device.id, m.metric));
  const outputs = productOutputs(c, products);
  const out: Kpis = {};
  if (want.has('energy')) out.energy = energySection(c, scopeEnergy, opts.series);
  if (want.has('carbon')) out.carbon = carbonSection(c, scopeEnergy);
  if (want.has('products')) out.products = productSection(c, outputs);
  if (want.has('intensity')) out.intensity = intensitySection(c, outputs);
  if (want.has('oee')) out.oee = oeeSection(c, oeeProducts, states);
  if (want.has('dataQuality') && activity) out.dataQuality = dataQualitySection(c, activity, now);
  return out;
}

// ------------------------------------------------------------------ energy and carbon

/** A carrier's standard-coal coefficient as answered: value, unit, source, confidence (and the equal-value one). */
function coefficient(c: CarrierFigure) {
  const k = c.coefficient;
  return {
    kgcePerUnit: k.kgcePerUnit, unit: `kgce/${k.unit}`, source: k.source, confidence: k.confidence,
    ...(k.equalValue ? { equalValue: { kgcePerUnit: k.equalValue.kgcePerUnit, unit: `kgce/${k.unit}`, year: k.equalValue.year, source: k.equalValue.source, confidence: k.equalValue.confidence } } : {}),
  };
}

/** Comprehensive energy of the scope's meters, by carrier and by meter (and per hour or day with `series`). */
function energySection(c: Period, energy: Energy, series: KpiOptions['series']) {
  const { deps, meters, from, to } = c;
  return {
    basis: c.basis,
    comprehensive: { kgce: round(energy.kgce, 3), tce: round(energy.kgce / 1000, 6), electricityValue: deps.standards.electricityValue },
    carriers: energy.carriers.map((x) => ({
      carrier: x.carrier, quantity: round(x.quantity, 4), unit: x.unit, kgce: round(x.kgce, 3), comprehensive: x.coefficient.comprehensive,
      ...(x.kgceEquivalent !== undefined ? { kgceEquivalent: round(x.kgceEquivalent, 3) } : {}),
      ...(x.kgceEqualValue !== undefined ? { kgceEqualValue: round(x.kgceEqualValue, 3) } : {}),
      coefficient: coefficient(x),
    })),
    ...(series ? {
      series: seriesWindows(from, to, series, deps.production.timezoneOffsetMin).map((w) => {
        const e = energyOf(deps, meters, (m) => c.qty(m.device.id, m.metric, (ts) => ts >= w.from && ts < w.to));
        return { from: w.from, to: w.to, kgce: round(e.kgce, 3), carriers: Object.fromEntries(e.carriers.map((x) => [x.carrier, round(x.quantity, 4)])) };
      }),
    } : {}),
    meters: meters.map((m) => {
      const list = c.incs.get(counterKey(m.device.id, m.metric)) ?? [];
      const d = c.digests.get(counterKey(m.device.id, m.metric));
      return { device: m.device.id, metric: m.metric, carrier: m.carrier, quantity: round(sumIncrements(list), 4), unit: m.unit, resets: d?.resets ?? 0, replacements: list.filter((x) => x.kind === 'replacement').length };
    }),
  };
}

/** CO2 of the scope's carriers with the factors of the period's (local) year; carriers without a factor listed. */
function carbonSection(c: Period, energy: Energy) {
  const { standards, production } = c.deps;
  const year = new Date(c.from + production.timezoneOffsetMin * 60_000).getUTCFullYear();
  const by = energy.carriers.map((x) => ({ x, r: carbon(standards, x.carrier, x.quantity, x.unit, year) }));
  const kg = by.reduce((a, b) => a + (b.r?.kgCO2 ?? 0), 0);
  return {
    tCO2: round(kg / 1000, 6), dataYear: year,
    byCarrier: by.filter((b) => b.r).map(({ x, r }) => ({ carrier: x.carrier, quantity: round(x.quantity, 4), unit: x.unit, tCO2: round(r!.kgCO2 / 1000, 6), factor: r!.factor, factorUnit: r!.factorUnit, ...(r!.year !== undefined ? { factorYear: r!.year } : {}), source: r!.source })),
    notCovered: by.filter((b) => !b.r).map((b) => b.x.carrier),
  };
}

// ------------------------------------------------------------------ products and intensity

interface ProductOutput { p: Product; produced: number; good: number; value: number }

/** Output of each product over the period, and its value (good × unit price). */
function productOutputs(c: Period, products: readonly Product[]): ProductOutput[] {
  return products.map((p) => {
    const produced = c.terms(p.produced);
    const good = c.terms(p.good);
    return { p, produced, good, value: good * p.unitPriceYuan };
  });
}

const lineName = (l: LineRef) => `${l.park}/${l.enterprise}/${l.workshop}/${l.line}`;

/** Per product: output, value, energy (shared within a workshop by output value), per-unit energy and its GB 21252 grade. */
function productSection(c: Period, outputs: readonly ProductOutput[]) {
  const { deps } = c;
  return outputs.map((r) => {
    const siblings = outputs.filter((x) => x.p.line.workshop === r.p.line.workshop && x.p.line.enterprise === r.p.line.enterprise && x.p.energyFrom === 'workshop');
    const total = siblings.reduce((a, x) => a + x.value, 0);
    const share = r.p.energyFrom === 'line' || siblings.length <= 1 ? 1 : total > 0 ? r.value / total : 1 / siblings.length;
    const e = energyOf(deps, c.productMeters.get(r.p.id)!, (m) => c.qty(m.device.id, m.metric));
    const kgce = e.kgce * share;
    const per = perUnit(kgce, r.good, r.p.perUnit);
    const perLabel = `${r.p.perUnit === 1 ? '' : `${r.p.perUnit} `}${r.p.unit}`;
    const table = r.p.quota && deps.standards.quotas.get(r.p.quota.table);
    const g = table && per !== null ? grade(per, table.classes.get(r.p.quota!.class)!, r.p.quota!.thicknessFactor) : undefined;
    return {
      product: r.p.id, name: r.p.name, line: lineName(r.p.line),
      unit: r.p.unit, produced: round(r.produced, 4), good: round(r.good, 4),
      unitPriceYuan: r.p.unitPriceYuan, outputValueYuan: round(r.value, 2),
      energy: { from: r.p.energyFrom, share: round(share, 6), kgce: round(kgce, 3), electricityKWh: round(e.kWh * share, 3) },
      perUnit: { kgce: round(per, 6), unit: `kgce/${perLabel}`, electricityKWh: round(perUnit(e.kWh * share, r.good, r.p.perUnit), 6), electricityUnit: `kWh/${perLabel}` },
      ...(r.p.quota && table ? {
        quota: {
          standard: table.source, confidence: table.confidence, table: table.id, class: r.p.quota.class, thicknessFactor: r.p.quota.thicknessFactor, unit: table.unit,
          limits: g ? { grade1: round(g.limits.grade1, 4), grade2: round(g.limits.grade2, 4), grade3: round(g.limits.grade3, 4) } : null,
          grade: g ? g.grade : null, meetsLimit: g ? g.grade !== null : null,
        },
      } : {}),
    };
  });
}

/** tce per 10^4 yuan of the enterprises with output value configured; the others listed as excluded. */
function intensitySection(c: Period, outputs: readonly ProductOutput[]) {
  const ents = new Map<string, { kgce: number; value: number; hasProducts: boolean }>();
  const entry = (key: string) => ents.get(key) ?? { kgce: 0, value: 0, hasProducts: false };
  for (const m of c.meters) { // the scope's meters, by enterprise
    const key = `${m.device.park}/${m.device.enterprise}`;
    const e = entry(key);
    e.kgce += energyOf(c.deps, [m], (x) => c.qty(x.device.id, x.metric)).kgce;
    ents.set(key, e);
  }
  for (const r of outputs) {
    const key = `${r.p.line.park}/${r.p.line.enterprise}`;
    const e = entry(key);
    e.value += r.value;
    e.hasProducts = true;
    ents.set(key, e);
  }
  const withOutput = [...ents.entries()].filter(([, e]) => e.hasProducts);
  const kgce = withOutput.reduce((a, [, e]) => a + e.kgce, 0);
  const value = withOutput.reduce((a, [, e]) => a + e.value, 0);
  return {
    unit: 'tce/10^4 yuan', basis: 'comprehensive energy of enterprises with configured output value ÷ their output value (good quantity × unit price)',
    kgce: round(kgce, 3), outputValueYuan: round(value, 2), tcePer10kYuan: round(intensityTcePer10kYuan(kgce, value), 6),
    byEnterprise: withOutput.map(([k, e]) => ({ enterprise: k.split('/')[1], park: k.split('/')[0], kgce: round(e.kgce, 3), outputValueYuan: round(e.value, 2), tcePer10kYuan: round(intensityTcePer10kYuan(e.kgce, e.value), 6) })),
    excluded: [...ents.entries()].filter(([, e]) => !e.hasProducts).map(([k, e]) => ({ enterprise: k.split('/')[1], park: k.split('/')[0], kgce: round(e.kgce, 3), reason: 'no product output value configured (config/production.yaml)' })),
  };
}

// ------------------------------------------------------------------ OEE and data quality

/** OEE (ISO 22400-2) of each product with a run state and shift calendar, over the planned time and per shift. */
function oeeSection(c: Period, products: readonly Product[], states: ReadonlyMap<string, readonly { ts: number; n: number }[]>) {
  const { model, production } = c.deps;
  return products.map((p) => {
    const o = p.oee!;
    const dev = model.devices.get(o.runState.device)!;
    const windows = plannedWindows(c.from, c.to, o.shifts, production.timezoneOffsetMin);
    const counts = states.get(dev.id) ?? [];
    const one = (w: typeof windows) => {
      const keep = (ts: number) => inWindows(w, ts);
      const aptMs = counts.filter((x) => keep(x.ts)).reduce((a, x) => a + x.n * dev.intervalMs, 0);
      const pq = c.terms(p.produced, keep);
      const gq = c.terms(p.good, keep);
      const r = oee({ pbtMs: windowsMs(w), aptMs, pq, gq, idealRatePerHour: o.idealRatePerHour });
      return {
        pbtH: round(windowsMs(w) / 3.6e6, 6), aptH: round(aptMs / 3.6e6, 6), pq: round(pq, 4), gq: round(gq, 4),
        availability: round(r.availability), effectiveness: round(r.effectiveness), quality: round(r.quality), oee: round(r.oee),
      };
    };
    const names = [...new Set(o.shifts.map((s) => s.name))];
    return {
      product: p.id, line: lineName(p.line), unit: p.unit,
      runState: { device: dev.id, metric: o.runState.metric, running: o.runState.running, sampleMs: dev.intervalMs },
      idealRatePerHour: o.idealRatePerHour, idealRateSource: o.idealRateSource, calendar: o.calendar,
      ...one(windows),
      byShift: names.map((n) => ({ shift: n, ...one(windows.filter((w) => w.shift === n)) })),
    };
  });
}

/** Devices online at `to`, devices reporting, and samples received against those expected from each device's interval. */
function dataQualitySection(c: Period, activity: ReadonlyMap<string, DeviceActivity>, now: number) {
  const { scope, from } = c;
  const end = Math.min(c.to, now);
  let expected = 0;
  let received = 0;
  let online = 0;
  let reporting = 0;
  const byDevice = scope.devices.map((d) => {
    const a = activity.get(d.id) ?? { samples: 0, recent: 0 };
    // online at `to`: the last device_status says so; a device with no status then: it reported lately
    const isOnline = a.status !== undefined ? a.status === 'online' : a.recent > 0;
    const exp = end > from ? Math.floor((end - from) / d.intervalMs) : 0;
    const rec = Math.min(a.samples, exp);
    expected += exp;
    received += rec;
    if (isOnline) online++;
    if (a.samples > 0) reporting++;
    return { device: d.id, intervalMs: d.intervalMs, expected: exp, received: a.samples, status: a.status ?? 'unknown', online: isOnline };
  });
  return {
    devices: scope.devices.length, online, onlineRate: round(ratio(online, scope.devices.length)),
    reporting, reportingRate: round(ratio(reporting, scope.devices.length)),
    samplesExpected: expected, samplesReceived: received, completeness: round(ratio(received, expected)),
    byDevice,
  };
}
