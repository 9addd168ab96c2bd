/**
 * What every dashboard shares: the datasource (uid pinned here and in
 * provisioning/datasources/influxdb.yaml), units from the park model, the chained template
 * variables, panel defaults and the query helpers over dashboards/influxql.ts; queries are
 * core Fragments until `targets` renders them for Grafana.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import { ALARM_EVENTS_MEASUREMENT } from '../core/alarms/events.ts';
import { exactly, ident, influxql, join, type Fragment } from '../core/influx/influxql.ts';
import type { DeviceModel, ParkModel } from '../core/model.ts';
import { and, grafanaQuery, INTERVAL, tagMatchesVariable, TIME_FILTER, VARIABLES, type VariableName } from './influxql.ts';
import { InfluxQueryBuilder, type ResultFormat } from './query.ts';

/** Must equal `uid` in provisioning/datasources/influxdb.yaml (a test checks it). */
export const DATASOURCE_UID = 'smartpark-influxdb';
export const DATASOURCE: dashboard.DataSourceRef = { type: 'influxdb', uid: DATASOURCE_UID };

export { VARIABLES, type VariableName };

// ------------------------------------------------------------------ units

/** Grafana unit ids for the park model's unit symbols; others become a custom suffix. */
const GRAFANA_UNITS: Readonly<Record<string, string>> = {
  degC: 'celsius', kW: 'kwatt', kWh: 'kwatth', m3: 'm3', t: 'masst', kPa: 'pressurekpa', Pa: 'pressurepa',
  bar: 'pressurebar', '%': 'percent', '%RH': 'humidity', rpm: 'rotrpm', m2: 'areaM2', '1': 'short', A: 'amp', m: 'lengthm',
};
const SUFFIXES: Readonly<Record<string, string>> = { m3: 'm³', m2: 'm²', '1/min': '/min', '1/m3': '/m³' };

export function grafanaUnit(symbol: string | undefined): string {
  if (symbol === undefined) return 'none';
  const known = GRAFANA_UNITS[symbol];
  if (known) return known;
  const pretty = symbol.replace(/m3/g, 'm³').replace(/m2/g, 'm²').replace(/cm3/g, 'cm³');
  return `suffix: ${SUFFIXES[symbol] ?? pretty}`;
}

/** The Grafana unit of a metric of a kind, from the park model (throws on an unknown metric). */
export function metricUnit(model: ParkModel, kind: string, metric: string): string {
  const def = model.kinds.get(kind)?.metrics.get(metric);
  if (!def) throw new RangeError(`metric ${kind}.${metric} is not in the park model`);
  return grafanaUnit(def.unit);
}

/** A rated figure of a kind (default for its devices), from the park model. */
export function rated(model: ParkModel, kind: string, key: string): number {
  const v = model.kinds.get(kind)?.rated[key];
  if (v === undefined) throw new RangeError(`rated figure ${kind}.${key} is not in the park model`);
  return v;
}

// ------------------------------------------------------------------ thresholds and mappings

export type Step = [value: number | null, color: string];

