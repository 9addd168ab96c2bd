/**
 * Standard coefficients, quotas and emission factors (config/standards.yaml): parsed and validated
 * once at start-up, frozen. Pure: `parseStandards` takes already-parsed data; reading the file is
 * `loadStandards` in core/kpi/config-file.ts. Every value keeps its source and confidence so that
 * results can say which coefficient they used.
 */
import { deepFreeze, Problems } from '../problems.ts';

export const CONFIDENCE = ['C', 'T', 'S'] as const;
export type Confidence = (typeof CONFIDENCE)[number];

export interface Sourced { readonly source: string; readonly confidence: Confidence }

export interface CarrierCoefficient extends Sourced {
  readonly carrier: string;
  /** Quantity unit the coefficient is per (kWh, m3, kg, t, MJ). */
  readonly unit: string;
  readonly kgcePerUnit: number;
  /** Electricity only: the "equal value" (thermal-power coal rate of a year). */
  readonly equalValue?: Sourced & { readonly kgcePerUnit: number; readonly year: number };
  /** Counted in comprehensive energy. */
  readonly comprehensive: boolean;
}

export interface GridFactor extends Sourced { readonly year: number; readonly kgCO2PerUnit: number }
export interface CarbonFactor extends Sourced { readonly carrier: string; readonly unit: string; readonly kgCO2PerUnit: number }

export interface QuotaClass { readonly grade1: number; readonly grade2: number; readonly grade3: number }
export interface QuotaTable extends Sourced { readonly id: string; readonly unit: string; readonly classes: ReadonlyMap<string, QuotaClass> }

export interface Standards {
  readonly kgceMJ: Sourced & { readonly value: number };
  readonly carriers: ReadonlyMap<string, CarrierCoefficient>;
  readonly electricityValue: 'equivalent' | 'equal';
  readonly grid: { readonly unit: string; readonly byYear: readonly GridFactor[]; readonly greenPower?: Sourced & { readonly kgCO2PerUnit: number } };
  /** Fuel and heat factors by carrier (electricity is `grid`). */
  readonly carbon: ReadonlyMap<string, CarbonFactor>;
  readonly quotas: ReadonlyMap<string, QuotaTable>;
}

// ---- The file as written (config/standards.yaml): the raw shape `parseStandards` reads. Types
// only; scripts/config-schemas.ts generates config/schema/standards.schema.json from `StandardsFile`.

/** A unit of KNOWN_UNITS. */
export type StandardsFileUnit = 'kWh' | 'MWh' | 'kg' | 't' | 'm3' | 'Nm3' | 'MJ' | 'GJ';
/** @exclusiveMinimum 0 */
export type StandardsFilePositive = number;
export interface SourcedFile {
  /** Where the figure comes from (standard, edition, clause). @minLength 1 @maxLength 300 */
  source: string;
  /** C = official figure in several agreeing copies, T = one careful transcription, S = cited by secondary sources. */
  confidence: Confidence;
}
export interface EqualValueFile extends SourcedFile {
  kgcePerUnit: StandardsFilePositive;
  /** @minimum 1990 */
  year: number;
}
export interface CarrierFile extends SourcedFile {
  unit: StandardsFileUnit;
  kgcePerUnit: StandardsFilePositive;
  /** Electricity only: the "equal value" (thermal-power coal rate of a year). */
  equalValue?: EqualValueFile;
  /** Counted in comprehensive energy. */
  comprehensive: boolean;
}
export interface GridFactorFile extends SourcedFile {
  /** @minimum 1990 */
  year: number;
  kgCO2PerUnit: StandardsFilePositive;
}
export interface GreenPowerFile extends SourcedFile {
  /** @minimum 0 */
  kgCO2PerUnit: number;
}
export interface GridFile {
  unit: StandardsFileUnit;
  /** @minItems 1 */
  byYear: GridFactorFile[];
  greenPower?: GreenPowerFile;
}
export interface CarbonFactorFile extends SourcedFile {
  unit: StandardsFileUnit;
  /** @minimum 0 */
  kgCO2PerUnit: number;
}
export interface QuotaTableFile extends SourcedFile {
  /** @minLength 1 @maxLength 300 */
  unit: string;
  /** Class name to the three grades (grade1 <= grade2 <= grade3, lower is better). */
  classes: Record<string, { grade1: StandardsFilePositive; grade2: StandardsFilePositive; grade3: StandardsFilePositive }>;
}
export interface KgceFile extends SourcedFile { value: StandardsFilePositive }
/** The standards file (config/standards.yaml, docs/kpi.md). */
export interface StandardsFile {
  /** MJ per kgce (29.3076). */
  kgceMJ: KgceFile;
  /** Carrier id to its standard-coal coefficient; electricity is required. */
  carriers: { electricity: CarrierFile; [carrier: string]: CarrierFile };
  electricityValue?: 'equivalent' | 'equal';
  /** CO2 factors: electricity by data year, other carriers per unit. */
  carbon: { electricity: GridFile; [carrier: string]: GridFile | CarbonFactorFile };
  quotas: Record<string, QuotaTableFile>;
}

