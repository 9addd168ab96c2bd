/**
 * GET /api/v1/kpi/... (viewer): energy by carrier and standard coal, carbon, per-unit product
 * energy with its GB 21252 grade, energy intensity, OEE per ISO 22400 and data quality, for a
 * scope (zone, park, enterprise, workshop, line, device) and a period; /kpi/summary gives all in
 * one call and /kpi/standards the coefficients in use. Standards and production data are loaded
 * and validated when the plugin registers (STANDARDS_FILE, PRODUCTION_FILE): a bad file stops the
 * start naming the path, value and expectation.
 */
import type { FastifyPluginAsync } from 'fastify';
import { loadProduction, loadStandards } from '../../core/kpi/config-file.ts';
import type { Production } from '../../core/kpi/production.ts';
import type { Standards } from '../../core/kpi/standards.ts';
import { SECURITY } from '../auth.ts';
import { badParam } from '../errors.ts';
import { computeKpis, SECTIONS, type KpiDeps, type Section } from '../kpi/compute.ts';
import { resolvePeriod, resolveScope, SCOPE_PARAMS, type PeriodQuery, type ScopeQuery } from '../kpi/scope.ts';
import { ID } from '../schemas.ts';
import { TIME_FORMS } from '../time-params.ts';

const err = { $ref: 'ApiError#' };
const open = { type: 'object', additionalProperties: true } as const;
const openArray = { type: 'array', items: open } as const;

const SECTION_SCHEMAS: Record<Section, object> = {
  energy: { ...open, description: 'Consumption by carrier from cumulative meters, converted to standard coal (GB/T 2589-2020): comprehensive {kgce,tce}, carriers[{carrier,quantity,unit,kgce,kgceEquivalent?,kgceEqualValue?,coefficient{kgcePerUnit,unit,source,confidence}}], meters[{device,metric,quantity,unit,resets,replacements}]' },
  carbon: { ...open, description: 'tCO2 by carrier: electricity × dated grid factor, natural gas × 2.1622 kgCO2/Nm3; factors with sources; carriers without a factor in notCovered' },
  products: { ...openArray, description: 'Per product line: produced, good, output value, energy (kgce, kWh), per-unit energy (kgce per unit, kWh per unit) and the GB 21252-2023 grade reached (1 best, 3 = limit, null = above the limit)' },
  intensity: { ...open, description: 'Comprehensive energy per 10,000 yuan of output value (tce/10^4 yuan), total and by enterprise; enterprises without configured output are listed in excluded' },
  oee: { ...openArray, description: 'ISO 22400-2 per line: PBT, APT (h), PQ, GQ, availability, effectiveness, quality, OEE, overall and by shift' },
  dataQuality: { ...open, description: 'Device online rate (last device_status at `to`), reporting rate (devices with data), completeness (samples received / expected from each intervalMs)' },
};

type Query = ScopeQuery & PeriodQuery & { series?: 'hour' | 'day' };

const querystring = {
  type: 'object', additionalProperties: false,
  properties: {
    ...Object.fromEntries(SCOPE_PARAMS.map((k) => [k, { ...ID, description: `scope: this ${k} (deepest given wins; none = the whole zone)` }])),
    from: { type: 'string', maxLength: 40, description: `Start (inclusive): ${TIME_FORMS}; default -1d` },
    to: { type: 'string', maxLength: 40, description: 'End (exclusive); default now' },
    period: { type: 'string', enum: ['hour', 'day', 'month'], description: 'A local calendar period (with date) instead of from/to' },
    date: { type: 'string', maxLength: 13, description: 'With period: YYYY-MM-DDTHH, YYYY-MM-DD or YYYY-MM in the production timezone' },
  },
} as const;

const head = {
  scope: { ...open, description: 'level (zone, park, enterprise, workshop, line, device) and the ids naming it' },
  period: { ...open, description: 'from, to (epoch ms, [from, to)), timezone' },
};

