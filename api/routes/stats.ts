/** GET /api/v1/stats (admin): request and refusal counts, live clients, MQTT messages seen. */
import type { FastifyPluginAsync } from 'fastify';
import { SECURITY } from '../auth.ts';

const counts = { type: 'object', additionalProperties: { type: 'integer' } };
const err = { $ref: 'ApiError#' };

export const statsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/stats', {
    config: { role: 'admin' },
    schema: {
      summary: 'Counters of the API since it started',
      tags: ['admin'], security: SECURITY,
      response: {
        200: {
          type: 'object',
          properties: {
            startedAt: { type: 'integer' }, uptimeMs: { type: 'integer' },
            requests: { type: 'integer' }, byStatus: counts, refused: counts,
            live: {
              type: 'object',
              properties: {
                clients: { type: 'integer' }, connections: { type: 'integer' }, sent: { type: 'integer' },
                dropped: { type: 'integer', description: 'messages skipped for slow clients' },
              },
            },
            mqtt: {
              type: 'object',
              properties: {
                connected: { type: 'boolean' }, messages: { type: 'integer' }, telemetryReadings: { type: 'integer' },
                statusMessages: { type: 'integer' }, invalid: { type: 'integer' }, invalidByCode: counts,
              },
            },
          },
        },
        401: err, 403: err,
      },
    },
  }, async () => {
    const s = app.stats;
    return {
      startedAt: s.startedAt, uptimeMs: Date.now() - s.startedAt,
      requests: s.requests, byStatus: s.byStatus, refused: s.refused,
      live: { clients: s.liveClients, connections: s.liveConnections, sent: s.liveSent, dropped: s.liveDropped },
      mqtt: { connected: app.live.connected, ...app.live.counters() },
    };
  });
};
