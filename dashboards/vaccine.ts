/** Vaccine plant: cold rooms (2–8 °C), cleanroom climate and pressure cascade, HVAC share, batch phases. */
import * as common from '@grafana/grafana-foundation-sdk/common';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { ident, influxql } from '../core/influx/influxql.ts';
import type { ParkModel } from '../core/model.ts';
import { oeePanels, perUnitPanels, productsOfKinds, type KpiData } from './kpi.ts';
import {
  addPanels, band, dashboardBase, devicesOf, enumValues, isSubMeter, meanByDevice, metricUnit, rated, row, scope,
  stateByDevice, stateMappings, stateTimelinePanel, thresholds, timeSeriesPanel, upperLimits, type Target,
} from './common.ts';
import { INTERVAL, tagIn, TIME_FILTER } from './influxql.ts';
import { LIMITS } from './limits.ts';

/** Kinds only a vaccine plant has: they choose the park/enterprise/workshop the variables offer. */
export const VACCINE_KINDS = ['bioreactor', 'freeze_dryer', 'cleanroom_ahu', 'pure_steam_generator', 'filling_line'] as const;
/** Kinds whose devices the device variable offers (cold rooms are shared with food plants). */
export const VACCINE_DEVICE_KINDS = [...VACCINE_KINDS, 'cold_room'] as const;

/**
 * HVAC share of the workshop's electricity: sum over HVAC sub-meters ÷ sum over main meters of
 * the mean power per interval, in one InfluxQL statement (two subqueries merged by time).
 */
export function hvacShare(model: ParkModel): Target {
  const workshops = new Set(devicesOf(model, (d) => (VACCINE_KINDS as readonly string[]).includes(d.kind.id)).map((d) => `${d.park}/${d.enterprise}/${d.workshop}`));
  const meters = devicesOf(model, (d) => d.kind.id === 'electricity_meter' && d.line === undefined && workshops.has(`${d.park}/${d.enterprise}/${d.workshop}`));
  const hvac = meters.filter(isSubMeter).map((d) => d.id);
  const main = meters.filter((d) => !isSubMeter(d)).map((d) => d.id);
  if (!hvac.length || !main.length) throw new RangeError('the vaccine workshops need an HVAC sub-meter and a main meter');
  const vars = ['park', 'enterprise', 'workshop'] as const;
  const part = (alias: string, ids: string[]) => influxql`(SELECT mean(${ident('power')}) AS ${ident(alias)} FROM ${ident('electricity_meter')} WHERE ${scope([tagIn('device', ids)], vars)} GROUP BY time(${INTERVAL}), "device")`;
  return {
    query: influxql`SELECT sum(${ident('hvac')}) / sum(${ident('main')}) AS ${ident('hvac_share')} FROM ${part('hvac', hvac)}, ${part('main', main)} WHERE ${TIME_FILTER} GROUP BY time(${INTERVAL})`,
    alias: 'HVAC share',
  };
}