export function thresholds(...steps: Step[]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

/** Green below `warn`, orange from `warn`, red from `alarm`. */
export const upperLimits = (warn: number, alarm: number) => thresholds([null, 'green'], [warn, 'orange'], [alarm, 'red']);
/** Red below `lo`, green inside [lo, hi), red from `hi`: a band such as 2–8 °C. */
export const band = (lo: number, hi: number) => thresholds([null, 'red'], [lo, 'green'], [hi, 'red']);
/** No limit applies: one colour (a panel still states its thresholds explicitly). */
export const noLimit = () => thresholds([null, 'green']);

export const STATE_COLOURS: Readonly<Record<string, string>> = {
  running: 'green', idle: 'yellow', stopped: 'text', fault: 'red', online: 'green', offline: 'red',
};

export function stateMappings(values: readonly string[], colours: Readonly<Record<string, string>> = STATE_COLOURS): dashboard.ValueMap[] {
  const options: Record<string, dashboard.ValueMappingResult> = {};
  values.forEach((v, i) => { options[v] = { text: v, color: colours[v] ?? PALETTE[i % PALETTE.length]!, index: i }; });
  return [{ type: dashboard.MappingType.ValueToText, options }];
}
const PALETTE = ['blue', 'purple', 'orange', 'green', 'yellow', 'red', 'text'];

/** The values of an enum metric, from the park model. */
export function enumValues(model: ParkModel, kind: string, metric: string): readonly string[] {
  const v = model.kinds.get(kind)?.metrics.get(metric)?.values;
  if (!v) throw new RangeError(`metric ${kind}.${metric} is not an enum of the park model`);
  return v;
}

// ------------------------------------------------------------------ variables

/**
 * park → enterprise → workshop → device, each `SHOW TAG VALUES` over the dashboard's
 * measurements, filtered by the variables before it; multi-value with All, refreshed on load.
 */
export function variables(measurements: readonly string[] | undefined, deviceMeasurements = measurements): dashboard.QueryVariableBuilder[] {
  return VARIABLES.map((name, i) => {
    const m = name === 'device' ? deviceMeasurements : measurements;
    const before = VARIABLES.slice(0, i).map((v) => tagMatchesVariable(v, v));
    const fromClause = m ? influxql` FROM ${exactly(m)}` : influxql``;
    const whereClause = before.length ? influxql` WHERE ${and(before)}` : influxql``;
    const query = grafanaQuery(influxql`SHOW TAG VALUES${fromClause} WITH KEY = ${ident(name)}${whereClause}`);
    return new dashboard.QueryVariableBuilder(name)
      .label(name[0]!.toUpperCase() + name.slice(1))
      .datasource(DATASOURCE)
      .query(query)
      .refresh(dashboard.VariableRefresh.OnDashboardLoad)
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .current({ selected: true, text: ['All'], value: ['$__all'] });
  });
}

/** `$timeFilter AND "park" =~ /^$park$/ AND ... AND "device" =~ /^$device$/` (and any extra conditions). */
export function scope(extra: readonly Fragment[] = [], vars: readonly VariableName[] = VARIABLES): Fragment {
  return and([TIME_FILTER, ...vars.map((v) => tagMatchesVariable(v, v)), ...extra]);
}

// ------------------------------------------------------------------ queries

export interface Target {
  query: Fragment;
  alias?: string;
  format?: ResultFormat;
}

export function targets(list: readonly Target[]): InfluxQueryBuilder[] {
  return list.map((t, i) => {
    const b = new InfluxQueryBuilder(DATASOURCE, grafanaQuery(t.query)).refId(String.fromCharCode(65 + i));
    if (t.alias) b.alias(t.alias);
    if (t.format) b.resultFormat(t.format);
    return b;
  });
}

/**
 * `SELECT mean("f") AS "f", ... FROM "kind" WHERE <scope> GROUP BY time($__interval), "device" fill(null)`:
 * the common time series of numeric metrics, one series per device and field.
 */
export function meanByDevice(kind: string, fields: readonly string[], extra: readonly Fragment[] = []): Target {
  const sel = join(fields.map((f) => influxql`mean(${ident(f)}) AS ${ident(f)}`));
  return {
    query: influxql`SELECT ${sel} FROM ${ident(kind)} WHERE ${scope(extra)} GROUP BY time(${INTERVAL}), "device" fill(null)`,
    alias: fields.length > 1 ? '$tag_device $col' : '$tag_device',
  };
}

/** One measurement by name, or several as a regex. */
export function from(kinds: readonly string[]): Fragment {
  return kinds.length === 1 ? ident(kinds[0]!) : exactly(kinds);
}

/** Last state (enum/string field) per interval and device, carried forward: for state timelines. */
export function stateByDevice(kinds: readonly string[], field: string): Target {
  return {
    query: influxql`SELECT last(${ident(field)}) AS ${ident(field)} FROM ${from(kinds)} WHERE ${scope()} GROUP BY time(${INTERVAL}), "device" fill(previous)`,
    alias: '$tag_device',
  };
}

/** Devices of the model by kind (for device lists in queries, e.g. main meters). */
export function devicesOf(model: ParkModel, pred: (d: DeviceModel) => boolean): DeviceModel[] {
  return [...model.devices.values()].filter(pred).sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Sub-meters sit behind a workshop's main meter and must not be added to it. Until the KPI
 * configuration (subMeters in config/production.yaml) is shared through core, the park model's
 * convention is used, the same one the simulators document: a meter whose id or name says HVAC
 * measures the air handling only.
 */
export function isSubMeter(d: DeviceModel): boolean {
  return /hvac/i.test(d.id) || /hvac/i.test(d.name);
}

/** Workshop-level meters of a kind that are not sub-meters: one per workshop and carrier. */
export function mainMeters(model: ParkModel, kind: string): DeviceModel[] {
  return devicesOf(model, (d) => d.kind.id === kind && d.line === undefined && !isSubMeter(d));
}

// ------------------------------------------------------------------ panels

export interface PanelBase {
  title: string;
  description: string;
  unit: string;
  thresholds: dashboard.ThresholdsConfigBuilder;
  targets: readonly Target[];
  /** Smallest GROUP BY interval (Grafana's "Min interval"): the reporting interval of the data. */
  minInterval?: string;
  w?: number;
  h?: number;
  min?: number;
  max?: number;
  decimals?: number;
  /** Shown when the query returns nothing (e.g. `0` for a count). */
  noValue?: string;
  /** Panel time override (Grafana "Relative time"), e.g. `now/d` for today so far. */
  timeFrom?: string;
  /** Panel time shift (Grafana "Time shift"), e.g. `1d`: the same range a day earlier. */
  timeShift?: string;
  /** Per-column display settings of a multi-column panel. */
  overrides?: readonly { name: string; unit?: string; decimals?: number; thresholds?: dashboard.ThresholdsConfigBuilder }[];
}

function base<T extends { noValue(v: string): T; title(t: string): T; description(d: string): T; datasource(d: dashboard.DataSourceRef): T; unit(u: string): T; thresholds(t: dashboard.ThresholdsConfigBuilder): T; targets(t: InfluxQueryBuilder[]): T; height(h: number): T; span(w: number): T; interval(i: string): T; min(m: number): T; max(m: number): T; decimals(d: number): T }>(b: T, p: PanelBase): T {
  b.title(p.title).description(p.description).datasource(DATASOURCE).unit(p.unit).thresholds(p.thresholds)
    .targets(targets(p.targets)).height(p.h ?? 8).span(p.w ?? 12);
  if (p.minInterval) b.interval(p.minInterval);
  if (p.min !== undefined) b.min(p.min);
  if (p.max !== undefined) b.max(p.max);
  if (p.decimals !== undefined) b.decimals(p.decimals);
  if (p.noValue !== undefined) b.noValue(p.noValue);
  const extra = b as unknown as { timeFrom(t: string): void; timeShift(t: string): void; overrideByName(n: string, v: dashboard.DynamicConfigValue[]): void };
  if (p.timeFrom) extra.timeFrom(p.timeFrom);
  if (p.timeShift) extra.timeShift(p.timeShift);
  for (const o of p.overrides ?? []) {
    const props: dashboard.DynamicConfigValue[] = [];
    if (o.unit) props.push({ id: 'unit', value: o.unit });
    if (o.decimals !== undefined) props.push({ id: 'decimals', value: o.decimals });
    if (o.thresholds) props.push({ id: 'thresholds', value: o.thresholds.build() });
    extra.overrideByName(o.name, props);
  }
  return b;
}

export interface TimeSeriesPanel extends PanelBase {
  /** Draw the thresholds (a band or limit lines) on the graph. */
  showThresholds?: common.GraphThresholdsStyleMode;
  bars?: boolean;
  stacked?: boolean;
}

export function timeSeriesPanel(p: TimeSeriesPanel): timeseries.PanelBuilder {
  const b = base(new timeseries.PanelBuilder(), p)
    .lineWidth(1).fillOpacity(p.bars ? 80 : 10).spanNulls(false)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).calcs([]))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.None))
    .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(p.showThresholds ?? common.GraphThresholdsStyleMode.Off));
  if (p.bars) b.drawStyle(common.GraphDrawStyle.Bars);
  if (p.stacked) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return b;
}

