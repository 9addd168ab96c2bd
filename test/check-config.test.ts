/**
 * `npm run check-config [DIR]` checks a folder of configuration files with the services' own
 * parsers: exit 0 with one summary line per file for the shipped config/, exit 1 with every
 * problem named by file and path for a copy with planted errors.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const tmp = mkdtempSync(join(tmpdir(), 'check-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function checkConfig(...args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/check-config.ts', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** A copy of config/ with `edits` applied (file -> [from, to] replacements, each must match). */
function copyWith(name: string, edits: Record<string, [string | RegExp, string][]>): string {
  const dir = join(tmp, name);
  cpSync('config', dir, { recursive: true });
  for (const [file, list] of Object.entries(edits)) {
    let text = readFileSync(join(dir, file), 'utf8');
    for (const [from, to] of list) {
      const next = text.replace(from, to);
      if (next === text) throw new Error(`${file}: ${String(from)} not found`);
      text = next;
    }
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

describe('check-config', () => {
  it('passes the shipped config/ with exit 0 and one summary line per file', () => {
    const r = checkConfig();
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual(['config/park.yaml', 'config/standards.yaml', 'config/production.yaml', 'config/alarms.yaml', 'config/gateway.yaml', 'config/sparkplug.yaml']);
    expect(lines[0]).toMatch(/^config\/park\.yaml: ok — 3 parks, \d+ enterprises, \d+ device kinds, \d+ devices, \d+ gateways$/);
    expect(lines[3]).toMatch(/^config\/alarms\.yaml: ok — \d+ rules bound to \d+ devices$/);
  });

  it('prints every problem of two broken files with file and path, and exits 1', () => {
    const dir = copyWith('two-broken', {
      'standards.yaml': [['kgcePerUnit: 0.1229', 'kgcePerUnit: -1'], ['electricityValue: equivalent', 'electricityValue: both']],
      'alarms.yaml': [['metric: t_firing', 'metric: t_fire'], [/severity: critical/, 'severity: urgent']],
    });
    const r = checkConfig(dir);
    expect(r.status).toBe(1);
    const err = r.err;
    expect(err).toContain(`${dir}/standards.yaml: carriers.electricity.kgcePerUnit: -1 — expected a finite number > 0`);
    expect(err).toContain(`${dir}/standards.yaml: electricityValue: "both" — expected one of equivalent, equal`);
    expect(err).toContain(`${dir}/alarms.yaml: rules[1].metric: "t_fire" — expected a metric declared for kind roller_kiln`);
    expect(err).toContain(`${dir}/alarms.yaml: rules[0].severity: "urgent" — expected one of info, warning, major, critical`);
    expect(err).toMatch(/check-config: 4 problems in 2 files\n$/);
    // the files that are fine still say so; production (needs standards) falls back to its schema
    expect(r.out).toContain(`${dir}/park.yaml: ok — `);
    expect(r.out).toContain(`${dir}/production.yaml: ok (checked against its JSON Schema only: standards.yaml refused`);
  });

  it('checks what depends on a refused park model against its schema, and reports YAML syntax errors by line', () => {
    const dir = copyWith('park-broken', {
      'park.yaml': [['kind: roller_kiln', 'kind: roller_kil']],
      'alarms.yaml': [[/severity: critical/, 'severity: urgent']],
      'production.yaml': [['timezone: \'+08:00\'', 'timezone: [+08:00']],
    });
    const r = checkConfig(dir);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(new RegExp(`${dir}/park\\.yaml: parks\\[0\\]\\.enterprises\\[0\\]\\.workshops\\[0\\]\\.lines\\[0\\]\\.devices\\[\\d+\\]\\.kind: "roller_kil" — expected a device kind declared under kinds`));
    expect(r.err).toContain(`${dir}/alarms.yaml: rules[0].severity: "urgent" — expected one of info, warning, major, critical (JSON Schema)`);
    expect(r.err).toContain(`${dir}/alarms.yaml: checked against its JSON Schema only: park.yaml refused`);
    expect(r.err).toContain(`${dir}/gateway.yaml: not checked: park.yaml refused, and it has no JSON Schema`);
    expect(r.out).not.toContain('gateway.yaml');
    expect(r.err).toMatch(new RegExp(`${dir}/production\\.yaml: line \\d+ column \\d+: `));
  });

  it('refuses a folder without the required files', () => {
    const dir = join(tmp, 'empty');
    cpSync('config/gateway.yaml', join(dir, 'gateway.yaml'));
    const r = checkConfig(dir);
    expect(r.status).toBe(1);
    for (const f of ['park.yaml', 'standards.yaml', 'production.yaml', 'alarms.yaml']) expect(r.err).toContain(`${dir}/${f}: missing: the platform needs this file`);
  });
});
