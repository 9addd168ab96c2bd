/**
 * Energy: consumption by workshop from the main meters' cumulative counters —
 * electricity, natural gas, water, steam. Per interval with non_negative_difference(last())
 * (verified on InfluxDB 1.6.7; a counter reset gives no negative bar), per range with spread().
 * Standard coal (GB/T 2589-2020) and carbon per carrier use the coefficients of
 * config/standards.yaml (core/kpi/standards.ts), the same ones the KPI API uses: none is
 * written here. Per-unit energy against GB 21252 needs a ratio across measurements, which
 * InfluxQL 1.x cannot join: it stays with the KPI API.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { ident, influxql, offsetDuration } from '../core/influx/influxql.ts';
import { gridFactorFor, unitFactor, type Standards } from '../core/kpi/standards.ts';
import type { Production } from '../core/kpi/production.ts';
import type { ParkModel } from '../core/model.ts';
import { coalByCarrier, enterpriseFacts, KPI_MIN_INTERVAL, kpiQuery, type KpiData } from './kpi.ts';
import {
  addPanels, barGaugePanel, dashboardBase, mainMeters, metricUnit, row, scope, statPanel, thresholds, timeSeriesPanel, type Target,
} from './common.ts';
import { INTERVAL, tagIn, TIME_FILTER } from './influxql.ts';

/** Meter kinds and their cumulative counter, with the carrier's display name. */
export const METERS = [
  { kind: 'electricity_meter', counter: 'energy', carrier: 'Electricity' },
  { kind: 'gas_meter', counter: 'volume', carrier: 'Natural gas' },
  { kind: 'water_meter', counter: 'volume', carrier: 'Water' },
  { kind: 'steam_meter', counter: 'mass', carrier: 'Steam' },
] as const;

export function consumptionPerInterval(model: ParkModel, kind: string, counter: string): Target {
  const ids = mainMeters(model, kind).map((d) => d.id);
  return {
    query: influxql`SELECT non_negative_difference(last(${ident(counter)})) AS ${ident(counter)} FROM ${ident(kind)} WHERE ${scope([tagIn('device', ids)])} GROUP BY time(${INTERVAL}), "workshop", "device"`,
    alias: '$tag_workshop',
  };
}

export function consumptionInRange(model: ParkModel, kind: string, counter: string): Target {
  const ids = mainMeters(model, kind).map((d) => d.id);
  return {
    query: influxql`SELECT spread(${ident(counter)}) AS ${ident(counter)} FROM ${ident(kind)} WHERE ${scope([tagIn('device', ids)])} GROUP BY "workshop", "device"`,
    alias: '$tag_workshop',
  };
}

/**
 * A carrier's consumption per interval over all its main meters, times a factor: per device
 * first (a counter is only comparable with itself), summed in an outer query.
 */
function scaledConsumption(model: ParkModel, kind: string, counter: string, factor: number, alias: string): Target {
  const ids = mainMeters(model, kind).map((d) => d.id);
  return {
    query: influxql`SELECT sum("d") * ${factor} AS ${ident(alias)} FROM (SELECT non_negative_difference(last(${ident(counter)})) AS "d" FROM ${ident(kind)} WHERE ${scope([tagIn('device', ids)])} GROUP BY time(${INTERVAL}), "device") WHERE ${TIME_FILTER} GROUP BY time(${INTERVAL})`,
    alias,
  };
}

/** kgce (or kgCO2) per unit of a meter's counter, converting the meter's unit to the coefficient's. */
function perCounterUnit(model: ParkModel, kind: string, counter: string, per: { unit: string }, value: number): number | undefined {
  const meterUnit = model.kinds.get(kind)?.metrics.get(counter)?.unit; // the model's unit, not Grafana's
  const f = meterUnit === undefined ? undefined : unitFactor(meterUnit, per.unit);
  return f === undefined ? undefined : value * f;
}

function coalAndCarbonPanels(model: ParkModel, s: Standards) {
  const coal: Target[] = [];
  const carbon: Target[] = [];
  const grid = gridFactorFor(s, new Date().getUTCFullYear());
  for (const m of METERS) {
    if (mainMeters(model, m.kind).length === 0) continue;
    const carrierId = model.kinds.get(m.kind)?.metrics.get(m.counter)?.carrier;
    const c = carrierId ? s.carriers.get(carrierId) : undefined;
    const k = c && perCounterUnit(model, m.kind, m.counter, c, c.kgcePerUnit);
    if (k !== undefined) coal.push(scaledConsumption(model, m.kind, m.counter, k, m.carrier));
    const f = carrierId === 'electricity' ? { unit: s.grid.unit, kgCO2PerUnit: grid.kgCO2PerUnit } : carrierId ? s.carbon.get(carrierId) : undefined;
    const kc = f && perCounterUnit(model, m.kind, m.counter, f, f.kgCO2PerUnit);
    if (kc !== undefined) carbon.push(scaledConsumption(model, m.kind, m.counter, kc, m.carrier));
  }
  return [
    row('Standard coal and carbon'),
    timeSeriesPanel({
      title: 'Standard coal by carrier', w: 12, bars: true, stacked: true,
      description: `Comprehensive energy per interval in kgce: each carrier's consumption (main meters) times its GB/T 2589-2020 coefficient from config/standards.yaml (electricity ${s.carriers.get('electricity')?.kgcePerUnit} kgce/kWh, ${s.electricityValue} value).`,
      unit: 'kgce', minInterval: '1m', min: 0, thresholds: thresholds([null, 'green']), targets: coal,
    }),
    timeSeriesPanel({
      title: 'Carbon by carrier', w: 12, bars: true, stacked: true,
      description: `CO2 per interval in kg: electricity times the grid factor (${grid.kgCO2PerUnit} kgCO2/kWh, ${grid.year} data), fuels times their factors, from config/standards.yaml.`,
      unit: 'kgCO2', minInterval: '1m', min: 0, thresholds: thresholds([null, 'green']), targets: carbon,
    }),
  ];
}