export interface StatePanel extends PanelBase {
  mappings: dashboard.ValueMap[];
}

export function stateTimelinePanel(p: StatePanel): statetimeline.PanelBuilder {
  return base(new statetimeline.PanelBuilder(), p)
    .mappings(p.mappings).showValue(common.VisibilityMode.Auto).mergeValues(true).rowHeight(0.9)
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds))
    .legend(new common.VizLegendOptionsBuilder().showLegend(false).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).calcs([]));
}

export interface StatPanel extends PanelBase {
  calc?: 'lastNotNull' | 'sum' | 'mean';
  mappings?: dashboard.ValueMap[];
}

export function statPanel(p: StatPanel): stat.PanelBuilder {
  const b = base(new stat.PanelBuilder(), p)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs([p.calc ?? 'lastNotNull']).values(false))
    .colorMode(common.BigValueColorMode.Value).graphMode(common.BigValueGraphMode.None)
    .justifyMode(common.BigValueJustifyMode.Auto).textMode(common.BigValueTextMode.ValueAndName);
  if (p.mappings) b.mappings(p.mappings);
  return b;
}

export function barGaugePanel(p: StatPanel): bargauge.PanelBuilder {
  return base(new bargauge.PanelBuilder(), p)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs([p.calc ?? 'lastNotNull']).values(false))
    .displayMode(common.BarGaugeDisplayMode.Gradient).orientation(common.VizOrientation.Horizontal)
    .showUnfilled(true);
}

