/**
 * KPI formulas of BRIEF §3 (GB/T 2589-2020, GB 21252-2023, MEE grid factors, ISO 22400-2). Pure.
 */
import type { Shift } from './production.ts';
import { gridFactorFor, unitFactor, type CarrierCoefficient, type QuotaClass, type Standards } from './standards.ts';

/** Standard coal (kgce) of `quantity` measured in `meterUnit`, with the coefficient given. */
export function standardCoal(quantity: number, meterUnit: string, c: { unit: string; kgcePerUnit: number }): number {
  const f = unitFactor(meterUnit, c.unit);
  if (f === undefined) throw new RangeError(`unit ${meterUnit} cannot be converted to ${c.unit}`);
  return quantity * f * c.kgcePerUnit;
}

export interface CarrierEnergy {
  readonly carrier: string;
  readonly quantity: number;
  readonly unit: string;
  /** kgce counted in comprehensive energy (electricity: by the configured value). */
  readonly kgce: number;
  /** Electricity only: both conversions. */
  readonly kgceEquivalent?: number;
  readonly kgceEqualValue?: number;
  readonly coefficient: CarrierCoefficient;
}

export function carrierEnergy(s: Standards, carrier: string, quantity: number, unit: string): CarrierEnergy {
  const c = s.carriers.get(carrier);
  if (!c) throw new RangeError(`no standard-coal coefficient for carrier ${carrier}`);
  const eq = standardCoal(quantity, unit, c);
  if (carrier !== 'electricity') return { carrier, quantity, unit, kgce: c.comprehensive ? eq : 0, coefficient: c };
  const ev = c.equalValue ? standardCoal(quantity, unit, { unit: c.unit, kgcePerUnit: c.equalValue.kgcePerUnit }) : undefined;
  const kgce = s.electricityValue === 'equal' && ev !== undefined ? ev : eq;
  return { carrier, quantity, unit, kgce, kgceEquivalent: eq, ...(ev !== undefined ? { kgceEqualValue: ev } : {}), coefficient: c };
}

export interface CarbonResult { readonly carrier: string; readonly kgCO2: number; readonly factor: number; readonly factorUnit: string; readonly source: string; readonly year?: number }

/** kgCO2 of a carrier quantity; undefined when the standards have no factor for it. */
export function carbon(s: Standards, carrier: string, quantity: number, unit: string, dataYear: number): CarbonResult | undefined {
  if (carrier === 'electricity') {
    const g = gridFactorFor(s, dataYear);
    const f = unitFactor(unit, s.grid.unit);
    if (f === undefined) return undefined;
    return { carrier, kgCO2: quantity * f * g.kgCO2PerUnit, factor: g.kgCO2PerUnit, factorUnit: `kgCO2/${s.grid.unit}`, source: g.source, year: g.year };
  }
  const c = s.carbon.get(carrier);
  const f = c && unitFactor(unit, c.unit);
  if (!c || f === undefined) return undefined;
  return { carrier, kgCO2: quantity * f * c.kgCO2PerUnit, factor: c.kgCO2PerUnit, factorUnit: `kgCO2/${c.unit}`, source: c.source };
}

/** Per-unit energy: kgce per `per` units of qualified output; null without output. */
export function perUnit(value: number, output: number, per = 1): number | null {
  return output > 0 ? (value / output) * per : null;
}

/** Energy intensity: tce per 10,000 yuan of output value; null without output value. */
export function intensityTcePer10kYuan(kgce: number, outputValueYuan: number): number | null {
  return outputValueYuan > 0 ? kgce / 1000 / (outputValueYuan / 10_000) : null;
}

export interface GradeResult {
  /** 1 (best), 2, 3 (meets the limit), or null (worse than the limit of grade 3). */
  readonly grade: 1 | 2 | 3 | null;
  /** The class values multiplied by the thickness factor. */
  readonly limits: QuotaClass;
}

/** GB 21252-2023 grade reached by a per-unit value (lower is better; a value equal to a limit meets it). */
export function grade(value: number, cls: QuotaClass, thicknessFactor = 1): GradeResult {
  const limits = { grade1: cls.grade1 * thicknessFactor, grade2: cls.grade2 * thicknessFactor, grade3: cls.grade3 * thicknessFactor };
  const g = value <= limits.grade1 ? 1 : value <= limits.grade2 ? 2 : value <= limits.grade3 ? 3 : null;
  return { grade: g, limits };
}

export interface OeeInput {
  /** Planned busy time, ms. */ readonly pbtMs: number;
  /** Actual production time, ms. */ readonly aptMs: number;
  /** Produced quantity. */ readonly pq: number;
  /** Good quantity. */ readonly gq: number;
  /** Ideal rate, units per hour (PRI = 1 / rate). */ readonly idealRatePerHour: number;
}
export interface OeeResult { readonly availability: number | null; readonly effectiveness: number | null; readonly quality: number | null; readonly oee: number | null }

/** ISO 22400-2: A = APT/PBT, E = PRI·PQ/APT, Q = GQ/PQ, OEE = A·E·Q (null where a denominator is 0). */
export function oee(i: OeeInput): OeeResult {
  const availability = i.pbtMs > 0 ? i.aptMs / i.pbtMs : null;
  const priMs = 3_600_000 / i.idealRatePerHour;
  const effectiveness = i.aptMs > 0 ? (priMs * i.pq) / i.aptMs : null;
  const quality = i.pq > 0 ? i.gq / i.pq : null;
  const o = availability !== null && effectiveness !== null && quality !== null ? availability * effectiveness * quality : null;
  return { availability, effectiveness, quality, oee: o };
}

/**
 * Planned windows [start, end) in epoch ms of a shift calendar within [from, to), in local time
 * of the given UTC offset, merged where shifts touch. With each window its shift name.
 */
export function plannedWindows(from: number, to: number, shifts: readonly Shift[], offsetMin: number): { start: number; end: number; shift: string }[] {
  const DAY = 86_400_000;
  const off = offsetMin * 60_000;
  const out: { start: number; end: number; shift: string }[] = [];
  const firstDay = Math.floor((from + off) / DAY) - 1; // a shift may start the local day before
  const lastDay = Math.floor((to + off) / DAY);
  for (let d = firstDay; d <= lastDay; d++) {
    const day0 = d * DAY - off;
    for (const s of shifts) {
      const start = day0 + s.startMin * 60_000;
      const end = day0 + (s.endMin > s.startMin ? s.endMin : s.endMin + 1440) * 60_000;
      const a = Math.max(start, from);
      const b = Math.min(end, to);
      if (a < b) out.push({ start: a, end: b, shift: s.name });
    }
  }
  return out.sort((x, y) => x.start - y.start);
}

/** Total length of windows, ms (windows of one calendar do not overlap). */
export const windowsMs = (w: readonly { start: number; end: number }[]): number => w.reduce((a, x) => a + x.end - x.start, 0);

/** Whether instant ts lies in one of the windows. */
export const inWindows = (w: readonly { start: number; end: number }[], ts: number): boolean => w.some((x) => ts >= x.start && ts < x.end);

/** Ratio or null when the denominator is 0. */
export const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);
