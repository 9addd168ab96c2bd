/**
 * Computes the KPIs of one scope and period: three requests to InfluxDB in parallel (counter
 * digests, run-state counts, device activity), then the pure formulas of core/kpi. Every figure
 * carries its unit; every coefficient its value, unit and source.
 */
import type { InfluxClient } from '../../core/influx/client.ts';
import { digestIncrements, sumIncrements, type Increment } from '../../core/kpi/counters.ts';
import { carbon, carrierEnergy, grade, inWindows, intensityTcePer10kYuan, oee, perUnit, plannedWindows, ratio, windowsMs } from '../../core/kpi/formulas.ts';
import type { Product, Production, Term } from '../../core/kpi/production.ts';
import { unitFactor, type Standards } from '../../core/kpi/standards.ts';
import type { DeviceModel, ParkModel } from '../../core/model.ts';
import { counterDigests, counterKey, deviceActivity, stateCounts, type CounterRef } from './queries.ts';
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

export async function computeKpis(deps: KpiDeps, scope: Scope, from: number, to: number, sections: readonly Section[], opts: KpiOptions = {}) {
  const now = opts.now ?? Date.now();
  const { model, standards, production } = deps;
  const want = new Set(sections);
  const { basis, meters } = scopeMeters(scope, production);
  const products = productsIn(scope, production);
  const productMeters = new Map(products.map((p) => [p.id, workshopMainMeters(model, production, p)]));
  const refs: CounterRef[] = [];
  const addRef = (device: DeviceModel, metric: string) => refs.push({ device, metric });
  for (const m of [...meters, ...[...productMeters.values()].flat()]) addRef(m.device, m.metric);
  for (const p of products) for (const t of [...p.produced, ...p.good]) addRef(model.devices.get(t.device)!, t.metric);
  const oeeProducts = want.has('oee') ? products.filter((p) => p.oee) : [];
  const [digests, states, activity] = await Promise.all([
    counterDigests(deps.influx, refs, from, to, production.lookbackMs, production.replacements),
    stateCounts(deps.influx, oeeProducts.map((p) => ({ device: model.devices.get(p.oee!.runState.device)!, metric: p.oee!.runState.metric, values: p.oee!.runState.running })), from, to),
    want.has('dataQuality') ? deviceActivity(deps.influx, scope.devices, from, to, now) : Promise.resolve(undefined),
  ]);
  const incs = new Map<string, Increment[]>();
  for (const [k, d] of digests) incs.set(k, digestIncrements(d, from, to));
  const qty = (device: string, metric: string, keep?: (ts: number) => boolean) => sumIncrements(incs.get(counterKey(device, metric)) ?? [], keep);
  const terms = (ts: readonly Term[], keep?: (ts: number) => boolean) => ts.reduce((a, t) => a + t.factor * qty(t.device, t.metric, keep), 0);
  const out: Record<string, unknown> = {};

  const scopeEnergy = energyOf(deps, meters, (m) => qty(m.device.id, m.metric));
  const coefficient = (c: ReturnType<typeof carrierEnergy>) => ({
    kgcePerUnit: c.coefficient.kgcePerUnit, unit: `kgce/${c.coefficient.unit}`, source: c.coefficient.source, confidence: c.coefficient.confidence,
    ...(c.coefficient.equalValue ? { equalValue: { kgcePerUnit: c.coefficient.equalValue.kgcePerUnit, unit: `kgce/${c.coefficient.unit}`, year: c.coefficient.equalValue.year, source: c.coefficient.equalValue.source, confidence: c.coefficient.equalValue.confidence } } : {}),
  });
  if (want.has('energy')) {
    out.energy = {
      basis,
      comprehensive: { kgce: round(scopeEnergy.kgce, 3), tce: round(scopeEnergy.kgce / 1000, 6), electricityValue: standards.electricityValue },
      carriers: scopeEnergy.carriers.map((c) => ({
        carrier: c.carrier, quantity: round(c.quantity, 4), unit: c.unit, kgce: round(c.kgce, 3), comprehensive: c.coefficient.comprehensive,
        ...(c.kgceEquivalent !== undefined ? { kgceEquivalent: round(c.kgceEquivalent, 3) } : {}),
        ...(c.kgceEqualValue !== undefined ? { kgceEqualValue: round(c.kgceEqualValue, 3) } : {}),
        coefficient: coefficient(c),
      })),
      ...(opts.series ? {
        series: seriesWindows(from, to, opts.series, production.timezoneOffsetMin).map((w) => {
          const e = energyOf(deps, meters, (m) => qty(m.device.id, m.metric, (ts) => ts >= w.from && ts < w.to));
          return { from: w.from, to: w.to, kgce: round(e.kgce, 3), carriers: Object.fromEntries(e.carriers.map((c) => [c.carrier, round(c.quantity, 4)])) };
        }),
      } : {}),
      meters: meters.map((m) => {
        const list = incs.get(counterKey(m.device.id, m.metric)) ?? [];
        const d = digests.get(counterKey(m.device.id, m.metric));
        return { device: m.device.id, metric: m.metric, carrier: m.carrier, quantity: round(sumIncrements(list), 4), unit: m.unit, resets: d?.resets ?? 0, replacements: list.filter((x) => x.kind === 'replacement').length };
      }),
    };
  }
  if (want.has('carbon')) {
    const year = new Date(from + production.timezoneOffsetMin * 60_000).getUTCFullYear();
    const by = scopeEnergy.carriers.map((c) => ({ c, r: carbon(standards, c.carrier, c.quantity, c.unit, year) }));
    const kg = by.reduce((a, x) => a + (x.r?.kgCO2 ?? 0), 0);
    out.carbon = {
      tCO2: round(kg / 1000, 6), dataYear: year,
      byCarrier: by.filter((x) => x.r).map(({ c, r }) => ({ carrier: c.carrier, quantity: round(c.quantity, 4), unit: c.unit, tCO2: round(r!.kgCO2 / 1000, 6), factor: r!.factor, factorUnit: r!.factorUnit, ...(r!.year !== undefined ? { factorYear: r!.year } : {}), source: r!.source })),
      notCovered: by.filter((x) => !x.r).map((x) => x.c.carrier),
    };
  }
  // products: output, value, energy (shared within a workshop by output value), per-unit, grade
  const prodRows = products.map((p) => {
    const produced = terms(p.produced);
    const good = terms(p.good);
    return { p, produced, good, value: good * p.unitPriceYuan };
  });
  if (want.has('products') || want.has('intensity')) {
    const rows = prodRows.map((r) => {
      const siblings = prodRows.filter((x) => x.p.line.workshop === r.p.line.workshop && x.p.line.enterprise === r.p.line.enterprise && x.p.energyFrom === 'workshop');
      const total = siblings.reduce((a, x) => a + x.value, 0);
      const share = r.p.energyFrom === 'line' || siblings.length <= 1 ? 1 : total > 0 ? r.value / total : 1 / siblings.length;
      const e = energyOf(deps, productMeters.get(r.p.id)!, (m) => qty(m.device.id, m.metric));
      const kgce = e.kgce * share;
      const per = perUnit(kgce, r.good, r.p.perUnit);
      const perLabel = `${r.p.perUnit === 1 ? '' : `${r.p.perUnit} `}${r.p.unit}`;
      const table = r.p.quota && standards.quotas.get(r.p.quota.table);
      const g = table && per !== null ? grade(per, table.classes.get(r.p.quota!.class)!, r.p.quota!.thicknessFactor) : undefined;
      return {
        product: r.p.id, name: r.p.name, line: `${r.p.line.park}/${r.p.line.enterprise}/${r.p.line.workshop}/${r.p.line.line}`,
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
    if (want.has('products')) out.products = rows;
  }
  if (want.has('intensity')) {
    const ents = new Map<string, { kgce: number; value: number; hasProducts: boolean }>();
    for (const m of meters) { // the scope's meters, by enterprise
      const key = `${m.device.park}/${m.device.enterprise}`;
      const e = ents.get(key) ?? { kgce: 0, value: 0, hasProducts: false };
      e.kgce += energyOf(deps, [m], (x) => qty(x.device.id, x.metric)).kgce;
      ents.set(key, e);
    }
    for (const r of prodRows) {
      const key = `${r.p.line.park}/${r.p.line.enterprise}`;
      const e = ents.get(key) ?? { kgce: 0, value: 0, hasProducts: false };
      e.value += r.value;
      e.hasProducts = true;
      ents.set(key, e);
    }
    const withOutput = [...ents.entries()].filter(([, e]) => e.hasProducts);
    const kgce = withOutput.reduce((a, [, e]) => a + e.kgce, 0);
    const value = withOutput.reduce((a, [, e]) => a + e.value, 0);
    out.intensity = {
      unit: 'tce/10^4 yuan', basis: 'comprehensive energy of enterprises with configured output value ÷ their output value (good quantity × unit price)',
      kgce: round(kgce, 3), outputValueYuan: round(value, 2), tcePer10kYuan: round(intensityTcePer10kYuan(kgce, value), 6),
      byEnterprise: withOutput.map(([k, e]) => ({ enterprise: k.split('/')[1], park: k.split('/')[0], kgce: round(e.kgce, 3), outputValueYuan: round(e.value, 2), tcePer10kYuan: round(intensityTcePer10kYuan(e.kgce, e.value), 6) })),
      excluded: [...ents.entries()].filter(([, e]) => !e.hasProducts).map(([k, e]) => ({ enterprise: k.split('/')[1], park: k.split('/')[0], kgce: round(e.kgce, 3), reason: 'no product output value configured (config/production.yaml)' })),
    };
  }
  if (want.has('oee')) {
    out.oee = oeeProducts.map((p) => {
      const o = p.oee!;
      const dev = model.devices.get(o.runState.device)!;
      const windows = plannedWindows(from, to, o.shifts, production.timezoneOffsetMin);
      const counts = states.get(dev.id) ?? [];
      const one = (w: typeof windows) => {
        const keep = (ts: number) => inWindows(w, ts);
        const aptMs = counts.filter((c) => keep(c.ts)).reduce((a, c) => a + c.n * dev.intervalMs, 0);
        const pq = terms(p.produced, keep);
        const gq = terms(p.good, keep);
        const r = oee({ pbtMs: windowsMs(w), aptMs, pq, gq, idealRatePerHour: o.idealRatePerHour });
        return {
          pbtH: round(windowsMs(w) / 3.6e6, 6), aptH: round(aptMs / 3.6e6, 6), pq: round(pq, 4), gq: round(gq, 4),
          availability: round(r.availability), effectiveness: round(r.effectiveness), quality: round(r.quality), oee: round(r.oee),
        };
      };
      const names = [...new Set(o.shifts.map((s) => s.name))];
      return {
        product: p.id, line: `${p.line.park}/${p.line.enterprise}/${p.line.workshop}/${p.line.line}`, unit: p.unit,
        runState: { device: dev.id, metric: o.runState.metric, running: o.runState.running, sampleMs: dev.intervalMs },
        idealRatePerHour: o.idealRatePerHour, idealRateSource: o.idealRateSource, calendar: o.calendar,
        ...one(windows),
        byShift: names.map((n) => ({ shift: n, ...one(windows.filter((w) => w.shift === n)) })),
      };
    });
  }
  if (want.has('dataQuality') && activity) {
    const end = Math.min(to, now);
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
    out.dataQuality = {
      devices: scope.devices.length, online, onlineRate: round(ratio(online, scope.devices.length)),
      reporting, reportingRate: round(ratio(reporting, scope.devices.length)),
      samplesExpected: expected, samplesReceived: received, completeness: round(ratio(received, expected)),
      byDevice,
    };
  }
  return out;
}
