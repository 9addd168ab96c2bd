/**
 * Checks a folder of configuration files before it is deployed, with the parsers the services
 * run at start-up (so every cross-reference is checked: a device's kind exists, an alarm's metric
 * is declared for its kinds, a product's line is in the park model…):
 *   park.yaml, standards.yaml, production.yaml, alarms.yaml   required
 *   gateway.yaml, sparkplug.yaml                               when present
 * Prints every problem as `FILE: PATH: VALUE — expected …` and exits 1 when there is any;
 * otherwise one summary line per file and exit 0. When a file another depends on is refused (the
 * park model, the standards), the dependent files are checked against their JSON Schema only
 * (config/schema/, shape without cross-references), and the output says so.
 *   node --import tsx scripts/check-config.ts [DIR]     (DIR defaults to config/)
 */
import { Ajv, type ErrorObject } from 'ajv';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { parseAlarmRules } from '../core/alarms/rules.ts';
import { PlatformError } from '../core/errors.ts';
import { show } from '../core/ids.ts';
import { parseGatewayConfig } from '../core/fieldbus/config.ts';
import { parseProduction } from '../core/kpi/production.ts';
import { parseStandards, type Standards } from '../core/kpi/standards.ts';
import { parseParkModel, type ParkModel } from '../core/model.ts';
import { parseSparkplugConfig } from '../core/sparkplug/config.ts';
import { CONFIG_SCHEMAS } from './config-schemas.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCHEMA_DIR = join(ROOT, 'config/schema');

export interface FileReport {
  /** The file as named to the user (DIR/name). */
  file: string;
  /** 'ok': no problem found; 'refused': problems; 'absent': optional and not there; 'skipped': a file it needs was refused. */
  status: 'ok' | 'refused' | 'absent' | 'skipped';
  summary?: string;
  /** Each `PATH: VALUE — expected …` (or a YAML syntax error with its line). */
  problems: string[];
  /** Said when only the schema could be applied. */
  note?: string;
}

/** The problem lines of a parser's refusal (`… refused (N problems):\n  a\n  b`). */
function problemLines(e: unknown): string[] {
  if (!(e instanceof PlatformError)) return [`internal error: ${(e as Error)?.message ?? String(e)}`];
  const lines = e.message.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim());
  return lines.length > 0 ? lines : [e.message];
}

/** Reads and parses one YAML file; syntax errors become problems with their line and column. */
function readYaml(path: string): { data?: unknown; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { problems: [`cannot read: ${(e as Error).message}`] };
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const where = (x: (typeof doc.errors)[number]) => (x.linePos ? `line ${x.linePos[0].line} column ${x.linePos[0].col}` : 'YAML');
    return { problems: doc.errors.map((x) => `${where(x)}: ${x.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`) };
  }
  return { data: doc.toJS(), problems: [] };
}

/** `PATH: VALUE — expected …` for a JSON Schema error, in the parsers' path notation. */
function schemaProblem(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let path = parts.reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '') || '(root)';
  if (e.keyword === 'additionalProperties') path = `${path === '(root)' ? '' : `${path}.`}${(e.params as { additionalProperty: string }).additionalProperty}`;
  const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
  const expected = allowed ? `one of ${allowed.join(', ')}` : e.message ?? e.keyword;
  return e.keyword === 'additionalProperties' ? `${path}: unknown key (JSON Schema)` : `${path}: ${show(e.data)} — expected ${expected} (JSON Schema)`;
}

