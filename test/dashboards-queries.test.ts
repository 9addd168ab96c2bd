/**
 * Every panel query of every generated dashboard, with $timeFilter, $__interval and the template
 * variables substituted as Grafana would (dashboards/interpolate.ts), runs against the real
 * InfluxDB filled through the real broker and ingest by the simulators (14 h of the whole park)
 * and returns the series the panel expects: one per device (or workshop) the panel's measurement,
 * device list and variables select, with values. The template-variable queries return the park
 * model's ids. The KPI panels read the hourly KPI facts the API's rollup writes (api/kpi/rollup.ts,
 * run here over the filled hours); their figures are checked against the KPI engine over the same
 * hours. A window one day earlier is filled too (the period comparison), and a cold room is driven
 * out of its band so that an alarm is open (alarm panels and annotations).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gridFactorFor } from '../core/kpi/standards.ts';
import { deviceTopic } from '../core/contract.ts';
import type { Series } from '../core/influx/client.ts';
import type { DeviceModel } from '../core/model.ts';
import { interpolate, panelInterval, panelTimeRange, type VariableValue } from '../dashboards/interpolate.ts';
import { computeKpis, type KpiDeps } from '../api/kpi/compute.ts';
import { rollupRange } from '../api/kpi/rollup.ts';
import { KPI_MEASUREMENT } from '../core/kpi/facts.ts';
import { resolveScope } from '../api/kpi/scope.ts';
import { loadProduction, loadStandards } from '../core/kpi/config-file.ts';
import { mainMeters } from '../dashboards/common.ts';
import { runFleet } from '../simulators/fleet.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

const HOUR = 3_600_000;
const GENERATED = 'dashboards/generated';
/** Devices that come back online after the backfill (all others end offline, as the fleet stops). */
const ONLINE = ['wm-kiln-1', 'al-cold-1', 'dj-em-main'];
/** Browser width assumed for a panel's resolution when it sets no max data points. */
const SCREEN_PX = 1200;

const DAY = 86_400_000;
/** The cold room driven above its band (device time) until the rule's `for: 5m` raises an alarm. */
const ALARMED = 'al-cold-1';

let p: TestPlatform;
let deps: KpiDeps;
let fromMs = 0;
let toMs = 0;
/** "Now" for panels with a relative time: toMs, or 40 min earlier in the first 40 min of a day (so "today" holds data). */
let viewNowMs = 0;

beforeAll(async () => {
  p = await new TestPlatform().start();
  // today's window ends 10 min ago (room after it for the cold-room excursion in device time) and
  // spans 14 h, so that it holds hours of every shift calendar (the filling line runs 08-20 local)
  const end = Date.now() - 10 * 60_000;
  fromMs = end - 14 * HOUR;
  const fill = async (seed: string, from: number, to: number) => {
    const summary = await runFleet({ model: p.model, url: p.mqttUrl, secrets: p.secrets, seed, backfill: { fromMs: from, toMs: to }, batch: 200 });
    expect(summary.failedDevices).toEqual([]);
    return summary.totals.expectedStored;
  };
  const stored = await fill('dashboards-day-before', end - DAY - 2 * HOUR, end - DAY) + await fill('dashboards', fromMs, end);
  await waitFor('the backfill stored', async () => {
    const res = await p.influx.query('SELECT count("seq") FROM /.*/');
    return (res[0] ?? []).reduce((a, s) => a + Number(s.values[0]?.[1] ?? 0), 0) >= stored;
  }, 90_000, 250);
  // 12 °C for 7 minutes of device time after the backfill: the cold-room rule raises after 5
  const cold = p.model.devices.get(ALARMED)!;
  const c = await p.connect(ALARMED);
  const excursion = Array.from({ length: 15 }, (_, i) => ({ ts: end + 30_000 * (i + 1), metrics: { temp: 12 } }));
  await c.publishAsync(deviceTopic(cold, 'telemetry'), JSON.stringify({ readings: excursion }), { qos: 1 });
  for (const id of ONLINE) {
    const c = await p.connect(id);
    await c.publishAsync(deviceTopic(p.model.devices.get(id)!, 'status'), JSON.stringify({ state: 'online', ts: Date.now() }), { qos: 1, retain: true });
  }
  await waitFor('the online statuses stored', async () => {
    const res = await p.influx.query(`SELECT last("state") FROM "device_status" GROUP BY "device"`);
    return (res[0] ?? []).filter((s) => s.values[0]?.[1] === 'online').length === ONLINE.length;
  }, 20_000, 100);
  await waitFor('the cold-room alarm stored', async () => {
    const res = await p.influx.query(`SELECT count("state") FROM "alarm_events" WHERE "device" = '${ALARMED}' AND "rule" = 'cold-room-temp'`);
    return Number(res[0]?.[0]?.values[0]?.[1] ?? 0) >= 1;
  }, 20_000, 100);
  toMs = Date.now();
  const standards = loadStandards();
  deps = { model: p.model, influx: p.influx, standards, production: loadProduction(p.model, standards) };
  // the rollup the API runs every minute, over the filled hours of both windows
  await rollupRange(deps, end - DAY - 2 * HOUR, end - DAY + 1, toMs);
  await rollupRange(deps, fromMs, toMs, toMs);
  const startOfDay = new Date(toMs).setHours(0, 0, 0, 0);
  viewNowMs = toMs - startOfDay < 40 * 60_000 ? toMs - 40 * 60_000 : toMs;
}, 180_000);