export interface KpiConfig { standards: Standards; production: Production }

export const kpiRoutes: FastifyPluginAsync<{ config?: KpiConfig }> = async (app, opts) => {
  const standards = opts.config?.standards ?? loadStandards();
  const production = opts.config?.production ?? loadProduction(app.model, standards);
  const deps: KpiDeps = { model: app.model, influx: app.influx, standards, production };

  const answer = async (q: Query, sections: readonly Section[]) => {
    const scope = resolveScope(app.model, q);
    const { from, to } = resolvePeriod(q, Date.now(), production.timezoneOffsetMin);
    if (q.series === 'hour' && to - from > 31 * 86_400_000) throw badParam('series', 'series=hour covers at most 31 days; use series=day');
    const body = await computeKpis(deps, scope, from, to, sections, { ...(q.series ? { series: q.series } : {}) });
    const { devices: _d, ...scopeIds } = scope;
    return { scope: scopeIds, period: { from, to, timezone: production.timezone }, ...body };
  };

  const route = (path: string, sections: readonly Section[], summary: string, description: string, extra: Record<string, object> = {}) => {
    app.get<{ Querystring: Query }>(path, {
      config: { role: 'viewer' },
      schema: {
        summary, description: `${description} Scope by park/enterprise/workshop/line/device; period by from/to or period+date. See docs/kpi.md.`,
        tags: ['kpi'], security: SECURITY, querystring: { ...querystring, properties: { ...querystring.properties, ...extra } },
        response: {
          200: { type: 'object', required: ['scope', 'period', ...sections], properties: { ...head, ...Object.fromEntries(sections.map((s) => [s, SECTION_SCHEMAS[s]])) } },
          400: err, 401: err, 403: err, 502: err,
        },
      },
    }, async (req) => answer(req.query, sections));
  };

  route('/kpi/summary', SECTIONS, 'All KPIs of a scope and period in one call', 'Energy, carbon, per-unit product energy with grades, intensity, OEE and data quality.');
  route('/kpi/energy', ['energy'], 'Energy by carrier and comprehensive energy (kgce, tce)', 'From cumulative meters, correct across resets, declared meter replacements, gaps and late data. With series=hour|day also energy.series: the same per hour or local day.', {
    series: { type: 'string', enum: ['hour', 'day'], description: 'Also break the period down per hour (at most 31 days) or per local day' },
  });
  route('/kpi/carbon', ['carbon'], 'CO2 emissions (tCO2) from electricity and fuels', 'Dated grid factor by the data year; fuel factors from config/standards.yaml.');
  route('/kpi/products', ['products'], 'Per-unit product energy and GB 21252-2023 grade', 'kgce per m2 of tiles, kWh and kgce per 1,000 doses, per product line in scope.');
  route('/kpi/intensity', ['intensity'], 'Energy per 10,000 yuan of output value', 'tce per 10^4 yuan, per enterprise and for the scope.');
  route('/kpi/oee', ['oee'], 'OEE per ISO 22400-2 per production line', 'Availability, effectiveness, quality ratio and OEE over planned busy time, overall and by shift.');
  route('/kpi/data-quality', ['dataQuality'], 'Device online rate and data completeness', 'Online by last device_status, reporting by data received, completeness by samples expected from intervalMs.');

  app.get('/kpi/standards', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Coefficients, emission factors and quotas in use, with sources', tags: ['kpi'], security: SECURITY,
      response: { 200: { type: 'object', additionalProperties: true }, 401: err, 403: err },
    },
  }, async () => ({
    kgceMJ: standards.kgceMJ,
    electricityValue: standards.electricityValue,
    carriers: [...standards.carriers.values()],
    carbon: { electricity: standards.grid, fuels: [...standards.carbon.values()] },
    quotas: [...standards.quotas.values()].map((t) => ({ ...t, classes: Object.fromEntries(t.classes) })),
  }));
};
