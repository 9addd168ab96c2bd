/**
 * Builds the Fastify app from injected parts (model, InfluxDB client, live feed, key store), so
 * tests and the entry wire it the same way. Nothing here opens a socket or reads a file.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { requireApiKey } from './auth.ts';
import { contextPlugin, type ApiContext } from './context.ts';
import { errorBody, errorSchema, notFound, toApiError } from './errors.ts';
import { ROLES } from './key-store.ts';
import { alarmRoutes } from './routes/alarms.ts';
import { deviceRoutes } from './routes/devices.ts';
import { healthRoutes } from './routes/health.ts';
import { kpiRoutes, type KpiConfig } from './routes/kpi.ts';
import { liveRoutes } from './routes/live.ts';
import { parkRoutes } from './routes/park.ts';
import { statsRoutes } from './routes/stats.ts';
import { telemetryRoutes } from './routes/telemetry.ts';
import { shared } from './schemas.ts';

export interface AppDeps extends ApiContext {
  /** Standards and production data of the KPI routes; read from their files (STANDARDS_FILE, PRODUCTION_FILE) when absent. */
  kpi?: KpiConfig;
  /** Fastify logger setting (pino options or false); the API logs errors only, not each request. */
  logger?: FastifyServerOptions['logger'];
}

/** Hides `key=...` in logged URLs (WebSocket clients may send their API key in the query). */
const redactUrl = (url: string | undefined) => url?.replace(/([?&]key=)[^&]*/gi, '$1[redacted]');

export function buildApp(deps: AppDeps): FastifyInstance {
  const logger = deps.logger === undefined || deps.logger === false || deps.logger === true ? deps.logger ?? false : {
    ...deps.logger,
    serializers: { req: (r: { method?: string; url?: string; id?: string }) => ({ method: r.method, url: redactUrl(r.url), id: r.id }) },
  };
  const app = Fastify({
    logger,
    logController: new LogController({ disableRequestLogging: true }), // counted in /api/v1/stats, not logged
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    bodyLimit: 64 * 1024, // bytes; the API takes no bodies today
  });

  app.register(contextPlugin, { model: deps.model, influx: deps.influx, live: deps.live, keys: deps.keys, options: deps.options });
  for (const s of [errorSchema, ...shared]) app.addSchema(s);

  app.setErrorHandler((err, req, reply) => {
    const e = toApiError(err);
    if (e.statusCode >= 500) req.log.error({ err, url: redactUrl(req.url) }, 'request failed');
    app.stats.refusal(e.code);
    return reply.code(e.statusCode).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = notFound(`no route ${req.method} ${redactUrl(req.url)?.split('?')[0]}; see /docs`);
    app.stats.refusal(e.code);
    return reply.code(404).send(errorBody(e));
  });
  app.addHook('onResponse', async (_req, reply) => { app.stats.response(reply.statusCode); });

  app.register(fastifySwagger, {
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      info: {
        title: 'Smart-park telemetry API',
        version: '1.0.0',
        description: `Park model, device status and last values, telemetry queries and a live WebSocket feed. Every route under /api/v1 needs an API key (roles: ${ROLES.join(' < ')}). Errors are {"error":{"code","message","param"?}}.`,
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
    },
  });
  app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.register(fastifyWebsocket, { options: { maxPayload: 4096 } }); // bytes: clients only connect, they send nothing

  app.register(healthRoutes);
  app.register(async (v1) => {
    v1.addHook('onRequest', requireApiKey);
    v1.register(parkRoutes);
    v1.register(deviceRoutes);
    v1.register(telemetryRoutes);
    v1.register(liveRoutes);
    v1.register(statsRoutes);
    v1.register(alarmRoutes);
    v1.register(kpiRoutes, { config: deps.kpi });
  }, { prefix: '/api/v1' });
  return app;
}