export interface TablePanel extends StatPanel {
  /** Column to sort by, descending. */
  sortDesc?: string;
}

export function tablePanel(p: TablePanel): table.PanelBuilder {
  const b = base(new table.PanelBuilder(), p)
    .showHeader(true).cellHeight(common.TableCellHeight.Sm).align(common.FieldTextAlignment.Auto).inspect(false);
  if (p.mappings) b.mappings(p.mappings);
  if (p.sortDesc) b.sortBy([new common.TableSortByFieldStateBuilder().displayName(p.sortDesc).desc(true)]);
  return b;
}

/** A dashboard with the shared settings: tags, timezone, refresh, the chained variables. */
export function dashboardBase(uid: string, title: string, description: string, measurements: readonly string[] | undefined, deviceMeasurements = measurements): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid).description(description).tags([DASHBOARD_TAG, 'generated'])
    .timezone('browser').time({ from: 'now-6h', to: 'now' }).refresh('1m').readonly()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .variables(variables(measurements, deviceMeasurements))
    .annotations(alarmAnnotations())
    .links([dashboardLinks()]);
}

/** The tag every generated dashboard carries; the link below lists the others by it. */
export const DASHBOARD_TAG = 'smart-park';

/** A dropdown of the other smart-park dashboards, keeping the time range and the chosen park/enterprise/workshop. */
export function dashboardLinks(): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder('Smart park dashboards')
    .type(dashboard.DashboardLinkType.Dashboards).tags([DASHBOARD_TAG]).asDropdown(true)
    .includeVars(true).keepTime(true).targetBlank(false).icon('external link').tooltip('');
}

/** The name Grafana asks the importer to bind to one of their InfluxDB datasources. */
export const DS_INPUT = 'DS_INFLUXDB';

