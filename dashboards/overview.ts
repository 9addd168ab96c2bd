/** Park overview: power now by workshop main meter, devices online, data arriving per device. */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { duration, Fragment, ident, literal } from '../core/influx/influxql.ts';
import { STATUS_MEASUREMENT } from '../core/influx/line-protocol.ts';
import type { ParkModel } from '../core/model.ts';
import {
  addPanels, barGaugePanel, dashboardBase, from, mainMeters, metricUnit, row, scope, stateMappings, statPanel, tablePanel,
  thresholds, timeSeriesPanel, type Target, VARIABLES,
} from './common.ts';
import { and, exactly, iql, INTERVAL, INTERVAL_MS, num, RANGE_END, tagIn, tagMatchesVariable } from './influxql.ts';

/** Device status is written on change only: the last one within this lookback before the range end counts. */
export const STATUS_LOOKBACK = '30d';

const lookback = () => and([
  new Fragment(iql`time <= ${RANGE_END}`),
  new Fragment(iql`time >= ${RANGE_END} - ${duration(STATUS_LOOKBACK)}`),
  ...VARIABLES.map((v) => tagMatchesVariable(v, v)),
]);

export function lastStatus(): Target {
  return {
    query: iql`SELECT last(${ident('state')}) AS ${ident('state')} FROM ${ident(STATUS_MEASUREMENT)} WHERE ${lookback()} GROUP BY "device"`,
    format: 'table',
  };
}

export function devicesIn(state: 'online' | 'offline'): Target {
  return {
    query: iql`SELECT count(${ident('state')}) AS ${ident(state)} FROM (SELECT last(${ident('state')}) AS ${ident('state')} FROM ${ident(STATUS_MEASUREMENT)} WHERE ${lookback()} GROUP BY "device") WHERE ${ident('state')} = ${literal(state)}`,
    alias: state,
  };
}

/**
 * Data collection completeness (samples received ÷ samples expected) per interval and device:
 * count(seq) × the device's reporting interval ÷ $__interval_ms; one target per distinct
 * reporting interval of the park model.
 */
export function completeness(model: ParkModel): Target[] {
  const byInterval = new Map<number, string[]>();
  for (const d of model.devices.values()) byInterval.set(d.intervalMs, [...(byInterval.get(d.intervalMs) ?? []), d.id]);
  return [...byInterval].sort(([a], [b]) => a - b).map(([ms, ids]) => {
    const kinds = [...new Set(ids.map((id) => model.devices.get(id)!.kind.id))].sort();
    return {
      query: iql`SELECT count(${ident('seq')}) * ${num(ms)} / ${INTERVAL_MS} AS ${ident('completeness')} FROM ${exactly(kinds)} WHERE ${scope([tagIn('device', ids.sort())])} GROUP BY time(${INTERVAL}), "device" fill(0)`,
      alias: '$tag_device',
    };
  });
}

export function overviewDashboard(model: ParkModel): dashboard.Dashboard {
  const meters = mainMeters(model, 'electricity_meter').map((d) => d.id);
  const kinds = [...new Set([...model.devices.values()].map((d) => d.kind.id))].sort();
  const power = metricUnit(model, 'electricity_meter', 'power');
  // the device variable picks devices of any kind: the main-meter panels follow park, enterprise, workshop only
  const mainScope = scope([tagIn('device', meters)], ['park', 'enterprise', 'workshop']);
  const d = dashboardBase('sp-overview', 'Park overview',
    'The whole zone at a glance: electrical power by workshop main meter, devices online (last device_status), data arriving per device.',
    undefined);
  return addPanels(d, [
    row('Power'),
    barGaugePanel({
      title: 'Power now by workshop', w: 8,
      description: 'Last active power of each workshop main meter in the time range (sub-meters such as HVAC are not added).',
      unit: power, minInterval: '10s', min: 0, thresholds: thresholds([null, 'green']),
      targets: [{ query: iql`SELECT last(${ident('power')}) AS ${ident('power')} FROM ${ident('electricity_meter')} WHERE ${mainScope} GROUP BY "workshop", "device"`, alias: '$tag_workshop' }],
    }),
    timeSeriesPanel({
      title: 'Power by workshop', w: 16, stacked: true,
      description: 'Mean active power of each workshop main meter, stacked: the zone total on top.',
      unit: power, minInterval: '10s', min: 0, thresholds: thresholds([null, 'green']),
      targets: [{ query: iql`SELECT mean(${ident('power')}) AS ${ident('power')} FROM ${ident('electricity_meter')} WHERE ${mainScope} GROUP BY time(${INTERVAL}), "workshop", "device" fill(null)`, alias: '$tag_workshop' }],
    }),
    row('Devices'),
    statPanel({
      title: 'Devices online', w: 4, h: 6, noValue: '0',
      description: `Devices whose last status (within ${STATUS_LOOKBACK} before the end of the range) is online.`,
      unit: 'short', decimals: 0, thresholds: thresholds([null, 'red'], [1, 'green']),
      targets: [devicesIn('online')],
    }),
    statPanel({
      title: 'Devices offline', w: 4, h: 6, noValue: '0',
      description: `Devices whose last status (within ${STATUS_LOOKBACK} before the end of the range) is offline: disconnected cleanly or by their last will.`,
      unit: 'short', decimals: 0, thresholds: thresholds([null, 'green'], [1, 'red']),
      targets: [devicesIn('offline')],
    }),
    tablePanel({
      title: 'Device status', w: 16, h: 6,
      description: 'Last status of each device and when it was reported.',
      unit: 'none', thresholds: thresholds([null, 'text']), mappings: stateMappings(['online', 'offline']),
      targets: [lastStatus()],
    }),
    timeSeriesPanel({
      title: 'Readings arriving per device', w: 16, bars: false,
      description: 'Readings stored per interval and device (count of seq): a gap or a drop shows a device that stopped or slowed.',
      unit: 'short', minInterval: '10s', min: 0, thresholds: thresholds([null, 'green']),
      targets: [{ query: iql`SELECT count(${ident('seq')}) AS ${ident('readings')} FROM ${from(kinds)} WHERE ${scope()} GROUP BY time(${INTERVAL}), "device" fill(0)`, alias: '$tag_device' }],
    }),
    tablePanel({
      title: 'Last reading per device', w: 8,
      description: 'Time and sequence number of the last reading stored for each device in the range.',
      unit: 'none', thresholds: thresholds([null, 'text']),
      targets: [{ query: iql`SELECT last(${ident('seq')}) AS ${ident('seq')} FROM ${from(kinds)} WHERE ${scope()} GROUP BY "device"`, format: 'table' }],
    }),
    timeSeriesPanel({
      title: 'Data completeness per device', w: 24,
      description: 'Readings stored ÷ readings expected from each device\'s reporting interval, per interval (the digitised-workshop data collection completeness). The last, partial interval reads low.',
      unit: 'percentunit', minInterval: '1m', min: 0, thresholds: thresholds([null, 'red'], [0.9, 'orange'], [0.99, 'green']),
      targets: completeness(model),
    }),
  ]).build();
}
