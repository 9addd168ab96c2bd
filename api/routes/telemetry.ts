/** GET /api/v1/devices/:id/telemetry (engineer): raw or aggregated time series of one device. */
import type { FastifyPluginAsync } from 'fastify';
import { DURATION_PATTERN } from '../../core/influx/influxql.ts';
import { SECURITY } from '../auth.ts';
import { notFound } from '../errors.ts';
import { ID, METRIC, VALUE } from '../schemas.ts';
import { AGGREGATES, planTelemetry, runTelemetry, type TelemetryParams } from '../telemetry-query.ts';
import { TIME_FORMS } from '../time-params.ts';

const err = { $ref: 'ApiError#' };

export const telemetryRoutes: FastifyPluginAsync = async (app) => {
  const { maxPoints } = app.apiOptions;
  app.get<{ Params: { id: string }; Querystring: TelemetryParams }>('/devices/:id/telemetry', {
    config: { role: 'engineer' },
    schema: {
      summary: 'Time series of one device, raw or aggregated per window',
      description: `Times are ${TIME_FORMS}; default the last hour. With agg, window is required and the answer may hold at most ${maxPoints} points. Point times are epoch ms (window start when aggregated).`,
      tags: ['telemetry'], security: SECURITY,
      params: { type: 'object', required: ['id'], properties: { id: ID } },
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          metric: { type: 'string', maxLength: 2000, pattern: `^${METRIC.slice(1, -1)}(,${METRIC.slice(1, -1)})*$`, description: 'Comma-separated metrics of the device kind; default all (numeric ones for mean/min/max/sum)' },
          from: { type: 'string', maxLength: 40, description: 'Start (inclusive); default -1h' },
          to: { type: 'string', maxLength: 40, description: 'End (inclusive); default now' },
          agg: { type: 'string', enum: ['none', ...AGGREGATES], description: 'Aggregate per window; none (default) for raw points' },
          window: { type: 'string', pattern: DURATION_PATTERN.source, description: 'Window like 10s, 1m, 1h; required with agg' },
          limit: { type: 'integer', minimum: 1, maximum: maxPoints, description: 'Most raw points (default 1000); truncated=true when more exist' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['device', 'kind', 'from', 'to', 'agg', 'window', 'metrics', 'points', 'truncated'],
          properties: {
            device: { type: 'string' }, kind: { type: 'string' },
            from: { type: 'integer', description: 'epoch ms' }, to: { type: 'integer', description: 'epoch ms' },
            agg: { type: 'string' }, window: { type: ['string', 'null'] },
            metrics: {
              type: 'array',
              items: {
                type: 'object', required: ['name', 'type'],
                properties: { name: { type: 'string' }, type: { type: 'string' }, unit: { type: 'string', description: 'Unit of the returned values (1 for count)' } },
              },
            },
            points: {
              type: 'array',
              items: { type: 'object', required: ['ts', 'values'], properties: { ts: { type: 'integer' }, values: { type: 'object', additionalProperties: VALUE } } },
            },
            truncated: { type: 'boolean', description: 'More raw points exist than limit' },
          },
        },
        400: err, 401: err, 403: err, 404: err, 502: err,
      },
    },
  }, async (req) => {
    const device = app.model.devices.get(req.params.id);
    if (!device) throw notFound(`device "${req.params.id}" is not in the park model`, 'id');
    const plan = planTelemetry(device, req.query, Date.now(), maxPoints);
    const { points, truncated } = await runTelemetry(app.influx, plan);
    return {
      device: device.id, kind: device.kind.id, from: plan.from, to: plan.to, agg: plan.agg, window: plan.window,
      metrics: plan.metrics.map((m) => {
        const unit = plan.agg === 'count' ? '1' : m.unit;
        return unit === undefined ? { name: m.name, type: m.type } : { name: m.name, type: m.type, unit };
      }),
      points, truncated,
    };
  });
};
