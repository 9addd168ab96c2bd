/** GET /health (no key): InfluxDB and MQTT reachability and a model summary; 503 when either is down. */
import type { FastifyPluginAsync } from 'fastify';
import { modelSummary } from '../views.ts';

const up = { type: 'object', required: ['up'], properties: { up: { type: 'boolean' }, error: { type: 'string' } } };
const body = {
  type: 'object', required: ['status', 'influxdb', 'mqtt', 'model'],
  properties: {
    status: { type: 'string', enum: ['ok', 'down'] },
    influxdb: up, mqtt: up,
    model: { type: 'object', additionalProperties: { type: ['string', 'integer'] }, description: 'Counts of the park model' },
    error: { $ref: 'ApiError#/properties/error' },
  },
};

export const healthRoutes: FastifyPluginAsync = async (app) => {
  const model = modelSummary(app.model);
  app.get('/health', {
    schema: { summary: 'Health of the API and what it depends on (no key needed)', tags: ['health'], response: { 200: body, 503: body } },
  }, async (_req, reply) => {
    const influxUp = await app.influx.ping();
    const mqtt = app.live.connected ? { up: true } : { up: false, error: app.live.lastError ?? 'not connected to the broker' };
    const influxdb = influxUp ? { up: true } : { up: false, error: 'InfluxDB did not answer /ping' };
    const down = [...(influxUp ? [] : ['InfluxDB']), ...(mqtt.up ? [] : ['the MQTT broker'])];
    if (down.length === 0) return { status: 'ok', influxdb, mqtt, model };
    app.stats.refusal('SP_ERR_API_UPSTREAM');
    return reply.code(503).send({
      status: 'down', influxdb, mqtt, model,
      error: { code: 'SP_ERR_API_UPSTREAM', message: `${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} down` },
    });
  });
};
