/**
 * Builds the Fastify app from injected parts (model, InfluxDB client, live feed, key store), so
 * tests and the entry wire it the same way. Nothing here opens a socket or reads a file.
 */
import fastifyCors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { requireApiKey } from './auth.ts';
import { openApiJsonRoute, openApiTransform } from './openapi.ts';
import { consolePlugin, NO_USERS, type ConsoleDeps } from './console/plugin.ts';
import { contextPlugin, type ApiContext } from './context.ts';
import { errorBody, errorSchema, notFound, toApiError } from './errors.ts';
import { ROLES } from './key-store.ts';
import { alarmRoutes } from './routes/alarms.ts';
import { deviceAdminRoutes } from './routes/device-admin.ts';
import { deviceRoutes } from './routes/devices.ts';
import { healthRoutes } from './routes/health.ts';
import { kpiRoutes, type KpiConfig } from './routes/kpi.ts';
import { liveRoutes } from './routes/live.ts';
import { parkRoutes } from './routes/park.ts';
import { reportRoutes } from './routes/reports.ts';
import { sessionRoutes } from './routes/session.ts';
import { statsRoutes } from './routes/stats.ts';
import { telemetryRoutes } from './routes/telemetry.ts';
import { shared } from './schemas.ts';

export interface AppDeps extends ApiContext {
  /** Standards and production data of the KPI routes; read from their files (STANDARDS_FILE, PRODUCTION_FILE) when absent. */
  kpi?: KpiConfig;
  /** Fastify logger setting (pino options or false); the API logs errors only, not each request. */
  logger?: FastifyServerOptions['logger'];
  /** Origins (scheme://host[:port]) whose browser pages may call the API (CORS); none: same origin only. */
  corsOrigins?: readonly string[];
  /** Operator console: users, sessions, device admin, built pages (api/console/). None: nobody can log in. */
  console?: ConsoleDeps;
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
  app.register(consolePlugin, deps.console ?? { users: NO_USERS });
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
  app.addHook('onResponse', async (req, reply) => { app.stats.response(reply.statusCode, req.method, req.routeOptions.url ?? '', reply.elapsedTime / 1000); });

  app.register(fastifySwagger, {
    transform: openApiTransform as never,
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      info: {
        title: 'Smart-park telemetry API',
        version: '1.0.0',
        license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
        description: `Park model, device status and last values, telemetry queries and a live WebSocket feed. Every route under /api/v1 needs an API key (roles: ${ROLES.join(' < ')}). Errors are {"error":{"code","message","param"?}}.`,
      },
      servers: [{ url: 'http://127.0.0.1:8080', description: 'npm run up on this machine (API_HOST, API_PORT; https when API_TLS_CERT_FILE is set)' }],
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'sp_session', description: 'console login (POST /api/v1/session); changing requests also need x-csrf-token' },
        },
      },
    },
  });
  app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.register(fastifyWebsocket, { options: { maxPayload: 4096 } }); // bytes: clients only connect, they send nothing

  if (deps.corsOrigins?.length) {
    // Opt-in (API_CORS_ORIGINS): API keys in headers only, never cookies, for other origins.
    app.register(fastifyCors, { origin: [...deps.corsOrigins], credentials: false, methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], allowedHeaders: ['x-api-key', 'authorization', 'content-type'], maxAge: 600 });
  }
  app.register(healthRoutes);
  app.register(openApiJsonRoute);
  const pages = deps.console?.staticDir;
  if (pages) {
    // The console (console/, built by scripts/build-console.ts): index at /, assets under /console/.
    app.register(fastifyStatic, { root: pages, prefix: '/console/', index: false, preCompressed: true, cacheControl: true, maxAge: 3600_000 });
    app.get('/', { schema: { hide: true } }, (_req, reply) => reply
      .header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; frame-ancestors 'none'")
      .header('cache-control', 'no-cache')
      .sendFile('index.html'));
  }
  app.register(async (v1) => {
    v1.addHook('onRequest', requireApiKey);
    v1.register(parkRoutes);
    v1.register(deviceRoutes);
    v1.register(telemetryRoutes);
    v1.register(liveRoutes);
    v1.register(statsRoutes);
    v1.register(alarmRoutes);
    v1.register(kpiRoutes, { config: deps.kpi });
    v1.register(sessionRoutes);
    v1.register(deviceAdminRoutes);
    v1.register(reportRoutes, { config: deps.kpi });
  }, { prefix: '/api/v1' });
  return app;
}