/** Factors between units of one dimension (to the dimension's base unit). */
const UNITS: Record<string, { dim: string; f: number }> = {
  kWh: { dim: 'elec', f: 1 }, MWh: { dim: 'elec', f: 1000 },
  kg: { dim: 'mass', f: 1 }, t: { dim: 'mass', f: 1000 },
  m3: { dim: 'vol', f: 1 }, Nm3: { dim: 'vol', f: 1 },
  MJ: { dim: 'heat', f: 1 }, GJ: { dim: 'heat', f: 1000 },
};
export const KNOWN_UNITS = Object.keys(UNITS);

/** How many `to` units one `from` unit is (t -> kg: 1000), or undefined when not convertible. */
export function unitFactor(from: string, to: string): number | undefined {
  const a = UNITS[from];
  const b = UNITS[to];
  if (!a || !b || a.dim !== b.dim) return undefined;
  return a.f / b.f;
}

function sourced(p: Problems, path: string, o: Record<string, unknown>): Sourced {
  return {
    source: p.text(`${path}.source`, o.source) ?? '?',
    confidence: p.oneOf(`${path}.confidence`, o.confidence, CONFIDENCE) ?? 'S',
  };
}

const unit = (p: Problems, path: string, v: unknown): string => {
  if (typeof v === 'string' && UNITS[v]) return v;
  p.add(path, v, `a unit among ${KNOWN_UNITS.join(', ')}`);
  return '?';
};

