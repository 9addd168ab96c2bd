/** Park overview: power now by workshop main meter, devices online, data arriving per device. */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { duration, exactly, ident, influxql, type Fragment } from '../core/influx/influxql.ts';
import { STATUS_MEASUREMENT } from '../core/influx/line-protocol.ts';
import type { ParkModel } from '../core/model.ts';
import {
  addPanels, barGaugePanel, dashboardBase, from, mainMeters, metricUnit, row, scope, stateMappings, statPanel, tablePanel,
  thresholds, timeSeriesPanel, upperLimits, type Target, VARIABLES,
} from './common.ts';
import { and, INTERVAL, INTERVAL_MS, RANGE_END, tagIn, tagMatchesVariable } from './influxql.ts';
import { ALARM_EVENTS_MEASUREMENT } from '../core/alarms/events.ts';
import { coalByCarrier, enterpriseFacts, KPI_MIN_INTERVAL, kpiQuery, ratioOfSums } from './kpi.ts';

/** Device status is written on change only: the last one within this lookback before the range end counts. */
export const STATUS_LOOKBACK = '30d';
/** An alarm raised longer ago than this and never cleared is not shown as open. */
export const ALARM_LOOKBACK = '30d';
/** Panels of the "Today" row: Grafana's relative time override, today so far (browser time zone). */
export const TODAY = 'now/d';

/** Events written on change only (status, alarms): the range end, `span` before it, and the variables. */
const lookback = (span: string) => and([
  influxql`time <= ${RANGE_END}`,
  influxql`time >= ${RANGE_END} - ${duration(span)}`,
  ...VARIABLES.map((v) => tagMatchesVariable(v, v)),
]);

export function lastStatus(): Target {
  return {
    query: influxql`SELECT last(${ident('state')}) AS ${ident('state')} FROM ${ident(STATUS_MEASUREMENT)} WHERE ${lookback(STATUS_LOOKBACK)} GROUP BY "device"`,
    format: 'table',
  };
}

export function devicesIn(state: 'online' | 'offline'): Target {
  return {
    query: influxql`SELECT count(${ident('state')}) AS ${ident(state)} FROM (SELECT last(${ident('state')}) AS ${ident('state')} FROM ${ident(STATUS_MEASUREMENT)} WHERE ${lookback(STATUS_LOOKBACK)} GROUP BY "device") WHERE ${ident('state')} = ${state}`,
    alias: state,
  };
}

/** The last event of each alarm (rule × device) within the lookback, when it is a raise: the open alarms. */
function openAlarms(select: Fragment, outer: Fragment): Fragment {
  const inner = influxql`SELECT last(${ident('state')}) AS ${ident('state')}, ${ident('message')}, ${ident('value')}, ${ident('threshold')} FROM ${ident(ALARM_EVENTS_MEASUREMENT)} WHERE ${lookback(ALARM_LOOKBACK)} GROUP BY "device", "rule", "severity"`;
  return influxql`${select} FROM (${inner}) WHERE ${ident('state')} = ${'raised'}${outer}`;
}

export function openAlarmCount(): Target {
  return { query: openAlarms(influxql`SELECT count(${ident('state')}) AS ${ident('open')}`, influxql``), alias: 'open' };
}

export function openAlarmList(): Target {
  return { query: openAlarms(influxql`SELECT ${ident('message')}, ${ident('value')}, ${ident('threshold')}`, influxql` GROUP BY "device", "rule", "severity"`), format: 'table' };
}

