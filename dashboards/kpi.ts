/**
 * Queries over the hourly KPI facts (`kpi_hourly`, core/kpi/facts.ts, written by the API's rollup)
 * and the KPI panels built on them. Ratios are taken of sums over the range or the interval —
 * kgce/m² = sum(kgce) ÷ sum(good_units), never an average of hourly ratios — so any range gives
 * the same figure as the KPI API for the hours it covers. Facts are hourly: these panels use a
 * minimum interval of 1 h, and a range includes the hours that start within it.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import { ident, influxql, join, type Fragment } from '../core/influx/influxql.ts';
import { grade } from '../core/kpi/formulas.ts';
import type { Product, Production } from '../core/kpi/production.ts';
import type { Standards } from '../core/kpi/standards.ts';
import type { ParkModel } from '../core/model.ts';
import { KPI_MEASUREMENT } from '../core/kpi/facts.ts';
import { scope, statPanel, thresholds, timeSeriesPanel, type Target, type VariableName } from './common.ts';
import { INTERVAL } from './influxql.ts';

/** Facts are per hour: no finer GROUP BY makes sense. */
export const KPI_MIN_INTERVAL = '1h';

/** The standards and production data the KPI panels take their lines and products from. */
export interface KpiData { standards: Standards; production: Production }

const ENTERPRISE_VARS: readonly VariableName[] = ['park', 'enterprise'];
const PRODUCT_VARS: readonly VariableName[] = ['park', 'enterprise', 'workshop'];

/** WHERE of enterprise facts: the time range, level, park and enterprise variables (they carry no workshop). */
export function enterpriseFacts(): Fragment {
  return scope([influxql`"level" = ${'enterprise'}`], ENTERPRISE_VARS);
}

/** WHERE of product facts of the given products. */
export function productFacts(products: readonly string[]): Fragment {
  if (products.length === 0) throw new RangeError('productFacts needs at least one product');
  const one = products.map((p) => influxql`"product" = ${p}`);
  return scope([influxql`"level" = ${'product'}`, influxql`(${join(one, ' OR ')})`], PRODUCT_VARS);
}

/** `sum("a") / sum("b") * k AS "alias"`. */
export function ratioOfSums(num: string, den: string, alias: string, factor = 1): Fragment {
  if (!Number.isFinite(factor)) throw new RangeError('factor must be finite');
  const k = factor === 1 ? influxql`` : influxql` * ${factor}`;
  return influxql`sum(${ident(num)}) / sum(${ident(den)})${k} AS ${ident(alias)}`;
}

export type Grouping = 'none' | 'interval' | 'enterprise' | 'interval-enterprise';

function groupBy(g: Grouping): Fragment {
  switch (g) {
    case 'none': return influxql``;
    case 'interval': return influxql` GROUP BY time(${INTERVAL}) fill(null)`;
    case 'enterprise': return influxql` GROUP BY "enterprise"`;
    case 'interval-enterprise': return influxql` GROUP BY time(${INTERVAL}), "enterprise" fill(null)`;
  }
}

export function kpiQuery(select: readonly Fragment[], where: Fragment, g: Grouping): Fragment {
  return influxql`SELECT ${join(select)} FROM ${ident(KPI_MEASUREMENT)} WHERE ${where}${groupBy(g)}`;
}

/** Carriers metered in the park model (ids as written by the rollup), in model order. */
export function carriers(model: ParkModel): string[] {
  const out = new Set<string>();
  for (const k of model.kinds.values()) for (const m of k.metrics.values()) if (m.carrier) out.add(m.carrier);
  return [...out];
}

export const CARRIER_NAMES: Readonly<Record<string, string>> = {
  electricity: 'Electricity', natural_gas: 'Natural gas', fresh_water: 'Water', steam_lp: 'Steam',
};
export const carrierName = (c: string) => CARRIER_NAMES[c] ?? c;

/** Standard coal by carrier (kgce) as one column each. */
export function coalByCarrier(model: ParkModel, g: Grouping): Target {
  const cols = carriers(model).map((c) => influxql`sum(${ident(`kgce_${c}`)}) AS ${ident(carrierName(c))}`);
  return { query: kpiQuery(cols, enterpriseFacts(), g) };
}

/** Products of the production file made in a workshop that has a device of one of these kinds. */
export function productsOfKinds(model: ParkModel, production: Production, kinds: readonly string[]): Product[] {
  const places = new Set([...model.devices.values()].filter((d) => kinds.includes(d.kind.id)).map((d) => `${d.park}/${d.enterprise}/${d.workshop}`));
  return [...production.products.values()].filter((p) => places.has(`${p.line.park}/${p.line.enterprise}/${p.line.workshop}`));
}

/** The GB 21252 grade limits of a product (class × thickness factor), or undefined without a quota. */
export function quotaLimits(standards: Standards, p: Product): { grade1: number; grade2: number; grade3: number; unit: string; source: string } | undefined {
  if (!p.quota) return undefined;
  const table = standards.quotas.get(p.quota.table);
  const cls = table?.classes.get(p.quota.class);
  if (!table || !cls) return undefined;
  return { ...grade(0, cls, p.quota.thicknessFactor).limits, unit: table.unit, source: table.source };
}

/** OEE and its three factors (ISO 22400-2) from sums of hourly PBT, APT, PQ, GQ and ideal output. */
export function oeeColumns(): Fragment[] {
  return [
    ratioOfSums('gq', 'ideal_pbt', 'OEE'),
    ratioOfSums('apt_h', 'pbt_h', 'Availability'),
    ratioOfSums('pq', 'ideal_apt', 'Performance'),
    ratioOfSums('gq', 'pq', 'Quality'),
  ];
}

