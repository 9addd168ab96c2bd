/**
 * Every panel query of every generated dashboard, with $timeFilter, $__interval and the template
 * variables substituted as Grafana would (dashboards/interpolate.ts), runs against the real
 * InfluxDB filled through the real broker and ingest by the simulators (2 h of the whole park)
 * and returns the series the panel expects: one per device (or workshop) the panel's measurement,
 * device list and variables select, with values. The template-variable queries return the park
 * model's ids.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStandards } from '../core/kpi/config-file.ts';
import { gridFactorFor } from '../core/kpi/standards.ts';
import { deviceTopic } from '../core/contract.ts';
import type { Series } from '../core/influx/client.ts';
import type { DeviceModel } from '../core/model.ts';
import { interpolate, panelInterval, type VariableValue } from '../dashboards/interpolate.ts';
import { mainMeters } from '../dashboards/common.ts';
import { runFleet } from '../simulators/fleet.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

const HOUR = 3_600_000;
const GENERATED = 'dashboards/generated';
/** Devices that come back online after the backfill (all others end offline, as the fleet stops). */
const ONLINE = ['wm-kiln-1', 'al-cold-1', 'dj-em-main'];
/** Browser width assumed for a panel's resolution when it sets no max data points. */
const SCREEN_PX = 1200;

let p: TestPlatform;
let fromMs = 0;
let toMs = 0;

beforeAll(async () => {
  p = await new TestPlatform().start();
  const end = Date.now() - 60_000;
  fromMs = end - 2 * HOUR;
  const summary = await runFleet({
    model: p.model, url: p.mqttUrl, secrets: p.secrets, seed: 'dashboards', backfill: { fromMs, toMs: end }, batch: 200,
  });
  expect(summary.failedDevices).toEqual([]);
  await waitFor('the backfill stored', async () => {
    const res = await p.influx.query('SELECT count("seq") FROM /.*/');
    return (res[0] ?? []).reduce((a, s) => a + Number(s.values[0]?.[1] ?? 0), 0) >= summary.totals.expectedStored;
  }, 60_000, 250);
  for (const id of ONLINE) {
    const c = await p.connect(id);
    await c.publishAsync(deviceTopic(p.model.devices.get(id)!, 'status'), JSON.stringify({ state: 'online', ts: Date.now() }), { qos: 1, retain: true });
  }
  await waitFor('the online statuses stored', async () => {
    const res = await p.influx.query(`SELECT last("state") FROM "device_status" GROUP BY "device"`);
    return (res[0] ?? []).filter((s) => s.values[0]?.[1] === 'online').length === ONLINE.length;
  }, 20_000, 100);
  toMs = Date.now();
}, 120_000);

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
  const intervalMs = panelInterval(fromMs, toMs, resolution, panel.interval);
  const q = interpolate(query, { fromMs, toMs, intervalMs, variables: vars });
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