afterAll(async () => {
  await p?.stop();
});

// The committed files Grafana loads (test/dashboards-generated.test.ts proves they are what the code generates).
const dashboards = readdirSync(GENERATED).filter((f) => f.endsWith('.json')).sort()
  .map((file) => ({ file, d: JSON.parse(readFileSync(join(GENERATED, file), 'utf8')) }));

type Vars = Record<string, VariableValue>;

async function run(q: string): Promise<Series[]> {
  const res = await p.influx.query(q);
  expect(res, q).toHaveLength(1);
  return res[0]!;
}

/** Resolves the dashboard's variables in chain order, each at All (or a chosen value), as Grafana does on load. */
async function resolveVariables(d: any, chosen: Record<string, string[]> = {}): Promise<Vars> {
  const vars: Vars = {};
  for (const v of d.templating.list) {
    const q = interpolate(v.query, { fromMs, toMs, intervalMs: 1000, variables: vars });
    const options = [...new Set((await run(q)).flatMap((s) => s.values.map((row) => String(row[1]))))].sort();
    vars[v.name] = { value: chosen[v.name] ?? ['$__all'], options, multi: v.multi, includeAll: v.includeAll };
  }
  return vars;
}

/** Devices of the model a variable query should offer: its FROM kinds, within the earlier variables' options. */
function expectedOptions(query: string, name: string, vars: Vars): string[] {
  const from = /FROM \/\^\(([^)]*)\)\$\//.exec(query)?.[1]?.split('|');
  const devices = [...p.model.devices.values()].filter((d) => (!from || from.includes(d.kind.id))
    && Object.entries(vars).every(([k, v]) => v.options.includes(tagOf(d, k))));
  return [...new Set(devices.map((d) => tagOf(d, name)))].sort();
}

function tagOf(d: DeviceModel, tag: string): string {
  return tag === 'device' ? d.id : String((d as unknown as Record<string, string>)[tag]);
}

/** The devices a panel query selects: its measurements, its device list, the device variable's options. */
function selectedDevices(query: string, vars: Vars): DeviceModel[] {
  const outer = query.replace(/\(SELECT[^)]*\)/g, '');
  const kinds = /FROM "(\w+)"/.exec(query)?.[1] ? [/FROM "(\w+)"/.exec(query)![1]!] : /FROM \/\^\(([^)]*)\)\$\//.exec(outer)?.[1]?.split('|') ?? [];
  const list = /"device" =~ \/\^\(([^)]*)\)\$\//.exec(query)?.[1]?.split('|');
  return [...p.model.devices.values()].filter((d) => kinds.includes(d.kind.id) && (!list || list.includes(d.id))
    && (!query.includes('$device') || vars.device!.options.includes(d.id)));
}

