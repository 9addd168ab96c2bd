/** Ceramic-tile line: kiln zones against set point, gas, output and run state; dryers; presses. */
import * as common from '@grafana/grafana-foundation-sdk/common';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type { ParkModel } from '../core/model.ts';
import { oeePanels, perUnitPanels, productsOfKinds, type KpiData } from './kpi.ts';
import {
  addPanels, band, dashboardBase, enumValues, meanByDevice, metricUnit, rated, row, stateByDevice, stateMappings,
  stateTimelinePanel, thresholds, timeSeriesPanel, upperLimits,
} from './common.ts';
import { LIMITS } from './limits.ts';

export const CERAMIC_KINDS = [
  'ball_mill', 'spray_dryer', 'hydraulic_press', 'tile_dryer', 'glazing_line', 'roller_kiln', 'polishing_line', 'sorting_line',
] as const;

export function ceramicsDashboard(model: ParkModel, { standards, production }: KpiData): dashboard.Dashboard {
  const products = productsOfKinds(model, production, ['roller_kiln']);
  const kiln = 'roller_kiln';
  const capacity = rated(model, kiln, 'capacityM2h');
  const fullGas = capacity * rated(model, kiln, 'gasPerM2M3');
  const sprayGas = rated(model, 'spray_dryer', 'ratedPowderTh') * rated(model, 'spray_dryer', 'gasPerTonPowderM3');
  const strokes = rated(model, 'hydraulic_press', 'ratedStrokesPerMin');
  const dryerSp = rated(model, 'tile_dryer', 'setpointC');
  const runStates = enumValues(model, kiln, 'run_state');
  const d = dashboardBase('sp-ceramics', 'Ceramic-tile line',
    'Porcelain floor-tile lines: energy per m² against the GB 21252 grades, OEE and its factors (hourly KPI facts); roller kiln zones against set point, gas and output, run states; spray dryer and horizontal dryer gas; press strokes.',
    CERAMIC_KINDS);
  return addPanels(d, [
    ...(products.length ? [row('Energy per m² and OEE'), ...perUnitPanels(products, standards, 'kgce'), ...oeePanels(products)] : []),
    row('Roller kiln'),
    timeSeriesPanel({
      title: 'Kiln zone temperatures and firing set point', w: 24,
      description: 'Mean preheat, firing and rapid-cooling zone temperatures and the firing set point per kiln. Band: firing zone 1,150–1,220 °C.',
      unit: metricUnit(model, kiln, 't_firing'), minInterval: '5s',
      thresholds: band(LIMITS.kilnFiringC.lo, LIMITS.kilnFiringC.hi), showThresholds: common.GraphThresholdsStyleMode.Dashed,
      targets: [meanByDevice(kiln, ['t_preheat', 't_firing', 't_cooling', 'sp_firing'])],
    }),
    timeSeriesPanel({
      title: 'Kiln natural gas flow',
      description: `Natural gas to the burners per kiln. Amber above the rated full-load flow (${capacity} m²/h × ${rated(model, kiln, 'gasPerM2M3')} m³/m² = ${fullGas} m³/h).`,
      unit: metricUnit(model, kiln, 'gas_flow'), minInterval: '5s', min: 0,
      thresholds: upperLimits(fullGas, fullGas * 1.2),
      targets: [meanByDevice(kiln, ['gas_flow'])],
    }),
    timeSeriesPanel({
      title: 'Kiln output',
      description: `Fired tiles leaving the kiln. Red below ${LIMITS.outputShare.low * 100} %, amber below ${LIMITS.outputShare.ok * 100} % of the rated ${capacity} m²/h.`,
      unit: metricUnit(model, kiln, 'output_rate'), minInterval: '5s', min: 0,
      thresholds: thresholds([null, 'red'], [capacity * LIMITS.outputShare.low, 'orange'], [capacity * LIMITS.outputShare.ok, 'green']),
      targets: [meanByDevice(kiln, ['output_rate'])],
    }),
    stateTimelinePanel({
      title: 'Kiln run state', w: 24, h: 5,
      description: 'Run state of each kiln (last reported per interval, carried forward).',
      unit: 'none', minInterval: '5s', thresholds: thresholds([null, 'text']), mappings: stateMappings(runStates),
      targets: [stateByDevice([kiln], 'run_state')],
    }),
    row('Dryers'),
    timeSeriesPanel({
      title: 'Spray dryer gas flow',
      description: `Natural gas of the spray dryers. Amber above the rated ${sprayGas} m³/h (rated powder × gas per tonne).`,
      unit: metricUnit(model, 'spray_dryer', 'gas_flow'), minInterval: '5s', min: 0,
      thresholds: upperLimits(sprayGas, sprayGas * 1.2),
      targets: [meanByDevice('spray_dryer', ['gas_flow'])],
    }),
    timeSeriesPanel({
      title: 'Spray dryer outlet temperature',
      description: 'Exhaust temperature of the spray dryers; band 90–110 °C.',
      unit: metricUnit(model, 'spray_dryer', 'outlet_temp'), minInterval: '5s',
      thresholds: band(LIMITS.sprayOutletC.lo, LIMITS.sprayOutletC.hi), showThresholds: common.GraphThresholdsStyleMode.Dashed,
      targets: [meanByDevice('spray_dryer', ['outlet_temp'])],
    }),
    timeSeriesPanel({
      title: 'Horizontal dryer gas flow',
      description: 'Natural gas of the horizontal (tile) dryers after the presses.',
      unit: metricUnit(model, 'tile_dryer', 'gas_flow'), minInterval: '5s', min: 0,
      thresholds: thresholds([null, 'green']),
      targets: [meanByDevice('tile_dryer', ['gas_flow'])],
    }),
    timeSeriesPanel({
      title: 'Horizontal dryer temperature',
      description: `Dryer temperature; band ±10 % around the rated set point ${dryerSp} °C.`,
      unit: metricUnit(model, 'tile_dryer', 'temp'), minInterval: '5s',
      thresholds: band(dryerSp * 0.9, dryerSp * 1.1),
      targets: [meanByDevice('tile_dryer', ['temp'])],
    }),
    row('Presses and line'),
    timeSeriesPanel({
      title: 'Press strokes',
      description: `Strokes per minute of each hydraulic press; amber above the rated ${strokes}/min.`,
      unit: metricUnit(model, 'hydraulic_press', 'stroke_rate'), minInterval: '5s', min: 0,
      thresholds: upperLimits(strokes, strokes * 1.2),
      targets: [meanByDevice('hydraulic_press', ['stroke_rate'])],
    }),
    stateTimelinePanel({
      title: 'Line run states',
      description: 'Run state of every device of the line that reports one (mills, dryers, presses, glazing, kiln, polishing, sorting).',
      unit: 'none', minInterval: '5s', thresholds: thresholds([null, 'text']), mappings: stateMappings(runStates),
      targets: [stateByDevice(CERAMIC_KINDS.filter((k) => model.kinds.get(k)?.metrics.has('run_state')), 'run_state')],
    }),
  ]).build();
}
