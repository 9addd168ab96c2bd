/** GET /api/v1/park and /api/v1/kinds (viewer): the park tree and the device kinds, from the model. */
import type { FastifyPluginAsync } from 'fastify';
import { SECURITY } from '../auth.ts';
import { kindView, parkTree } from '../views.ts';

const err = { $ref: 'ApiError#' };
const named = (extra: Record<string, unknown>, required: string[]) => ({
  type: 'object', required: ['id', 'name', ...required],
  properties: { id: { type: 'string' }, name: { type: 'string' }, nameZh: { type: 'string' }, ...extra },
});
const devices = { type: 'array', items: { $ref: 'DeviceRef#' } };
const line = named({ devices }, ['devices']);
const workshop = named({ lines: { type: 'array', items: line }, devices }, ['lines', 'devices']);
const enterprise = named({ sector: { type: 'string' }, workshops: { type: 'array', items: workshop } }, ['sector', 'workshops']);
const park = named({ enterprises: { type: 'array', items: enterprise } }, ['enterprises']);

export const parkRoutes: FastifyPluginAsync = async (app) => {
  const tree = parkTree(app.model);
  const kinds = { kinds: [...app.model.kinds.values()].map(kindView) };

  app.get('/park', {
    config: { role: 'viewer' },
    schema: {
      summary: 'The park tree: zone -> parks -> enterprises -> workshops -> lines -> devices',
      tags: ['model'], security: SECURITY,
      response: {
        200: { type: 'object', required: ['zone', 'parks'], properties: { zone: named({}, []), parks: { type: 'array', items: park } } },
        401: err, 403: err,
      },
    },
  }, async () => tree);

  app.get('/kinds', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Device kinds with their metrics (type, unit) and default rated figures',
      tags: ['model'], security: SECURITY,
      response: {
        200: {
          type: 'object', required: ['kinds'],
          properties: {
            kinds: {
              type: 'array',
              items: {
                type: 'object', required: ['id', 'description', 'intervalMs', 'metrics', 'rated'],
                properties: {
                  id: { type: 'string' }, description: { type: 'string' }, intervalMs: { type: 'integer' },
                  metrics: { type: 'array', items: { $ref: 'Metric#' } }, rated: { $ref: 'Rated#' },
                },
              },
            },
          },
        },
        401: err, 403: err,
      },
    },
  }, async () => kinds);
};