export function vaccineDashboard(model: ParkModel, { standards, production }: KpiData): dashboard.Dashboard {
  const products = productsOfKinds(model, production, VACCINE_KINDS);
  const lowC = rated(model, 'cold_room', 'lowC');
  const highC = rated(model, 'cold_room', 'highC');
  const bioSp = rated(model, 'bioreactor', 'setpointC');
  const tol = LIMITS.bioreactorToleranceC;
  const d = dashboardBase('sp-vaccine', 'Vaccine plant',
    'Live-vaccine workshop: cold rooms against the 2–8 °C band, cleanroom temperature, humidity and pressure cascade, HVAC share of electricity, kWh per 1,000 doses and OEE (hourly KPI facts), bioreactor and freeze-dryer phases.',
    VACCINE_KINDS, VACCINE_DEVICE_KINDS);
  return addPanels(d, [
    row('Cold chain'),
    timeSeriesPanel({
      title: 'Cold room temperature', w: 24,
      description: `Cold room air temperature; the green band is the ${lowC}–${highC} °C storage range, time outside it is an excursion.`,
      unit: metricUnit(model, 'cold_room', 'temp'), minInterval: '10s',
      thresholds: band(lowC, highC), showThresholds: common.GraphThresholdsStyleMode.LineAndArea,
      targets: [meanByDevice('cold_room', ['temp'])],
    }),
    row('Cleanrooms'),
    timeSeriesPanel({
      title: 'Cleanroom temperature',
      description: `Room temperature served by each AHU; band ${LIMITS.cleanroomC.lo}–${LIMITS.cleanroomC.hi} °C.`,
      unit: metricUnit(model, 'cleanroom_ahu', 'room_temp'), minInterval: '5s',
      thresholds: band(LIMITS.cleanroomC.lo, LIMITS.cleanroomC.hi),
      targets: [meanByDevice('cleanroom_ahu', ['room_temp'])],
    }),
    timeSeriesPanel({
      title: 'Cleanroom humidity',
      description: `Relative humidity of the rooms served by each AHU; band ${LIMITS.cleanroomRh.lo}–${LIMITS.cleanroomRh.hi} %RH.`,
      unit: metricUnit(model, 'cleanroom_ahu', 'humidity'), minInterval: '5s', min: 0, max: 100,
      thresholds: band(LIMITS.cleanroomRh.lo, LIMITS.cleanroomRh.hi),
      targets: [meanByDevice('cleanroom_ahu', ['humidity'])],
    }),
    timeSeriesPanel({
      title: 'Pressure cascade', w: 24,
      description: 'Differential pressure B→C, C→D and D→corridor per AHU; red below 10 Pa (cascade lost), amber above 15 Pa. An AHU serving C/D only reports dp_b_c = 0.',
      unit: metricUnit(model, 'cleanroom_ahu', 'dp_b_c'), minInterval: '5s',
      thresholds: thresholds([null, 'red'], [LIMITS.cascadePa.lo, 'green'], [LIMITS.cascadePa.hi, 'orange']),
      showThresholds: common.GraphThresholdsStyleMode.Dashed,
      targets: [meanByDevice('cleanroom_ahu', ['dp_b_c', 'dp_c_d', 'dp_d_out'])],
    }),
    timeSeriesPanel({
      title: 'HVAC share of electricity',
      description: 'HVAC sub-meter power ÷ workshop main meter power, per interval. HVAC is typically the largest consumer of a pharma plant.',
      unit: 'percentunit', minInterval: '10s', min: 0, max: 1,
      thresholds: upperLimits(LIMITS.hvacShare.warn, LIMITS.hvacShare.alarm),
      targets: [hvacShare(model)],
    }),
    timeSeriesPanel({
      title: 'AHU fan and chiller power',
      description: 'Fan and chiller electrical power of each air-handling unit.',
      unit: metricUnit(model, 'cleanroom_ahu', 'fan_power'), minInterval: '5s', min: 0,
      thresholds: thresholds([null, 'green']),
      targets: [meanByDevice('cleanroom_ahu', ['fan_power', 'chiller_power'])],
    }),
    ...(products.length ? [row('Electricity per 1,000 doses and OEE'), ...perUnitPanels(products, standards, 'electricity'), ...oeePanels(products)] : []),
    row('Batches'),
    stateTimelinePanel({
      title: 'Bioreactor phase', h: 5,
      description: 'Batch phase of each bioreactor: CIP, SIP, inoculation, culture, harvest, idle.',
      unit: 'none', minInterval: '5s', thresholds: thresholds([null, 'text']), mappings: stateMappings(enumValues(model, 'bioreactor', 'phase')),
      targets: [stateByDevice(['bioreactor'], 'phase')],
    }),
    timeSeriesPanel({
      title: 'Bioreactor culture temperature', h: 5,
      description: `Culture temperature; band ${bioSp} ± ${tol} °C applies during culture (CIP/SIP run far above it).`,
      unit: metricUnit(model, 'bioreactor', 'temp'), minInterval: '5s',
      thresholds: band(bioSp - tol, bioSp + tol),
      targets: [meanByDevice('bioreactor', ['temp'])],
    }),
    stateTimelinePanel({
      title: 'Freeze-dryer phase', h: 5,
      description: 'Cycle phase of each freeze dryer: loading, freezing, primary and secondary drying, unloading, defrost, idle.',
      unit: 'none', minInterval: '5s', thresholds: thresholds([null, 'text']), mappings: stateMappings(enumValues(model, 'freeze_dryer', 'phase')),
      targets: [stateByDevice(['freeze_dryer'], 'phase')],
    }),
    timeSeriesPanel({
      title: 'Freeze-dryer shelf and condenser temperature', h: 5,
      description: 'Shelf and condenser temperature of each freeze dryer; the condenser should be at or below −60 °C while drying.',
      unit: metricUnit(model, 'freeze_dryer', 'shelf_temp'), minInterval: '5s',
      thresholds: thresholds([null, 'blue'], [LIMITS.condenserMaxC, 'green']),
      targets: [meanByDevice('freeze_dryer', ['shelf_temp', 'condenser_temp'])],
    }),
  ]).build();
}
