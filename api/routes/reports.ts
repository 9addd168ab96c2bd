/**
 * GET /api/v1/reports/energy?enterprise=&park=&month=YYYY-MM (viewer): the monthly energy report
 * of one enterprise as an .xlsx workbook (exceljs). Its figures are those of
 * GET /api/v1/kpi/summary?enterprise=…&period=month&date=YYYY-MM — computed by the same code
 * (api/kpi/compute.ts) for the same scope and local month, then laid out in sheets by
 * api/console/energy-report.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import { loadProduction, loadStandards } from '../../core/kpi/config-file.ts';
import { SECURITY } from '../auth.ts';
import { energyReport } from '../console/energy-report.ts';
import { computeKpis, SECTIONS } from '../kpi/compute.ts';
import { resolvePeriod, resolveScope } from '../kpi/scope.ts';
import { ID } from '../schemas.ts';
import type { KpiConfig } from './kpi.ts';

const err = { $ref: 'ApiError#' };
export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

export const reportRoutes: FastifyPluginAsync<{ config?: KpiConfig }> = async (app, opts) => {
  const standards = opts.config?.standards ?? loadStandards();
  const production = opts.config?.production ?? loadProduction(app.model, standards);
  const deps = { model: app.model, influx: app.influx, standards, production };

  app.get<{ Querystring: { enterprise: string; park?: string; month: string } }>('/reports/energy', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Monthly energy report of an enterprise (.xlsx): the figures of /kpi/summary for that enterprise and month',
      tags: ['kpi'], security: SECURITY,
      querystring: {
        type: 'object', additionalProperties: false, required: ['enterprise', 'month'],
        properties: {
          enterprise: { ...ID, description: 'the enterprise (qualify with park when its id is used in several parks)' },
          park: ID,
          month: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM, local time of the production calendar' },
        },
      },
      response: {
        200: { description: 'The workbook (sheets Summary, Energy, Products, Data quality; each value row carries its KPI key)', content: { [XLSX_TYPE]: { schema: { type: 'string', format: 'binary' } } } },
        400: err, 401: err, 403: err, 502: err,
      },
    },
  }, async (req, reply) => {
    const q = req.query;
    const scope = resolveScope(app.model, { enterprise: q.enterprise, ...(q.park ? { park: q.park } : {}) });
    const { from, to } = resolvePeriod({ period: 'month', date: q.month }, Date.now(), production.timezoneOffsetMin);
    const kpis = await computeKpis(deps, scope, from, to, SECTIONS, {});
    const { devices: _d, ...scopeIds } = scope;
    const body = await energyReport({ scope: scopeIds, period: { from, to, timezone: production.timezone }, month: q.month, ...kpis }, app.model);
    return reply
      .header('content-type', XLSX_TYPE)
      .header('content-disposition', `attachment; filename="energy-${scope.park}-${scope.enterprise}-${q.month}.xlsx"`)
      .header('cache-control', 'no-store')
      .send(body);
  });
};