function schemaCheck(name: string, data: unknown): string[] {
  const c = CONFIG_SCHEMAS.find((x) => x.file === name);
  if (!c) return [];
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, verbose: true });
  const validate = ajv.compile(JSON.parse(readFileSync(join(SCHEMA_DIR, c.schema), 'utf8')) as object);
  if (validate(data)) return [];
  // anyOf/oneOf failures repeat each branch's errors: keep one line per path and message
  return [...new Set((validate.errors ?? []).filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if').map(schemaProblem))];
}

const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;

/** Checks every configuration file of `dir`, dependencies first. */
export function checkConfigDir(dir: string): FileReport[] {
  const shown = (name: string) => {
    const rel = relative(process.cwd(), join(dir, name));
    return rel.startsWith('..') ? join(dir, name) : rel;
  };
  const reports: FileReport[] = [];
  const run = <T>(name: string, required: boolean, needs: { what: string; ok: boolean }[], parse: (data: unknown) => T, summary: (v: T) => string): T | undefined => {
    const path = join(dir, name);
    const file = shown(name);
    if (!existsSync(path)) {
      reports.push(required ? { file, status: 'refused', problems: ['missing: the platform needs this file'] } : { file, status: 'absent', problems: [] });
      return undefined;
    }
    const y = readYaml(path);
    if (y.problems.length > 0) {
      reports.push({ file, status: 'refused', problems: y.problems });
      return undefined;
    }
    const missing = needs.filter((x) => !x.ok).map((x) => x.what);
    if (missing.length > 0 && !CONFIG_SCHEMAS.some((c) => c.file === name)) {
      reports.push({ file, status: 'skipped', problems: [], note: `not checked: ${missing.join(' and ')} refused, and it has no JSON Schema` });
      return undefined;
    }
    if (missing.length > 0) {
      const problems = schemaCheck(name, y.data);
      reports.push({ file, status: problems.length > 0 ? 'refused' : 'ok', problems, note: `checked against its JSON Schema only: ${missing.join(' and ')} refused, so its cross-references were not checked` });
      return undefined;
    }
    try {
      const v = parse(y.data);
      reports.push({ file, status: 'ok', problems: [], summary: summary(v) });
      return v;
    } catch (e) {
      reports.push({ file, status: 'refused', problems: problemLines(e) });
      return undefined;
    }
  };
  const model: ParkModel | undefined = run('park.yaml', true, [], parseParkModel, (m) =>
    `${n(m.parks.length, 'park')}, ${n(m.parks.reduce((a, p) => a + p.enterprises.length, 0), 'enterprise')}, ${n(m.kinds.size, 'device kind')}, ${n(m.devices.size, 'device')}, ${n(m.gateways.size, 'gateway')}`);
  const parkOk = { what: 'park.yaml', ok: model !== undefined };
  const standards: Standards | undefined = run('standards.yaml', true, [], parseStandards, (s) =>
    `${n(s.carriers.size, 'carrier')}, ${n(s.grid.byYear.length, 'grid factor year')}, ${n(s.quotas.size, 'quota table')}`);
  run('production.yaml', true, [parkOk, { what: 'standards.yaml', ok: standards !== undefined }], (d) => parseProduction(d, model!, standards!), (p) =>
    `${n(p.products.size, 'product')}, ${n(p.calendars.size, 'calendar')}, ${n(p.subMeters.size, 'sub-meter')}`);
  run('alarms.yaml', true, [parkOk], (d) => parseAlarmRules(d, model!), (a) =>
    `${n(a.rules.length, 'rule')} bound to ${n(a.byDevice.size, 'device')}`);
  run('gateway.yaml', false, [parkOk], (d) => parseGatewayConfig(d, model!), (g) =>
    `${n(g.gateways.size, 'gateway')}, ${n([...g.gateways.values()].reduce((a, x) => a + x.connections.length, 0), 'connection')}, ${n(g.profiles.size, 'profile')}`);
  run('sparkplug.yaml', false, [parkOk], (d) => parseSparkplugConfig(d, model!), (s) =>
    `${n(s.nodes.size, 'edge node')}, ${n([...s.nodes.values()].reduce((a, x) => a + x.devices.size, 0), 'mapped device')}`);
  return reports;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2] ?? join(ROOT, 'config');
  if (!existsSync(dir)) {
    console.error(`check-config: ${dir} does not exist — give the folder that holds park.yaml, standards.yaml, production.yaml and alarms.yaml`);
    process.exit(2);
  }
  const reports = checkConfigDir(dir);
  let problems = 0;
  for (const r of reports) {
    if (r.status === 'absent') continue;
    for (const p of r.problems) console.error(`${r.file}: ${p}`);
    problems += r.problems.length;
    if (r.status === 'ok') console.log(`${r.file}: ok${r.summary ? ` — ${r.summary}` : ''}${r.note ? ` (${r.note})` : ''}`);
    else if (r.note) console.error(`${r.file}: ${r.note}`);
  }
  if (problems > 0) console.error(`check-config: ${n(problems, 'problem')} in ${n(reports.filter((r) => r.problems.length > 0).length, 'file')}`);
  process.exitCode = problems > 0 ? 1 : 0;
}
