/**
 * Every generated dashboard validates against Grafana's dashboard schema: a JSON schema derived
 * here, at test time, from the TypeScript types that cog generated from Grafana's own CUE kinds
 * and that ship in the SDK package we build with (@grafana/grafana-foundation-sdk 11.6, the
 * Grafana 11.6 dashboard model of docker-compose.yml's image). Each panel's options and custom
 * field config validate against its panel plugin's types too. Unknown properties are refused.
 */
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { createGenerator } from 'ts-json-schema-generator';
import { describe, expect, it } from 'vitest';
import { renderDashboards } from '../dashboards/index.ts';
import { DEFAULT_PARK_MODEL, loadParkModel } from '../core/model-file.ts';

const sdkDist = join(import.meta.dirname, '..', 'node_modules', '@grafana', 'grafana-foundation-sdk', 'dist');
/** JSON schema of one exported type of an SDK module (e.g. dashboard/types.gen.d.ts Dashboard). */
function sdkSchema(module: string, type: string): Record<string, any> {
  return createGenerator({
    path: join(sdkDist, module, 'types.gen.d.ts'), type, skipTypeCheck: true, additionalProperties: false, expose: 'all', topRef: true,
  }).createSchema(type) as Record<string, any>;
}
// date-time appears only in snapshot metadata, which generated dashboards do not carry
const options = { allErrors: true, strict: false, formats: { 'date-time': true } } as const;
const ajv = new Ajv(options);
/**
 * A panel's queries are the datasource's own type: the SDK types them as an opaque interface,
 * Grafana's DataQuery kind fixes only these common fields and leaves the rest to the plugin.
 */
function dashboardSchema(): object {
  const s = sdkSchema('dashboard', 'Dashboard');
  s.definitions.Dataquery = {
    type: 'object', required: ['refId'], additionalProperties: true,
    properties: { refId: { type: 'string' }, hide: { type: 'boolean' }, queryType: { type: 'string' }, datasource: { $ref: '#/definitions/DataSourceRef' } },
  };
  // An annotation's target is its datasource's query too: Grafana's kind fixes the four fields
  // of its built-in annotations and leaves the rest open (the SDK types only those four).
  s.definitions.AnnotationTarget = {
    type: 'object', required: ['limit', 'matchAny', 'tags', 'type'], additionalProperties: true,
    properties: { limit: { type: 'integer' }, matchAny: { type: 'boolean' }, tags: { type: 'array', items: { type: 'string' } }, type: { type: 'string' } },
  };
  return s;
}
const dashboardSchemas: Record<string, ValidateFunction> = { 'Grafana 11.6': ajv.compile(dashboardSchema()) };
// stat and bargauge declare no custom field config: theirs must be absent or empty
const panelSchemas = new Map<string, { options: ValidateFunction; custom: ValidateFunction }>();
for (const type of ['timeseries', 'stat', 'statetimeline', 'table', 'bargauge']) {
  const a = new Ajv(options);
  let custom: ValidateFunction;
  try {
    custom = a.compile(sdkSchema(type, 'FieldConfig'));
  } catch {
    custom = a.compile({ type: 'object', maxProperties: 0 });
  }
  panelSchemas.set(type, { options: a.compile(sdkSchema(type, 'Options')), custom });
}
const dashboards = [...renderDashboards(loadParkModel(DEFAULT_PARK_MODEL))].map(([f, text]) => [f, JSON.parse(text)] as const);

describe('generated dashboards against Grafana\'s schema', () => {
  for (const [version, validate] of Object.entries(dashboardSchemas)) {
    it(`are valid ${version} dashboards`, () => {
      for (const [f, generated] of dashboards) {
        const ok = validate(generated);
        expect(ok ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`), `${f} (${version})`).toEqual([]);
      }
    });
  }

  it('have panel options and custom field config valid for their panel plugin', () => {
    for (const [f, d] of dashboards) {
      for (const p of d.panels.filter((x: any) => x.type !== 'row')) {
        const s = panelSchemas.get(p.type.replace('-', ''));
        expect(s, `${f}: no schema for panel type ${p.type}`).toBeDefined();
        for (const [what, validate, value] of [['options', s!.options, p.options], ['custom', s!.custom, p.fieldConfig.defaults.custom ?? {}]] as const) {
          const ok = validate(value);
          expect(ok ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`), `${f}: ${p.title} ${what}`).toEqual([]);
        }
      }
    }
  });

  it('rejects a broken dashboard (the schema is really applied)', () => {
    const d = structuredClone(dashboards[0]![1]);
    d.panels[1].gridPos = { w: 'wide' };
    delete d.templating;
    expect(dashboardSchemas['Grafana 11.6']!(d)).toBe(false);
  });
});
