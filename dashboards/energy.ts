/**
 * Energy (skeleton): consumption by workshop from the main meters' cumulative counters —
 * electricity, natural gas, water, steam. Per interval with non_negative_difference(last())
 * (verified on InfluxDB 1.6.7; a counter reset gives no negative bar), per range with spread().
 * Standard coal, carbon and per-unit energy come with the KPI work (see dashboards/README.md).
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { ident } from '../core/influx/influxql.ts';
import type { ParkModel } from '../core/model.ts';
import {
  addPanels, barGaugePanel, dashboardBase, mainMeters, metricUnit, row, scope, thresholds, timeSeriesPanel, type Target,
} from './common.ts';
import { iql, INTERVAL, tagIn } from './influxql.ts';

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
    query: iql`SELECT non_negative_difference(last(${ident(counter)})) AS ${ident(counter)} FROM ${ident(kind)} WHERE ${scope([tagIn('device', ids)])} GROUP BY time(${INTERVAL}), "workshop", "device"`,
    alias: '$tag_workshop',
  };
}

export function consumptionInRange(model: ParkModel, kind: string, counter: string): Target {
  const ids = mainMeters(model, kind).map((d) => d.id);
  return {
    query: iql`SELECT spread(${ident(counter)}) AS ${ident(counter)} FROM ${ident(kind)} WHERE ${scope([tagIn('device', ids)])} GROUP BY "workshop", "device"`,
    alias: '$tag_workshop',
  };
}

export function energyDashboard(model: ParkModel): dashboard.Dashboard {
  const d = dashboardBase('sp-energy', 'Energy',
    'Electricity, natural gas, water and steam by workshop from the main meters\' counters. Skeleton: standard coal (GB/T 2589), carbon and per-unit energy (GB 21252) panels follow the KPI API.',
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
  return addPanels(d, panels).build();
}