/** Online devices ÷ devices at the end of the last hour in range, summed over enterprises. */
export function onlineRate(): Target {
  const inner = kpiQuery([
    influxql`last(${ident('devices_online')}) AS ${ident('on')}`, influxql`last(${ident('devices')}) AS ${ident('n')}`,
  ], enterpriseFacts(), 'none');
  return { query: influxql`SELECT sum(${ident('on')}) / sum(${ident('n')}) AS ${ident('online rate')} FROM (${inner} GROUP BY "park", "enterprise")`, alias: 'online rate' };
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
      query: influxql`SELECT count(${ident('seq')}) * ${ms} / ${INTERVAL_MS} AS ${ident('completeness')} FROM ${exactly(kinds)} WHERE ${scope([tagIn('device', ids.sort())])} GROUP BY time(${INTERVAL}), "device" fill(0)`,
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
    'The whole zone at a glance: today\'s comprehensive energy, carbon, energy per 10,000 yuan and the enterprises ranked (hourly KPI facts), device online and data completeness rates, open alarms; electrical power by workshop main meter; devices online (last device_status); data arriving per device.',
    undefined);
  const kgce = (extra: Fragment[] = []) => [influxql`sum(${ident('kgce')}) / 1000 AS ${ident('tce')}`, ...extra];
  return addPanels(d, [
    row('Today: energy, carbon, output value, data'),
    statPanel({
      title: 'Comprehensive energy today', w: 4, h: 5, timeFrom: TODAY, minInterval: KPI_MIN_INTERVAL,
      description: 'Standard coal equivalent (GB/T 2589-2020) of all carriers of the selected enterprises\' main meters, today so far, from the hourly KPI facts (kpi_hourly).',
      unit: 'suffix: tce', decimals: 2, thresholds: thresholds([null, 'green']),
      targets: [{ query: kpiQuery(kgce(), enterpriseFacts(), 'none'), alias: 'tce' }],
    }),
    statPanel({
      title: 'Carbon today', w: 4, h: 5, timeFrom: TODAY, minInterval: KPI_MIN_INTERVAL,
      description: 'CO2 of electricity (dated grid factor) and fuels today so far, factors from config/standards.yaml.',
      unit: 'suffix: tCO2', decimals: 2, thresholds: thresholds([null, 'green']),
      targets: [{ query: kpiQuery([influxql`sum(${ident('kgco2')}) / 1000 AS ${ident('tCO2')}`], enterpriseFacts(), 'none'), alias: 'tCO2' }],
    }),
    statPanel({
      title: 'Energy per 10,000 yuan of output today', w: 4, h: 5, timeFrom: TODAY, minInterval: KPI_MIN_INTERVAL,
      description: 'Comprehensive energy ÷ output value (good output × unit price, config/production.yaml) of the enterprises with configured output, today so far. Amber above 0.5, red above 1 tce/10⁴ yuan.',
      unit: 'suffix: tce/10⁴ yuan', decimals: 3, thresholds: upperLimits(0.5, 1),
      targets: [{ query: kpiQuery([ratioOfSums('kgce_valued', 'output_value_yuan', 'intensity', 10)], enterpriseFacts(), 'none'), alias: 'intensity' }],
    }),
    statPanel({
      title: 'Device online rate', w: 4, h: 5, minInterval: KPI_MIN_INTERVAL,
      description: 'Devices whose last status at the end of the last hour in range is online ÷ devices (digitised-workshop device online rate).',
      unit: 'percentunit', decimals: 1, min: 0, max: 1, thresholds: thresholds([null, 'red'], [0.9, 'orange'], [0.98, 'green']),
      targets: [onlineRate()],
    }),
    statPanel({
      title: 'Data completeness today', w: 4, h: 5, timeFrom: TODAY, minInterval: KPI_MIN_INTERVAL,
      description: 'Readings received ÷ readings expected from each device\'s reporting interval, today so far (data collection completeness rate).',
      unit: 'percentunit', decimals: 1, min: 0, max: 1, thresholds: thresholds([null, 'red'], [0.9, 'orange'], [0.99, 'green']),
      targets: [{ query: kpiQuery([ratioOfSums('samples_received', 'samples_expected', 'completeness')], enterpriseFacts(), 'none'), alias: 'completeness' }],
    }),
    statPanel({
      title: 'Open alarms', w: 4, h: 5, noValue: '0',
      description: `Alarms raised and not cleared (last event of each rule and device within ${ALARM_LOOKBACK} before the end of the range is a raise).`,
      unit: 'short', decimals: 0, thresholds: thresholds([null, 'green'], [1, 'red']),
      targets: [openAlarmCount()],
    }),
    barGaugePanel({
      title: 'Energy today by carrier', w: 8, timeFrom: TODAY, minInterval: KPI_MIN_INTERVAL,
      description: 'Each carrier in standard coal (kgce, GB/T 2589-2020 coefficients), today so far: one scale for electricity, gas, water and steam. Quantities in their own units are on the Energy dashboard.',
      unit: 'suffix: kgce', min: 0, thresholds: thresholds([null, 'green']),
      targets: [coalByCarrier(model, 'none')],
    }),
    tablePanel({
      title: 'Enterprises ranked by energy today', w: 16, timeFrom: TODAY, minInterval: KPI_MIN_INTERVAL, sortDesc: 'tce',
      description: 'Comprehensive energy, carbon and energy per 10,000 yuan of output of each enterprise today so far, highest energy first. Intensity is empty for an enterprise without configured output value.',
      unit: 'none', thresholds: thresholds([null, 'text']),
      overrides: [{ name: 'tce', unit: 'suffix: tce', decimals: 3 }, { name: 'tCO2', unit: 'suffix: tCO2', decimals: 3 }, { name: 'tce per 10k yuan', unit: 'suffix: tce/10⁴ yuan', decimals: 3, thresholds: upperLimits(0.5, 1) }],
      targets: [{
        query: kpiQuery(kgce([
          influxql`sum(${ident('kgco2')}) / 1000 AS ${ident('tCO2')}`,
          ratioOfSums('kgce_valued', 'output_value_yuan', 'tce per 10k yuan', 10),
        ]), enterpriseFacts(), 'enterprise'),
        format: 'table',
      }],
    }),
    tablePanel({
      title: 'Open alarms by device', w: 24, h: 6,
      description: 'Each open alarm: device, rule, severity, message, the value that tripped and its threshold. Acknowledge with POST /api/v1/alarms/:id/ack.',
      unit: 'none', thresholds: thresholds([null, 'text']),
      targets: [openAlarmList()],
    }),
    row('Power'),
    barGaugePanel({
      title: 'Power now by workshop', w: 8,
      description: 'Last active power of each workshop main meter in the time range (sub-meters such as HVAC are not added).',
      unit: power, minInterval: '10s', min: 0, thresholds: thresholds([null, 'green']),
      targets: [{ query: influxql`SELECT last(${ident('power')}) AS ${ident('power')} FROM ${ident('electricity_meter')} WHERE ${mainScope} GROUP BY "workshop", "device"`, alias: '$tag_workshop' }],
    }),
    timeSeriesPanel({
      title: 'Power by workshop', w: 16, stacked: true,
      description: 'Mean active power of each workshop main meter, stacked: the zone total on top.',
      unit: power, minInterval: '10s', min: 0, thresholds: thresholds([null, 'green']),
      targets: [{ query: influxql`SELECT mean(${ident('power')}) AS ${ident('power')} FROM ${ident('electricity_meter')} WHERE ${mainScope} GROUP BY time(${INTERVAL}), "workshop", "device" fill(null)`, alias: '$tag_workshop' }],
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
      targets: [{ query: influxql`SELECT count(${ident('seq')}) AS ${ident('readings')} FROM ${from(kinds)} WHERE ${scope()} GROUP BY time(${INTERVAL}), "device" fill(0)`, alias: '$tag_device' }],
    }),
    tablePanel({
      title: 'Last reading per device', w: 8,
      description: 'Time and sequence number of the last reading stored for each device in the range.',
      unit: 'none', thresholds: thresholds([null, 'text']),
      targets: [{ query: influxql`SELECT last(${ident('seq')}) AS ${ident('seq')} FROM ${from(kinds)} WHERE ${scope()} GROUP BY "device"`, format: 'table' }],
    }),
    timeSeriesPanel({
      title: 'Data completeness per device', w: 24,
      description: 'Readings stored ÷ readings expected from each device\'s reporting interval, per interval (the digitised-workshop data collection completeness). The last, partial interval reads low.',
      unit: 'percentunit', minInterval: '1m', min: 0, thresholds: thresholds([null, 'red'], [0.9, 'orange'], [0.99, 'green']),
      targets: completeness(model),
    }),
  ]).build();
}