// ------------------------------------------------------------------ panels shared by line dashboards

/** `m²`, `1,000 doses`: the unit a per-unit figure refers to. */
const perUnitLabel = (p: Product) => {
  const unit = p.unit === 'm2' ? 'm²' : p.unit;
  return p.perUnit === 1 ? unit : `${p.perUnit.toLocaleString('en')} ${/^[a-z]+$/.test(unit) ? `${unit}s` : unit}`;
};

/**
 * Per-unit energy of the products (kgce per unit, or kWh per unit with `electricity`) per
 * interval and in range; with a GB 21252 quota, its grade limits as lines and colours: green to
 * grade 1 (advanced), yellow to grade 2 (entry for new plants), orange to grade 3 (the limit), red above.
 */
export function perUnitPanels(products: readonly Product[], standards: Standards, what: 'kgce' | 'electricity') {
  const p0 = products[0];
  if (!p0) throw new RangeError('perUnitPanels needs a product');
  const ids = products.map((p) => p.id);
  const limits = quotaLimits(standards, p0);
  const field = what === 'kgce' ? 'kgce' : 'kwh';
  const unitText = `${what === 'kgce' ? 'kgce' : 'kWh'}/${perUnitLabel(p0)}`;
  const alias = what === 'kgce' ? 'kgce per unit' : 'kWh per unit';
  const steps = limits
    ? thresholds([null, 'green'], [limits.grade1, 'yellow'], [limits.grade2, 'orange'], [limits.grade3, 'red'])
    : thresholds([null, 'green']);
  const limitCols = limits ? [
    influxql`mean(${ident('limit_grade1')}) AS ${ident('grade 1 (advanced)')}`,
    influxql`mean(${ident('limit_grade2')}) AS ${ident('grade 2 (entry)')}`,
    influxql`mean(${ident('limit_grade3')}) AS ${ident('grade 3 (limit)')}`,
  ] : [];
  const quota = limits ? ` Lines: ${limits.source} grade limits for ${p0.quota!.class}${p0.quota!.thicknessFactor !== 1 ? ` × thickness factor ${p0.quota!.thicknessFactor}` : ''}: grade 1 ${limits.grade1}, grade 2 ${limits.grade2}, grade 3 (the limit) ${limits.grade3} ${limits.unit}.` : '';
  const basis = what === 'kgce'
    ? 'Comprehensive energy (standard coal) of the workshop\'s main meters ÷ good output'
    : 'Electricity of the workshop\'s main meters ÷ good output';
  return [
    timeSeriesPanel({
      title: `${what === 'kgce' ? 'Energy' : 'Electricity'} per ${perUnitLabel(p0)}${limits ? ' against GB 21252' : ''}`, w: 16,
      description: `${basis} (${products.map((p) => p.name).join(', ')}), per interval of whole hours (hourly KPI facts).${quota}`,
      unit: `suffix: ${unitText}`, minInterval: KPI_MIN_INTERVAL, min: 0, thresholds: steps,
      showThresholds: limits ? common.GraphThresholdsStyleMode.Line : common.GraphThresholdsStyleMode.Off,
      targets: [{ query: kpiQuery([ratioOfSums(field, 'good_units', alias), ...limitCols], productFacts(ids), 'interval'), alias: '$col' }],
    }),
    statPanel({
      title: `${what === 'kgce' ? 'Energy' : 'Electricity'} per ${perUnitLabel(p0)} in range`, w: 8,
      description: `${basis} over the whole range (ratio of sums, as the KPI API computes it).${limits ? ' Colour: the GB 21252 grade reached (green 1, yellow 2, orange 3, red above the limit).' : ''}`,
      unit: `suffix: ${unitText}`, decimals: 3, minInterval: KPI_MIN_INTERVAL, thresholds: steps,
      targets: [{ query: kpiQuery([ratioOfSums(field, 'good_units', alias)], productFacts(ids), 'none'), alias }],
    }),
  ];
}

/** OEE with availability, performance and quality per interval and in range (ISO 22400-2). */
export function oeePanels(products: readonly Product[]) {
  const ids = products.filter((p) => p.oee).map((p) => p.id);
  const names = products.filter((p) => p.oee).map((p) => p.name).join(', ');
  const colours = thresholds([null, 'red'], [0.6, 'orange'], [0.85, 'green']);
  return [
    timeSeriesPanel({
      title: 'OEE and its three factors', w: 16,
      description: `OEE = availability × performance × quality (ISO 22400-2) of ${names}: availability = run time ÷ planned busy time (shift calendar), performance = produced ÷ (ideal rate × run time), quality = good ÷ produced; per interval of whole hours. Red below 60 %, green from 85 % (world class).`,
      unit: 'percentunit', minInterval: KPI_MIN_INTERVAL, min: 0, max: 1.1, thresholds: colours,
      targets: [{ query: kpiQuery(oeeColumns(), productFacts(ids), 'interval'), alias: '$col' }],
    }),
    statPanel({
      title: 'OEE in range', w: 8,
      description: 'OEE and its factors over the whole range (ratios of sums of planned time, run time, ideal output, produced and good).',
      unit: 'percentunit', decimals: 1, minInterval: KPI_MIN_INTERVAL, thresholds: colours,
      targets: [{ query: kpiQuery(oeeColumns(), productFacts(ids), 'none'), alias: '$col' }],
    }),
  ];
}