/**
 * The variant for importing into an existing Grafana (Dashboards → Import), as Grafana's own
 * "export for sharing externally" writes it: the pinned datasource uid becomes `${DS_INFLUXDB}`,
 * declared in `__inputs`, so the importer picks their datasource instead of editing JSON by hand.
 */
export function forImport(d: dashboard.Dashboard, grafanaVersion: string): Record<string, unknown> {
  const swap = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.type === 'influxdb' && o.uid === DATASOURCE_UID && Object.keys(o).length === 2) return { type: 'influxdb', uid: `\${${DS_INPUT}}` };
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, swap(x)]));
    }
    return v;
  };
  const panelTypes = [...new Set((d.panels ?? []).map((p) => (p as { type?: string }).type).filter((t): t is string => !!t))].sort();
  return {
    __inputs: [{ name: DS_INPUT, label: 'InfluxDB', description: 'the InfluxDB (InfluxQL) datasource holding the smartpark database', type: 'datasource', pluginId: 'influxdb', pluginName: 'InfluxDB' }],
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: grafanaVersion },
      { type: 'datasource', id: 'influxdb', name: 'InfluxDB', version: '1.0.0' },
      ...panelTypes.map((t) => ({ type: 'panel', id: t, name: t, version: '' })),
    ],
    ...(swap(d) as Record<string, unknown>),
  };
}

// ------------------------------------------------------------------ annotations

/**
 * The InfluxDB datasource's annotation target (raw InfluxQL): Grafana reads `query` and maps the
 * columns named here to the annotation's text and tags. The SDK types a target with the four
 * fields of Grafana's built-in annotations only, and Grafana's schema leaves the rest to the
 * datasource, as for panel queries.
 */
export interface InfluxAnnotationTarget extends dashboard.AnnotationTarget {
  refId: string;
  query: string;
  rawQuery: true;
  fromAnnotations: true;
  textEditor: true;
  textColumn: string;
  tagsColumn: string;
  titleColumn: string;
  timeEndColumn: string;
}

/** Alarm events (alarm_events) of the devices the variables select: raised ones red, cleared ones green. */
export function alarmAnnotations(): cog.Builder<dashboard.AnnotationQuery>[] {
  return (['raised', 'cleared'] as const).map((state) => {
    const where = scope([influxql`"state" = ${state}`]);
    const target: InfluxAnnotationTarget = {
      refId: 'Anno', limit: 500, matchAny: false, tags: [], type: 'tags',
      query: grafanaQuery(influxql`SELECT ${ident('message')} AS "text", ${ident('rule')}, ${ident('severity')}, ${ident('device')} FROM ${ident(ALARM_EVENTS_MEASUREMENT)} WHERE ${where}`),
      rawQuery: true, fromAnnotations: true, textEditor: true,
      textColumn: 'text', tagsColumn: 'rule,severity,device', titleColumn: '', timeEndColumn: '',
    };
    const built: dashboard.AnnotationQuery = {
      name: state === 'raised' ? 'Alarms raised' : 'Alarms cleared', datasource: DATASOURCE, enable: true, hide: false,
      iconColor: state === 'raised' ? 'red' : 'green', target,
    };
    return { build: () => structuredClone(built) };
  });
}

/** Adds panels with ids 1..n in order, and rows as they come. */
export function addPanels(d: dashboard.DashboardBuilder, items: readonly (dashboard.RowBuilder | { id(n: number): unknown; build(): dashboard.Panel })[]): dashboard.DashboardBuilder {
  let id = 0;
  for (const it of items) {
    if (it instanceof dashboard.RowBuilder) d.withRow(it.id(++id));
    else {
      it.id(++id);
      d.withPanel(it as unknown as { build(): dashboard.Panel });
    }
  }
  return d;
}

export const row = (title: string) => new dashboard.RowBuilder(title);