function interpolatePanel(panel: any, query: string, vars: Vars): string {
  const resolution = panel.maxDataPoints ?? Math.round((panel.gridPos.w / 24) * SCREEN_PX);
  const range = panelTimeRange(panel, { fromMs, toMs }, viewNowMs);
  const intervalMs = panelInterval(range.fromMs, range.toMs, resolution, panel.interval);
  const q = interpolate(query, { ...range, intervalMs, variables: vars });
  expect(q, 'every macro and variable substituted').not.toMatch(/\$\w|\[\[/);
  return q;
}

/** The outer statement's GROUP BY clause ('' when only a subquery groups). */
function outerGroupBy(q: string): string {
  const i = q.lastIndexOf('GROUP BY');
  if (i < 0) return '';
  const clause = q.slice(i);
  return clause.replace(/(time|fill)\([^)]*\)/g, '').includes(')') ? '' : clause;
}

const nonNull = (s: Series) => s.values.filter((row) => row.slice(1).some((v) => v !== null)).length;

describe.each(dashboards)('$file', ({ d }) => {
  it('offers the park model\'s ids in its template variables (SHOW TAG VALUES, chained)', async () => {
    const vars = await resolveVariables(d);
    const before: Vars = {};
    for (const v of d.templating.list) {
      expect({ variable: v.name, options: vars[v.name]!.options }).toEqual({ variable: v.name, options: expectedOptions(v.query, v.name, before) });
      expect(vars[v.name]!.options.length, v.name).toBeGreaterThan(0);
      before[v.name] = vars[v.name]!;
    }
  });

  it('answers every panel query with the series the panel expects', async () => {
    const vars = await resolveVariables(d);
    const panels = d.panels.filter((x: any) => x.type !== 'row');
    for (const panel of panels) {
      for (const t of panel.targets) {
        const q = interpolatePanel(panel, t.query, vars);
        const series = await run(q);
        const what = `${panel.title}: ${q}`;
        expect(series.length, what).toBeGreaterThan(0);
        for (const s of series) expect(nonNull(s), `${what} → ${s.name} ${JSON.stringify(s.tags)}`).toBeGreaterThan(0);
        for (const tag of [...(t.alias ?? '').matchAll(/\$tag_(\w+)/g)].map((m) => m[1]!)) {
          for (const s of series) expect(s.tags?.[tag], `${what}: alias needs tag ${tag}`).toBeTruthy();
        }
        const groupBy = outerGroupBy(q);
        const expected = selectedDevices(t.query, vars);
        if (groupBy.includes('"device"') && expected.length) {
          expect([...new Set(series.map((s) => s.tags!.device))].sort(), what).toEqual(expected.map((x) => x.id).sort());
        }
        if (groupBy.includes('"workshop"') && expected.length) {
          expect([...new Set(series.map((s) => s.tags!.workshop))].sort(), what).toEqual([...new Set(expected.map((x) => x.workshop))].sort());
        }
        checkValues(panel, series, what);
      }
    }
  }, 60_000);
});

/** Panel-specific outcomes beyond "the right series with values". */
function checkValues(panel: any, series: Series[], what: string): void {
  const numbers = (col: string) => series.flatMap((s) => s.values.map((row) => row[s.columns.indexOf(col)])).filter((v): v is number => typeof v === 'number');
  const all = p.model.devices.size;
  switch (panel.title) {
    case 'Devices online':
      expect(numbers('online'), what).toEqual([ONLINE.length]);
      break;
    case 'Devices offline':
      expect(numbers('offline'), what).toEqual([all - ONLINE.length]);
      break;
    case 'Device status': {
      const state = Object.fromEntries(series.map((s) => [s.tags!.device, s.values[0]![1]]));
      expect(Object.keys(state).length, what).toBe(all);
      for (const [id, st] of Object.entries(state)) expect({ id, st }).toEqual({ id, st: ONLINE.includes(id) ? 'online' : 'offline' });
      break;
    }
    case 'HVAC share of electricity': {
      const v = numbers('hvac_share');
      expect(v.length, what).toBeGreaterThan(10);
      for (const x of v) expect(x, what).toBeGreaterThan(0.05);
      for (const x of v) expect(x, what).toBeLessThan(1);
      break;
    }
    case 'Kiln zone temperatures and firing set point':
      expect(series[0]!.columns, what).toEqual(['time', 't_preheat', 't_firing', 't_cooling', 'sp_firing']);
      expect(Math.max(...numbers('sp_firing')), what).toBeGreaterThan(1100);
      break;
    case 'Cold room temperature':
      for (const x of numbers('temp')) expect(x, what).toBeGreaterThan(-5);
      for (const x of numbers('temp')) expect(x, what).toBeLessThan(15);
      break;
    case 'Data completeness per device':
      // the simulated park drops nothing: every full interval holds exactly the expected readings
      for (const s of series) {
        const v = s.values.map((row) => row[1]).filter((x): x is number => typeof x === 'number' && x > 0).sort((a, b) => a - b);
        expect(v[Math.floor(v.length / 2)], `${what} → ${s.tags!.device}`).toBeCloseTo(1, 6);
      }
      break;
    case 'Open alarms':
      expect(numbers('open').length, what).toBe(1);
      expect(numbers('open')[0], what).toBeGreaterThanOrEqual(1);
      break;
    case 'Open alarms by device':
      expect(series.some((s) => s.tags!.device === ALARMED && s.tags!.rule === 'cold-room-temp' && s.tags!.severity === 'critical'), what).toBe(true);
      break;
    case 'Comprehensive energy today':
    case 'Carbon today':
    case 'Same range a day earlier':
    case 'Comprehensive energy in range':
      expect(numbers(series[0]!.columns[1]!)[0], what).toBeGreaterThan(0);
      break;
    case 'Device online rate':
    case 'Data completeness today':
      for (const x of numbers(series[0]!.columns[1]!)) expect(x, what).toBeGreaterThan(0);
      for (const x of numbers(series[0]!.columns[1]!)) expect(x, what).toBeLessThanOrEqual(1);
      break;
    case 'Enterprises ranked by energy today':
      expect(series.map((s) => s.tags!.enterprise).sort(), what).toEqual(p.model.parks.flatMap((x) => x.enterprises.map((e) => e.id)).sort());
      break;
    case 'Pressure cascade':
      expect(series[0]!.columns, what).toEqual(['time', 'dp_b_c', 'dp_c_d', 'dp_d_out']);
      break;
    case 'Electricity by workshop':
    case 'Natural gas by workshop':
      for (const x of numbers(series[0]!.columns[1]!)) expect(x, what).toBeGreaterThanOrEqual(0);
      expect(numbers(series[0]!.columns[1]!).some((x) => x > 0), what).toBe(true);
      break;
    default:
      if (panel.type === 'state-timeline') {
        const allowed = Object.keys(panel.fieldConfig.defaults.mappings[0].options);
        for (const s of series) for (const row of s.values) if (row[1] !== null) expect(allowed, what).toContain(row[1]);
      }
  }
}

describe('a single selected device', () => {
  it('narrows a panel to that device, its value regex-escaped as Grafana does', async () => {
    const { d } = dashboards.find((x) => x.file === 'ceramic-tile-line.json')!;
    const vars = await resolveVariables(d, { device: ['wm-kiln-1'] });
    const panel = d.panels.find((x: any) => x.title === 'Kiln natural gas flow');
    const q = interpolatePanel(panel, panel.targets[0].query, vars);
    expect(q).toContain('"device" =~ /^wm-kiln-1$/');
    expect((await run(q)).map((s) => s.tags!.device)).toEqual(['wm-kiln-1']);
  });

  it('puts every workshop main meter, and no sub-meter, in the power panels', () => {
    const ids = mainMeters(p.model, 'electricity_meter').map((m) => m.id);
    expect(ids).not.toContain('al-em-hvac');
    expect(new Set(mainMeters(p.model, 'electricity_meter').map((m) => `${m.enterprise}/${m.workshop}`)).size).toBe(ids.length);
  });
});

describe('standard coal and carbon panels', () => {
  it('convert each interval\'s electricity and gas with the coefficients of config/standards.yaml', async () => {
    const { d } = dashboards.find((x) => x.file === 'energy.json')!;
    const s = loadStandards();
    const vars = await resolveVariables(d);
    const byTitle = (t: string) => d.panels.find((x: any) => x.title === t);
    /** Sum over workshops per time bucket of a per-workshop consumption panel. */
    const perBucket = async (panel: any): Promise<Map<number, number>> => {
      const out = new Map<number, number>();
      for (const s of await run(interpolatePanel(panel, panel.targets[0].query, vars))) {
        for (const [t, v] of s.values) if (typeof v === 'number') out.set(t as number, (out.get(t as number) ?? 0) + v);
      }
      return out;
    };
    const scaled = async (title: string, alias: string): Promise<Map<number, number>> => {
      const panel = byTitle(title);
      const t = panel.targets.find((x: any) => x.alias === alias);
      const [series] = await run(interpolatePanel(panel, t.query, vars));
      return new Map(series!.values.filter((r) => typeof r[1] === 'number').map((r) => [r[0] as number, r[1] as number]));
    };
    const kwh = await perBucket(byTitle('Electricity by workshop'));
    const gas = await perBucket(byTitle('Natural gas by workshop'));
    const cases: [Map<number, number>, Map<number, number>, number][] = [
      [kwh, await scaled('Standard coal by carrier', 'Electricity'), s.carriers.get('electricity')!.kgcePerUnit],
      [gas, await scaled('Standard coal by carrier', 'Natural gas'), s.carriers.get('natural_gas')!.kgcePerUnit],
      [kwh, await scaled('Carbon by carrier', 'Electricity'), gridFactorFor(s, new Date().getUTCFullYear()).kgCO2PerUnit],
      [gas, await scaled('Carbon by carrier', 'Natural gas'), s.carbon.get('natural_gas')!.kgCO2PerUnit],
    ];
    for (const [quantity, converted, factor] of cases) {
      expect(converted.size).toBeGreaterThan(10);
      for (const [t, v] of converted) expect(v, `bucket ${t}`).toBeCloseTo((quantity.get(t) ?? 0) * factor, 6);
    }
    expect(s.carriers.get('electricity')!.kgcePerUnit).toBe(0.1229);
  });
});

describe('KPI panels (hourly facts written by the rollup)', () => {
  const H = HOUR;
  /** The whole hours a panel's $timeFilter selects: facts are stamped at the hour start. */
  const hours = () => ({ from: Math.ceil(fromMs / H) * H, to: Math.floor(toMs / H) * H + H });
  const panelOf = (file: string, title: string) => {
    const { d } = dashboards.find((x) => x.file === file)!;
    return { d, panel: d.panels.find((x: any) => x.title === title) };
  };
  /** The first row of the panel's first query, as column → value. */
  const answer = async (file: string, title: string): Promise<Record<string, unknown>> => {
    const { d, panel } = panelOf(file, title);
    const [s] = await run(interpolatePanel(panel, panel.targets[0].query, await resolveVariables(d)));
    return Object.fromEntries(s!.columns.map((c, i) => [c, s!.values[0]![i]]));
  };
  const engine = async (product: string) => {
    const prod = deps.production.products.get(product)!;
    const { from, to } = hours();
    const r = await computeKpis(deps, resolveScope(p.model, { park: prod.line.park, enterprise: prod.line.enterprise }), from, to, ['products', 'oee'], { now: toMs });
    return { product: (r.products as any[]).find((x) => x.product === product), oee: (r.oee as any[]).find((x) => x.product === product) };
  };
  const close = (got: unknown, want: number, what: string) => {
    expect(typeof got, what).toBe('number');
    expect(Math.abs((got as number) - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(Math.abs(want) * 1e-4 + 1e-9);
  };

  it('give the KPI engine\'s kgce per m² and OEE of the tile line over the same hours', async () => {
    const e = await engine('porcelain_tile');
    expect(e.product.good).toBeGreaterThan(0);
    close((await answer('ceramic-tile-line.json', 'Energy per m² in range'))['kgce per unit'], e.product.perUnit.kgce, 'kgce/m²');
    const o = await answer('ceramic-tile-line.json', 'OEE in range');
    close(o.OEE, e.oee.oee, 'OEE');
    close(o.Availability, e.oee.availability, 'availability');
    close(o.Performance, e.oee.effectiveness, 'performance');
    close(o.Quality, e.oee.quality, 'quality');
  });

  it('give the KPI engine\'s kWh per 1,000 doses', async () => {
    const e = await engine('live_vaccine');
    expect(e.product.good).toBeGreaterThan(0);
    close((await answer('vaccine-plant.json', 'Electricity per 1,000 doses in range'))['kWh per unit'], e.product.perUnit.electricityKWh, 'kWh/1000 doses');
  });

  it('give the zone\'s comprehensive energy of the KPI engine, and the day before', async () => {
    const { from, to } = hours();
    const zone = async (a: number, b: number) => ((await computeKpis(deps, resolveScope(p.model, {}), a, b, ['energy'], { now: toMs })).energy as any).comprehensive.kgce as number;
    const today = await zone(from, to);
    expect(today).toBeGreaterThan(0);
    close((await answer('energy.json', 'Comprehensive energy in range')).tce, today / 1000, 'tce in range');
    close((await answer('energy.json', 'Same range a day earlier')).tce, (await zone(from - DAY, to - DAY)) / 1000, 'tce a day earlier');
  });

  it('draw the GB 21252 grade limits of config/standards.yaml as lines and colours', async () => {
    const { panel } = panelOf('ceramic-tile-line.json', 'Energy per m² against GB 21252');
    const e = await engine('porcelain_tile');
    const limits = e.product.quota.limits;
    expect(panel.fieldConfig.defaults.thresholds.steps.map((x: any) => x.value)).toEqual([null, limits.grade1, limits.grade2, limits.grade3]);
    const [s] = await run(interpolatePanel(panel, panel.targets[0].query, await resolveVariables(panelOf('ceramic-tile-line.json', 'Energy per m² against GB 21252').d)));
    const col = (name: string) => s!.values.map((r) => r[s!.columns.indexOf(name)]).filter((v) => v !== null);
    expect(new Set(col('grade 3 (limit)'))).toEqual(new Set([limits.grade3]));
    expect(new Set(col('grade 1 (advanced)'))).toEqual(new Set([limits.grade1]));
  });

  it('are recomputed in place: running the rollup again adds no point', async () => {
    const count = async () => {
      const [series] = await p.influx.query(`SELECT count("kgce") FROM "${KPI_MEASUREMENT}"`);
      return Number(series?.[0]?.values[0]?.[1]);
    };
    const before = await count();
    expect(before).toBeGreaterThan(0);
    expect(await rollupRange(deps, fromMs, toMs, toMs)).toBeGreaterThanOrEqual(2);
    expect(await count()).toBe(before);
  });
});

describe('alarm annotations', () => {
  it('mark the raised alarm on every dashboard, with its rule, severity and device as tags', async () => {
    let checked = 0;
    for (const { file, d } of dashboards) {
      const vars = await resolveVariables(d);
      const raised = d.annotations.list.find((a: any) => a.name === 'Alarms raised');
      expect(raised?.datasource.uid, file).toBe('smartpark-influxdb');
      const q = interpolate(raised.target.query, { fromMs, toMs, intervalMs: 1000, variables: vars });
      expect(q).not.toMatch(/\$\w/);
      const [s] = await run(q);
      if (!vars.device!.options.includes(ALARMED)) continue; // its device variable does not offer the cold room
      const rows = s!.values.map((r) => Object.fromEntries(s!.columns.map((c, i) => [c, r[i]])));
      expect(rows.some((r) => r.device === ALARMED && r.rule === 'cold-room-temp' && r.severity === 'critical' && String(r.text).length > 0), file).toBe(true);
      for (const c of [raised.target.textColumn, ...raised.target.tagsColumn.split(',')]) expect(s!.columns, file).toContain(c);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });
});