/** How far back the per-day comparison reaches (panel relative time). */
export const DAYS_COMPARED = 14;

/**
 * By enterprise (stacked per interval) and period comparison: the range against the same range a
 * day earlier (panel time shift), and local days side by side (GROUP BY time(1d) shifted to the
 * production timezone), all from the hourly KPI facts.
 */
function enterpriseAndPeriodPanels(model: ParkModel, production: Production) {
  const tce = influxql`sum(${ident('kgce')}) / 1000 AS ${ident('tce')}`;
  const localDay = influxql`time(1d, ${offsetDuration(-production.timezoneOffsetMin, 'm')})`;
  const rangeStat = (title: string, description: string, timeShift?: string) => statPanel({
    title, description, w: 6, h: 5, minInterval: KPI_MIN_INTERVAL, ...(timeShift ? { timeShift } : {}),
    unit: 'suffix: tce', decimals: 3, thresholds: thresholds([null, 'green']),
    targets: [{ query: kpiQuery([tce], enterpriseFacts(), 'none'), alias: 'tce' }],
  });
  return [
    row('By enterprise, and period comparison'),
    timeSeriesPanel({
      title: 'Comprehensive energy by enterprise', w: 12, bars: true, stacked: true,
      description: 'Standard coal (kgce) of each enterprise\'s main meters per interval of whole hours (hourly KPI facts): the zone total on top.',
      unit: 'suffix: kgce', minInterval: KPI_MIN_INTERVAL, min: 0, thresholds: thresholds([null, 'green']),
      targets: [{ query: kpiQuery([influxql`sum(${ident('kgce')}) AS ${ident('kgce')}`], enterpriseFacts(), 'interval-enterprise'), alias: '$tag_enterprise' }],
    }),
    timeSeriesPanel({
      title: 'Carbon by enterprise', w: 12, bars: true, stacked: true,
      description: 'CO2 (kg) of each enterprise per interval of whole hours: electricity × the dated grid factor, fuels × their factors (config/standards.yaml).',
      unit: 'suffix: kgCO2', minInterval: KPI_MIN_INTERVAL, min: 0, thresholds: thresholds([null, 'green']),
      targets: [{ query: kpiQuery([influxql`sum(${ident('kgco2')}) AS ${ident('kgco2')}`], enterpriseFacts(), 'interval-enterprise'), alias: '$tag_enterprise' }],
    }),
    rangeStat('Comprehensive energy in range', 'Standard coal of the selected enterprises over the dashboard range (hours starting in it).'),
    rangeStat('Same range a day earlier', 'The same, for the range shifted back by one day: compare with the panel on its left.', '1d'),
    timeSeriesPanel({
      title: `Comprehensive energy per local day, last ${DAYS_COMPARED} days`, w: 12, bars: true, stacked: true,
      description: `Standard coal (kgce) by carrier per local day (${production.timezone}) over the last ${DAYS_COMPARED} days, whatever the dashboard range: days side by side.`,
      unit: 'suffix: kgce', min: 0, timeFrom: `${DAYS_COMPARED}d`, thresholds: thresholds([null, 'green']),
      targets: [{ query: influxql`${coalByCarrier(model, 'none').query} GROUP BY ${localDay}` }],
    }),
  ];
}

export function energyDashboard(model: ParkModel, { standards, production }: KpiData): dashboard.Dashboard {
  const d = dashboardBase('sp-energy', 'Energy',
    'Electricity, natural gas, water and steam by workshop from the main meters\' counters, and the comprehensive energy (kgce, GB/T 2589-2020) and carbon they make, with the coefficients of config/standards.yaml; by enterprise and compared with the day before and day by day (hourly KPI facts). Per-unit energy against GB 21252 is on the Ceramic-tile line dashboard.',
    METERS.map((m) => m.kind));
  const panels = METERS.filter((m) => mainMeters(model, m.kind).length > 0).flatMap((m) => {
    const unit = metricUnit(model, m.kind, m.counter);
    return [
      row(m.carrier),
      timeSeriesPanel({
        title: `${m.carrier} by workshop`, w: 16, bars: true, stacked: true,
        description: `${m.carrier} consumed per interval by each workshop (main meters only): increase of the cumulative counter.`,
        unit, minInterval: '1m', min: 0, thresholds: thresholds([null, 'green']),
        targets: [consumptionPerInterval(model, m.kind, m.counter)],
      }),
      barGaugePanel({
        title: `${m.carrier} in range`, w: 8,
        description: `${m.carrier} consumed in the time range by each workshop: last minus first counter reading.`,
        unit, minInterval: '1m', min: 0, thresholds: thresholds([null, 'green']),
        targets: [consumptionInRange(model, m.kind, m.counter)],
      }),
    ];
  });
  return addPanels(d, [...panels, ...coalAndCarbonPanels(model, standards), ...enterpriseAndPeriodPanels(model, production)]).build();
}
