/**
 * The JSON Schemas of the four configuration files are generated from the raw-file types beside
 * their parsers (a test fails when regenerating changes them), each shipped file names its schema
 * on its first line for editors, validates against it, and a broken copy does not — nor does the
 * parser take it. The schemas' patterns and value lists are the code's.
 */
import { Ajv } from 'ajv';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseAlarmRules, RULE_TYPES, SEVERITIES } from '../core/alarms/rules.ts';
import { ID_PATTERN, METRIC_PATTERN } from '../core/ids.ts';
import { DURATION_PATTERN } from '../core/influx/influxql.ts';
import { parseProduction } from '../core/kpi/production.ts';
import { CONFIDENCE, KNOWN_UNITS, parseStandards } from '../core/kpi/standards.ts';
import { METRIC_TYPES, parseParkModel, RESERVED_METRICS } from '../core/model.ts';
import { CONFIG_SCHEMAS, drift, schemaLine } from '../scripts/config-schemas.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const schemaOf = (name: string): Json => JSON.parse(readFileSync(`config/schema/${name}.schema.json`, 'utf8'));
const dataOf = (name: string): Json => parse(readFileSync(`config/${name}.yaml`, 'utf8'));
const validator = (name: string) => new Ajv({ allErrors: true, allowUnionTypes: true }).compile(schemaOf(name));
const model = parseParkModel(dataOf('park'));
const standards = parseStandards(dataOf('standards'));

/** The parser of each file, for the broken copies. */
const PARSERS: Record<string, (d: unknown) => unknown> = {
  park: parseParkModel, standards: parseStandards,
  production: (d) => parseProduction(d, model, standards), alarms: (d) => parseAlarmRules(d, model),
};

/** One break per case, with the instance path the schema must report. */
const BROKEN: [string, string, (d: Json) => void, string][] = [
  ['park', 'a metric of an unknown type', (d) => { d.kinds.ball_mill.metrics.power.type = 'float'; }, '/kinds/ball_mill/metrics/power/type'],
  ['park', 'a number metric without a unit', (d) => { delete d.kinds.ball_mill.metrics.power.unit; }, '/kinds/ball_mill/metrics/power'],
  ['park', 'an unknown key on a device', (d) => { d.parks[0].enterprises[0].workshops[0].lines[0].devices[0].colour = 'red'; }, '/parks/0/enterprises/0/workshops/0/lines/0/devices/0'],
  ['park', 'a device id with a space', (d) => { d.parks[0].enterprises[0].workshops[0].lines[0].devices[0].id = 'wm mill'; }, '/parks/0/enterprises/0/workshops/0/lines/0/devices/0/id'],
  ['standards', 'a confidence letter that does not exist', (d) => { d.kgceMJ.confidence = 'X'; }, '/kgceMJ/confidence'],
  ['standards', 'a negative coefficient', (d) => { d.carriers.electricity.kgcePerUnit = -1; }, '/carriers/electricity/kgcePerUnit'],
  ['standards', 'no electricity carrier', (d) => { delete d.carriers.electricity; }, '/carriers'],
  ['production', 'a shift starting at half past', (d) => { d.calendars.day_shift[0].start = '08:30'; }, '/calendars/day_shift/0/start'],
  ['production', 'a product without a price', (d) => { delete d.products.porcelain_tile.unitPriceYuan; }, '/products/porcelain_tile'],
  ['alarms', 'a severity that does not exist', (d) => { d.rules[0].severity = 'urgent'; }, '/rules/0/severity'],
  ['alarms', 'a duration without a unit', (d) => { d.rules[0].for = '5'; }, '/rules/0/for'],
  ['alarms', 'a rule type that does not exist', (d) => { d.rules[0].type = 'trend'; }, '/rules/0/type'],
];

describe('config schemas', () => {
  it('config/schema/*.schema.json are what the raw-file types generate', () => {
    expect(drift().map((d) => d.file)).toEqual([]);
  });

  it('notice a schema edited by hand', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'config-schemas-'));
    try {
      cpSync('config/schema', join(tmp, 'config/schema'), { recursive: true });
      const f = join(tmp, 'config/schema/alarms.schema.json');
      writeFileSync(f, readFileSync(f, 'utf8').replace('"critical"', '"catastrophic"'));
      expect(drift(undefined, tmp).map((d) => d.file)).toEqual(['config/schema/alarms.schema.json']);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it.each(CONFIG_SCHEMAS.map((c) => [c.file, c] as const))('config/%s names its schema on its first line and validates against it', (_, c) => {
    const text = readFileSync(`config/${c.file}`, 'utf8');
    expect(text.split('\n')[0]).toBe(schemaLine(c));
    const v = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(JSON.parse(readFileSync(`config/schema/${c.schema}`, 'utf8')));
    expect(v(parse(text)), new Ajv().errorsText(v.errors)).toBe(true);
  });

  it.each(BROKEN)('%s: a copy with %s fails its schema at the path, and its parser refuses it', (name, _, breakIt, path) => {
    const v = validator(name);
    const d = dataOf(name);
    expect(v(d)).toBe(true);
    breakIt(d);
    expect(v(d)).toBe(false);
    expect(v.errors!.map((e) => e.instancePath)).toContain(path);
    expect(() => PARSERS[name]!(d)).toThrow();
  });

  it("state the code's patterns and value lists", () => {
    const park = schemaOf('park').definitions;
    expect(park.ModelFileId.pattern).toBe(ID_PATTERN.source);
    expect(park.DeviceKindFile.properties.metrics.propertyNames).toEqual({ pattern: METRIC_PATTERN.source, not: { enum: RESERVED_METRICS } });
    expect(park.MetricType.enum).toEqual([...METRIC_TYPES]);
    const alarms = schemaOf('alarms').definitions;
    expect(alarms.AlarmFileId.pattern).toBe(ID_PATTERN.source);
    expect(alarms.AlarmFileMetric.pattern).toBe(METRIC_PATTERN.source);
    expect(alarms.Severity.enum).toEqual([...SEVERITIES]);
    expect(alarms.AlarmRuleFile.properties.type.enum).toEqual([...RULE_TYPES]);
    const std = schemaOf('standards').definitions;
    expect([...std.StandardsFileUnit.enum].sort()).toEqual([...KNOWN_UNITS].sort());
    expect(std.Confidence.enum).toEqual([...CONFIDENCE]);
    const prod = schemaOf('production').definitions;
    expect(prod.ProductionFileId.pattern).toBe(ID_PATTERN.source);
    expect(prod.ProductionFile.properties.lookback.pattern).toBe(DURATION_PATTERN.source);
  });
});
