/**
 * The committed dashboards are exactly what the code generates, and they follow the house rules:
 * one datasource (the provisioned uid), raw InfluxQL targets, a unit and thresholds on every panel.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARD_TAG, DATASOURCE_UID, DS_INPUT } from '../dashboards/common.ts';
import { renderDashboards, renderExports } from '../dashboards/index.ts';
import { grafanaQuery, tagMatchesVariable } from '../dashboards/influxql.ts';
import { formatVariable, interpolate, intervalText, panelInterval } from '../dashboards/interpolate.ts';
import { DEFAULT_PARK_MODEL, loadParkModel } from '../core/model-file.ts';
import { exactly, Fragment, ident, influxql, raw } from '../core/influx/influxql.ts';

const DIR = 'dashboards/generated';
const files = renderDashboards(loadParkModel(DEFAULT_PARK_MODEL));

describe('generated dashboards', () => {
  it('regenerating changes nothing: dashboards/generated holds exactly what the code generates', () => {
    const committed = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
    expect(committed).toEqual([...files.keys()].sort());
    for (const [f, text] of files) expect(readFileSync(join(DIR, f), 'utf8'), `${f} is stale: run npm run dashboards`).toBe(text);
  });

  it('use only the provisioned datasource uid, with raw InfluxQL targets', () => {
    const ds = parse(readFileSync('dashboards/provisioning/datasources/influxdb.yaml', 'utf8'));
    expect(ds.datasources[0].uid).toBe(DATASOURCE_UID);
    for (const [f, text] of files) {
      const uids = [...text.matchAll(/"uid": "([^"]+)"/g)].map((m) => m[1]);
      const dash = JSON.parse(text);
      expect(new Set(uids.filter((u) => u !== dash.uid)), f).toEqual(new Set([DATASOURCE_UID]));
      for (const p of dash.panels.filter((x: any) => x.type !== 'row')) {
        expect(p.targets.length, `${f}: ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets) expect(t, `${f}: ${p.title}`).toMatchObject({ rawQuery: true, datasource: { type: 'influxdb', uid: DATASOURCE_UID } });
      }
    }
  });

  it('set a unit and explicit thresholds on every panel', () => {
    for (const [f, text] of files) {
      for (const p of JSON.parse(text).panels.filter((x: any) => x.type !== 'row')) {
        expect(p.fieldConfig.defaults.unit, `${f}: ${p.title}`).toMatch(/\S/);
        expect(p.fieldConfig.defaults.thresholds.steps[0], `${f}: ${p.title}`).toMatchObject({ value: null });
        expect(p.description, `${f}: ${p.title}`).toMatch(/\S/);
      }
    }
  });

  it('lay panels out on the 24-column grid without overlap', () => {
    for (const [f, text] of files) {
      const boxes = JSON.parse(text).panels.map((p: any) => ({ title: p.title, ...p.gridPos }));
      for (const b of boxes) expect(b.x + b.w, `${f}: ${b.title}`).toBeLessThanOrEqual(24);
      for (const [i, a] of boxes.entries()) {
        for (const b of boxes.slice(i + 1)) {
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          expect(overlap, `${f}: ${a.title} overlaps ${b.title}`).toBe(false);
        }
      }
    }
  });

  it('give every dashboard the chained park → enterprise → workshop → device variables', () => {
    for (const [f, text] of files) {
      const vars = JSON.parse(text).templating.list;
      expect(vars.map((v: any) => v.name), f).toEqual(['park', 'enterprise', 'workshop', 'device']);
      expect(vars[3].query, f).toContain('WHERE "park" =~ /^$park$/ AND "enterprise" =~ /^$enterprise$/ AND "workshop" =~ /^$workshop$/');
    }
  });
});

describe('dashboard InfluxQL helpers', () => {
  it('quote identifiers and literals and let text in only through fragments', () => {
    expect(grafanaQuery(influxql`SELECT ${ident('a"b')} FROM ${exactly(['x/y', 'a.b'])} WHERE ${tagMatchesVariable('device', 'device')} AND "s" = ${"it's"}`))
      .toBe(String.raw`SELECT "a\"b" FROM /^(x\/y|a\.b)$/ WHERE "device" =~ /^$device$/ AND "s" = 'it\'s'`);
    expect(() => (raw as unknown as (s: string) => Fragment)('SELECT x')).toThrow(TypeError);
    expect(() => new (Fragment as unknown as new (s: string) => Fragment)('SELECT x')).toThrow(TypeError);
    expect(() => tagMatchesVariable('device', 'x$y')).toThrow(RangeError);
    expect(() => grafanaQuery(influxql`SELECT 1; DROP DATABASE x`)).toThrow(RangeError);
  });
});

describe('Grafana substitution', () => {
  const v = (value: string[], options: string[]) => ({ value, options, multi: true, includeAll: true });
  it('formats All and multi values as an escaped alternation and single values escaped', () => {
    expect(formatVariable(v(['$__all'], ['a', 'b.c']))).toBe(String.raw`(a|b\.c)`);
    expect(formatVariable(v(['x/y'], ['x/y']))).toBe(String.raw`x\/y`);
    expect(formatVariable({ value: ['a.b'], options: [], multi: false, includeAll: false })).toBe('a.b');
  });
  it('computes $__interval like Grafana and substitutes the macros', () => {
    expect(intervalText(panelInterval(0, 6 * 3_600_000, 1000, '10s'))).toBe('20s');
    expect(intervalText(panelInterval(0, 3_600_000, 1000, '10s'))).toBe('10s');
    expect(intervalText(panelInterval(0, 7 * 86_400_000, 1000))).toBe('10m');
    const q = interpolate('SELECT mean("x") FROM "m" WHERE $timeFilter AND "d" =~ /^$device$/ AND time <= ${__to}ms GROUP BY time($__interval) -- $__interval_ms [[device]] $nope',
      { fromMs: 1000, toMs: 2000, intervalMs: 60_000, variables: { device: v(['$__all'], ['k-1', 'k-2']) } });
    expect(q).toBe('SELECT mean("x") FROM "m" WHERE time >= 1000ms and time <= 2000ms AND "d" =~ /^(k-1|k-2)$/ AND time <= 2000ms GROUP BY time(1m) -- 60000 (k-1|k-2) $nope');
  });
});

describe('dashboards for import into an existing Grafana', () => {
  const exports = renderExports(loadParkModel(DEFAULT_PARK_MODEL));

  it('are committed in dashboards/export/ exactly as generated, outside the provisioned folder', () => {
    expect(readdirSync('dashboards/export').filter((f) => f.endsWith('.json')).sort()).toEqual([...files.keys()].sort());
    for (const [f, text] of exports) expect(readFileSync(join('dashboards/export', f), 'utf8'), `${f} is stale: run npm run dashboards`).toBe(text);
  });

  it('ask for the datasource at import (__inputs) and reference only that input, otherwise equal to the provisioned ones', () => {
    for (const [f, text] of exports) {
      const d = JSON.parse(text);
      expect(d.__inputs, f).toEqual([expect.objectContaining({ name: DS_INPUT, type: 'datasource', pluginId: 'influxdb' })]);
      expect(d.__requires, f).toContainEqual(expect.objectContaining({ type: 'datasource', id: 'influxdb' }));
      expect(text, f).not.toContain(DATASOURCE_UID);
      const refs = [...text.matchAll(/"datasource": \{\s*"type": "influxdb",\s*"uid": "([^"]+)"/g)].map((m) => m[1]);
      expect(refs.length, f).toBeGreaterThan(5);
      expect(new Set(refs), f).toEqual(new Set([`\${${DS_INPUT}}`]));
      const { __inputs, __requires, ...rest } = d;
      expect(JSON.stringify(rest).replaceAll(`\${${DS_INPUT}}`, DATASOURCE_UID), f).toBe(JSON.stringify(JSON.parse(files.get(f)!)));
    }
  });

  it('link to each other: every dashboard has a dropdown of the others by their shared tag, keeping time and variables', () => {
    for (const [f, text] of files) {
      const d = JSON.parse(text);
      expect(d.tags, f).toContain(DASHBOARD_TAG);
      expect(d.links, f).toEqual([expect.objectContaining({ type: 'dashboards', tags: [DASHBOARD_TAG], asDropdown: true, includeVars: true, keepTime: true })]);
    }
    expect(files.size).toBe(4);
  });
});