export function parseStandards(data: unknown): Standards {
  const p = new Problems();
  const root = p.obj('(root)', data) ?? {};
  p.keys('(root)', root, ['kgceMJ', 'carriers', 'electricityValue', 'carbon', 'quotas']);

  const k = p.obj('kgceMJ', root.kgceMJ) ?? {};
  const kgceMJ = { value: p.num('kgceMJ.value', k.value, { exclusiveMin: 0 }) ?? 29.3076, ...sourced(p, 'kgceMJ', k) };

  const carriers = new Map<string, CarrierCoefficient>();
  for (const [id, raw] of Object.entries(p.obj('carriers', root.carriers) ?? {})) {
    const path = `carriers.${id}`;
    const o = p.obj(path, raw);
    if (!o) continue;
    p.keys(path, o, ['unit', 'kgcePerUnit', 'source', 'confidence', 'comprehensive', 'equalValue']);
    let equalValue: CarrierCoefficient['equalValue'];
    if (o.equalValue !== undefined) {
      const e = p.obj(`${path}.equalValue`, o.equalValue) ?? {};
      equalValue = {
        kgcePerUnit: p.num(`${path}.equalValue.kgcePerUnit`, e.kgcePerUnit, { exclusiveMin: 0 }) ?? 0,
        year: p.num(`${path}.equalValue.year`, e.year, { min: 1990 }) ?? 0,
        ...sourced(p, `${path}.equalValue`, e),
      };
    }
    if (typeof o.comprehensive !== 'boolean') p.add(`${path}.comprehensive`, o.comprehensive, 'true or false');
    carriers.set(id, {
      carrier: id, unit: unit(p, `${path}.unit`, o.unit),
      kgcePerUnit: p.num(`${path}.kgcePerUnit`, o.kgcePerUnit, { exclusiveMin: 0 }) ?? 0,
      ...sourced(p, path, o), comprehensive: o.comprehensive === true, ...(equalValue ? { equalValue } : {}),
    });
  }
  if (!carriers.has('electricity')) p.add('carriers.electricity', undefined, 'a coefficient for electricity');
  const electricityValue = p.oneOf('electricityValue', root.electricityValue ?? 'equivalent', ['equivalent', 'equal'] as const) ?? 'equivalent';
  if (electricityValue === 'equal' && !carriers.get('electricity')?.equalValue) {
    p.add('carriers.electricity.equalValue', undefined, 'an equalValue when electricityValue is equal');
  }

  const c = p.obj('carbon', root.carbon) ?? {};
  const ce = p.obj('carbon.electricity', c.electricity) ?? {};
  p.keys('carbon.electricity', ce, ['unit', 'byYear', 'greenPower']);
  const byYear = p.arr('carbon.electricity.byYear', ce.byYear).map((raw, i) => {
    const path = `carbon.electricity.byYear[${i}]`;
    const o = p.obj(path, raw) ?? {};
    return { year: p.num(`${path}.year`, o.year, { min: 1990 }) ?? 0, kgCO2PerUnit: p.num(`${path}.kgCO2PerUnit`, o.kgCO2PerUnit, { exclusiveMin: 0 }) ?? 0, ...sourced(p, path, o) };
  }).sort((a, b) => a.year - b.year);
  if (byYear.length === 0) p.add('carbon.electricity.byYear', ce.byYear, 'at least one dated grid factor');
  let greenPower: Standards['grid']['greenPower'];
  if (ce.greenPower !== undefined) {
    const g = p.obj('carbon.electricity.greenPower', ce.greenPower) ?? {};
    greenPower = { kgCO2PerUnit: p.num('carbon.electricity.greenPower.kgCO2PerUnit', g.kgCO2PerUnit, { min: 0 }) ?? 0, ...sourced(p, 'carbon.electricity.greenPower', g) };
  }
  const grid = { unit: unit(p, 'carbon.electricity.unit', ce.unit), byYear, ...(greenPower ? { greenPower } : {}) };
  const carbon = new Map<string, CarbonFactor>();
  for (const [id, raw] of Object.entries(c)) {
    if (id === 'electricity') continue;
    const path = `carbon.${id}`;
    const o = p.obj(path, raw);
    if (!o) continue;
    p.keys(path, o, ['unit', 'kgCO2PerUnit', 'source', 'confidence']);
    carbon.set(id, { carrier: id, unit: unit(p, `${path}.unit`, o.unit), kgCO2PerUnit: p.num(`${path}.kgCO2PerUnit`, o.kgCO2PerUnit, { min: 0 }) ?? 0, ...sourced(p, path, o) });
  }

  const quotas = new Map<string, QuotaTable>();
  for (const [id, raw] of Object.entries(p.obj('quotas', root.quotas) ?? {})) {
    const path = `quotas.${id}`;
    const o = p.obj(path, raw);
    if (!o) continue;
    p.keys(path, o, ['unit', 'source', 'confidence', 'classes']);
    const classes = new Map<string, QuotaClass>();
    for (const [cls, cv] of Object.entries(p.obj(`${path}.classes`, o.classes) ?? {})) {
      const cp = `${path}.classes.${cls}`;
      const q = p.obj(cp, cv) ?? {};
      const g1 = p.num(`${cp}.grade1`, q.grade1, { exclusiveMin: 0 }) ?? 0;
      const g2 = p.num(`${cp}.grade2`, q.grade2, { exclusiveMin: 0 }) ?? 0;
      const g3 = p.num(`${cp}.grade3`, q.grade3, { exclusiveMin: 0 }) ?? 0;
      if (!(g1 <= g2 && g2 <= g3)) p.add(cp, q, 'grade1 <= grade2 <= grade3 (lower energy is the better grade)');
      classes.set(cls, { grade1: g1, grade2: g2, grade3: g3 });
    }
    quotas.set(id, { id, unit: p.text(`${path}.unit`, o.unit) ?? '?', classes, ...sourced(p, path, o) });
  }
  p.check('standards file');
  return deepFreeze({ kgceMJ, carriers, electricityValue, grid, carbon, quotas });
}

/** The grid factor for data of `year`: the latest published year <= year (or the earliest one). */
export function gridFactorFor(s: Standards, year: number): GridFactor {
  let f = s.grid.byYear[0]!;
  for (const g of s.grid.byYear) if (g.year <= year) f = g;
  return f;
}
