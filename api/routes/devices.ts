/** GET /api/v1/devices and /api/v1/devices/:id (viewer): place, status, last-seen and last values. */
import type { FastifyPluginAsync } from 'fastify';
import type { DeviceModel, ParkModel } from '../../core/model.ts';
import { SECURITY } from '../auth.ts';
import { badParam, notFound } from '../errors.ts';
import { queryLastValues, type LastValues, type Scope } from '../last-values.ts';
import type { LiveSource } from '../live-hub.ts';
import { ID, VALUE } from '../schemas.ts';
import { devicePlace, metricView } from '../views.ts';
import { deviceTopic } from '../../core/contract.ts';

interface ListQuery { park?: string; enterprise?: string; workshop?: string; line?: string; kind?: string }
const FILTERS = ['park', 'enterprise', 'workshop', 'line', 'kind'] as const;

const errors = { 400: { $ref: 'ApiError#' }, 401: { $ref: 'ApiError#' }, 403: { $ref: 'ApiError#' }, 502: { $ref: 'ApiError#' } };

function summary(d: DeviceModel, live: LiveSource, last: LastValues | undefined): Record<string, unknown> {
  const s = live.statusOf(d.id);
  return {
    ...devicePlace(d),
    status: s ? { state: s.state, since: s.since, ...(s.info !== undefined ? { info: s.info } : {}) } : { state: 'unknown', since: null },
    lastSeen: last?.lastSeen ?? null,
    values: last?.values ?? {},
  };
}

/** Refuses a filter value that names nothing in the model, so a typo does not look like "no devices". */
function checkFilters(model: ParkModel, q: ListQuery): void {
  const all = [...model.devices.values()];
  for (const f of FILTERS) {
    const v = q[f];
    if (v === undefined) continue;
    const known = f === 'kind' ? model.kinds.has(v) : all.some((d) => d[f] === v);
    if (!known) throw badParam(f, `${f} "${v}" is not in the park model; see GET /api/v1/park${f === 'kind' ? ' and /api/v1/kinds' : ''}`);
  }
}

function narrowest(q: ListQuery): Scope | undefined {
  for (const tag of ['line', 'workshop', 'enterprise', 'park'] as const) {
    const v = q[tag];
    if (v !== undefined) return { tag, value: v };
  }
  return undefined;
}

export const deviceRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: ListQuery }>('/devices', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Devices with place, status, last-seen time and last values',
      tags: ['devices'], security: SECURITY,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: Object.fromEntries(FILTERS.map((f) => [f, { ...ID, description: `only devices of this ${f}` }])),
      },
      response: { 200: { type: 'object', required: ['devices'], properties: { devices: { type: 'array', items: { $ref: 'DeviceSummary#' } } } }, ...errors },
    },
  }, async (req) => {
    const q = req.query;
    checkFilters(app.model, q);
    const devices = [...app.model.devices.values()].filter((d) => FILTERS.every((f) => q[f] === undefined || (f === 'kind' ? d.kind.id : d[f]) === q[f]));
    const last = await queryLastValues(app.influx, devices, app.apiOptions.lastValuesLookback, narrowest(q));
    return { devices: devices.map((d) => summary(d, app.live, last.get(d.id))) };
  });

  app.get<{ Params: { id: string } }>('/devices/:id', {
    config: { role: 'viewer' },
    schema: {
      summary: 'One device: place, metrics with units, rated figures, status and last values',
      tags: ['devices'], security: SECURITY,
      params: { type: 'object', required: ['id'], properties: { id: ID } },
      response: {
        200: {
          type: 'object',
          required: ['id', 'name', 'kind', 'status', 'lastSeen', 'values', 'metrics', 'rated'],
          properties: {
            id: { type: 'string' }, name: { type: 'string' }, kind: { type: 'string' },
            park: { type: 'string' }, enterprise: { type: 'string' }, workshop: { type: 'string' }, line: { type: 'string' },
            status: { $ref: 'DeviceStatus#' },
            lastSeen: { type: ['integer', 'null'] },
            values: { type: 'object', additionalProperties: VALUE },
            intervalMs: { type: 'integer' },
            topics: {
              type: 'object', description: 'The MQTT topics this device publishes to (docs/contract.md)',
              properties: { telemetry: { type: 'string' }, status: { type: 'string' } },
            },
            metrics: { type: 'array', items: { $ref: 'Metric#' } },
            rated: { $ref: 'Rated#' },
          },
        },
        404: { $ref: 'ApiError#' }, ...errors,
      },
    },
  }, async (req) => {
    const d = app.model.devices.get(req.params.id);
    if (!d) throw notFound(`device "${req.params.id}" is not in the park model`, 'id');
    const last = await queryLastValues(app.influx, [d], app.apiOptions.lastValuesLookback, { tag: 'device', value: d.id });
    return {
      ...summary(d, app.live, last.get(d.id)),
      intervalMs: d.intervalMs,
      topics: { telemetry: deviceTopic(d, 'telemetry'), status: deviceTopic(d, 'status') },
      metrics: [...d.kind.metrics.values()].map(metricView),
      rated: { ...d.rated },
    };
  });
};
