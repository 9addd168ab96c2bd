/** Entry of the API: read config, wire, start, stop on SIGINT/SIGTERM. */
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import pino from 'pino';
import { InfluxClient } from '../core/influx/client.ts';
import { serveMetrics } from '../core/metrics.ts';
import { loadParkModel } from '../core/model-file.ts';
import { loadProduction, loadStandards } from '../core/kpi/config-file.ts';
import { buildApp } from './app.ts';
import { KpiRollup } from './kpi/rollup.ts';
import { loadApiConfig } from './config.ts';
import { loadKeyStore } from './key-store.ts';
import { ensureConsoleBundle } from './console/bundle.ts';
import { DeviceAdmin } from './console/device-admin.ts';
import { firstAdminPasswordFile, openUsers } from './console/first-run.ts';
import { LiveHub } from './live-hub.ts';
import { connectMqttFeed } from './mqtt-feed.ts';

const level = process.env.LOG_LEVEL ?? 'info';
let wiring;
try {
  const config = loadApiConfig();
  const model = loadParkModel(config.parkModelFile);
  const standards = loadStandards();
  // read once: the KPI routes and the rollup share them
  wiring = { config, model, keys: loadKeyStore(config.keysFile), kpi: { standards, production: loadProduction(model, standards) }, users: openUsers(config.console.usersFile) };
} catch (e) {
  pino({ name: 'api' }).fatal({ code: (e as { code?: string }).code }, (e as Error).message);
  process.exit(1);
}
const { config, model, keys, kpi, users } = wiring;
const pages = await ensureConsoleBundle();

const hub = new LiveHub(model);
const influx = new InfluxClient(config.influx);
const feed = connectMqttFeed(config.mqtt, hub);
const app = buildApp({
  model, keys, live: hub, influx, kpi, logger: { level, name: 'api' }, corsOrigins: config.corsOrigins,
  console: {
    users: users.store, sessionTtlMs: config.console.sessionTtlMs, ...(pages.dir ? { staticDir: pages.dir } : {}),
    login: { freeFailures: config.console.loginFreeFailures, addressFailures: config.console.loginAddressFailures, windowMs: config.console.loginWindowMs },
    // device admin edits the broker's store: only where it is on this machine
    ...(existsSync(config.console.credentialsFile) ? { devices: new DeviceAdmin({ credentialsFile: config.console.credentialsFile, brokerPidFile: config.console.brokerPidFile, mqttUrl: config.mqtt.url }) } : {}),
  },
  options: { lastValuesLookback: config.lastValuesLookback, maxPoints: config.maxPoints, wsMaxBufferedBytes: config.wsMaxBufferedBytes },
});
feed.client.on('connect', () => app.log.info({ url: config.mqtt.url, clientId: config.mqtt.clientId }, 'mqtt connected'));
feed.client.on('close', () => app.log.warn({ url: config.mqtt.url }, 'mqtt disconnected'));
feed.client.on('error', (err) => app.log.error({ err: err.message }, 'mqtt error'));

// Hourly KPI facts for the dashboards (kpi_hourly)
const rollup = new KpiRollup({ model, influx, ...kpi }, {
  ...config.kpiRollup,
  onTick: (hours, ms) => app.log.debug({ hours, ms }, 'kpi rollup written'),
  onError: (err) => app.log.warn({ err: err.message }, 'kpi rollup failed; retried on the next tick'),
});

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  app.log.info({ signal }, 'stopping');
  if (https) await new Promise((r) => https!.close(r));
  if (metricsServer) await new Promise((r) => metricsServer!.close(r));
  await rollup.stop();
  await app.close();
  await feed.close();
  app.log.info('stopped');
}
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));

/**
 * HTTPS when a certificate is configured: an https server hands each request (and each
 * WebSocket upgrade) to the app, which is built the same way as for HTTP (api/app.ts).
 */
let https: HttpsServer | undefined;
async function listenTls(tls: { certFile: string; keyFile: string }): Promise<void> {
  await app.ready();
  const server = createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), minVersion: 'TLSv1.2' }, (req, res) => app.routing(req, res));
  server.on('upgrade', (req, socket, head) => app.server.emit('upgrade', req, socket, head));
  server.on('tlsClientError', () => {});
  https = server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
}

/** /metrics (prom-client) on its own port, like broker, ingest and gateway: not on the public API port. */
let metricsServer: HttpServer | undefined;
async function listenMetrics(): Promise<void> {
  if (config.metrics.port < 0) return;
  const server = createHttpServer((req, res) => {
    if (req.url === '/metrics') return serveMetrics(app.stats.metrics, res);
    res.statusCode = 404;
    res.end();
  });
  metricsServer = server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metrics.port, config.metrics.host, () => resolve());
  });
}

try {
  await listenMetrics();
  if (config.tls) await listenTls(config.tls);
  else await app.listen({ host: config.host, port: config.port });
  app.log.info({ https: Boolean(config.tls), model: model.zone.id, devices: model.devices.size, keys: keys.entries.length, influx: config.influx.url }, 'api listening');
  if (metricsServer) app.log.info({ port: config.metrics.port, host: config.metrics.host }, 'metrics at /metrics');
  if (!pages.dir) app.log.warn({ why: pages.why }, 'console pages not served');
  else app.log.info({ bundle: pages.dir, built: pages.built, bytes: pages.bytes, buildMs: pages.ms, ...(pages.why ? { why: pages.why } : {}) }, 'console served at /');
  if (users.firstAdminPassword) app.log.warn({ user: 'admin', passwordFile: firstAdminPasswordFile(config.console.usersFile) }, 'console first-run admin created; its password is in passwordFile');
  rollup.start();
} catch (e) {
  app.log.fatal({ err: (e as Error).message }, 'cannot start');
  await feed.close();
  process.exit(1);
}
