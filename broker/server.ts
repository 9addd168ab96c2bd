/**
 * Builds the broker: Aedes with our hooks and limits, listeners for MQTT over TCP and over
 * WebSocket (path /mqtt) — and, when a certificate is configured, the same two over TLS (mqtts,
 * wss) — each connection behind the packet-size guard, and a small HTTP server for /health and
 * /metrics. Returns handles to stop it all.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type AddressInfo } from 'node:net';
import { createServer as createTlsServer, createSecureContext, type TlsOptions } from 'node:tls';
import { PlatformError } from '../core/errors.ts';
import { Aedes, type AedesOptions } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { ParkModel } from '../core/model.ts';
import { Registry } from '../core/metrics.ts';
import { createAuth, type Refusal } from './auth.ts';
import type { BrokerConfig } from './config.ts';
import type { CredentialStore } from './credentials.ts';
import { queuedFor } from './aedes-session-fix.ts';
import { installBackpressure, type Backpressure } from './backpressure.ts';
import { useFifoInMqEmitter } from './mq-queue.ts';
import { guardConnection } from './packet-guard.ts';
import { openPersistence } from './persistence.ts';
import { LoginThrottle } from './login-throttle.ts';
import { trackDeviceStatus } from './status.ts';

export interface BrokerDeps {
  config: Readonly<BrokerConfig>;
  model: ParkModel;
  /** Current credential store (may be swapped at run time, e.g. on SIGHUP). */
  store: () => CredentialStore;
  /** Extra Aedes options; our hooks and limits win. A persistence given here replaces config.persistenceUrl's. */
  aedesOptions?: Partial<AedesOptions>;
  onWarning?: (msg: string) => void;
  onRefused?: (r: Refusal) => void;
  onError?: (where: string, err: Error) => void;
}

export interface RunningBroker {
  aedes: Aedes;
  metrics: Registry;
  /** The session persistence in use: 'memory', or the Redis URL without credentials. */
  persistence: string;
  /** Listening ports; -1 for a listener that is off (mqtts and wss are off without a certificate). */
  ports: { mqtt: number; ws: number; http: number; mqtts: number; wss: number };
  close(): Promise<void>;
}

function listen(server: NetServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startBroker(deps: BrokerDeps): Promise<RunningBroker> {
  const { config } = deps;
  const metrics = new Registry()
    .describe('mqtt_refused_total', 'Connections, publishes and subscriptions refused, by code')
    .describe('mqtt_publish_total', 'PUBLISH packets accepted from clients')
    .describe('mqtt_connects_total', 'Sessions established')
    .describe('mqtt_packet_too_large_total', 'Connections cut for announcing an oversized packet')
    .describe('mqtt_publish_held_total', 'Device publishes held (no PUBACK yet) because a durable consumer\'s queue was over MQTT_CONSUMER_QUEUE_MAX');
  const throttle = new LoginThrottle({
    freeFailures: config.authFreeFailures, windowMs: config.authWindowMs, delayMinMs: 250, delayMaxMs: config.authDelayMaxMs,
    maxWaitMs: Math.min(8000, config.connectTimeoutMs), addressFailures: config.authAddressFailures, maxHeldPerAddress: 100,
  });
  const auth = createAuth({
    model: deps.model, store: deps.store, throttle,
    onRefused: (r) => {
      metrics.inc('mqtt_refused_total', { code: r.code });
      deps.onRefused?.(r);
    },
  });
  // Sessions in memory (default) or in Redis (MQTT_PERSISTENCE_URL): broker/persistence.ts.
  const store = deps.aedesOptions?.persistence ? undefined : await openPersistence(config.persistenceUrl, { onWarning: deps.onWarning });
  let backpressure: Backpressure | undefined;
  const authorizePublish = auth.authorizePublish;
  let gatedPublish: typeof authorizePublish = authorizePublish;
  const aedes = await Aedes.createBroker({
    ...deps.aedesOptions,
    ...store?.aedesOptions,
    maxTopicLevels: config.maxTopicLevels,
    maxInflightInbound: config.maxInflightInbound,
    queueLimit: config.queueLimit,
    drainTimeout: config.drainTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    maxClientsIdLength: 64,
    authenticate: auth.authenticate,
    authorizePublish: (client, packet, cb) => gatedPublish(client, packet, cb),
    authorizeSubscribe: auth.authorizeSubscribe,
  });
  // memory: the session-replay fix; Redis: our session queue in Redis and PUBACK after store.
  await store?.install(aedes);
  useFifoInMqEmitter(aedes); // mqemitter's waiting deliveries: O(1) instead of Array#shift
  // durable consumers (ingest) hold devices back instead of being cut or queued for without bound
  backpressure = installBackpressure(aedes, {
    maxQueued: config.consumerQueueMax, principalOf: auth.principalOf,
    onHold: () => metrics.inc('mqtt_publish_held_total'),
  });
  gatedPublish = backpressure.wrap(authorizePublish);
  metrics.gauge('mqtt_publish_waiting', () => backpressure!.held().now);
  metrics.gauge('mqtt_consumer_queued', () => Math.max(0, ...[...backpressure!.consumers].map((id) => queuedFor(aedes, id) ?? 0)));
  trackDeviceStatus(aedes, auth.principalOf);
  metrics.gauge('mqtt_clients_connected', () => aedes.connectedClients);
  aedes.on('client', () => metrics.inc('mqtt_connects_total'));
  aedes.on('publish', (_p, client) => { if (client) metrics.inc('mqtt_publish_total'); });
  aedes.on('clientError', (_c, err) => deps.onError?.('client', err));
  aedes.on('connectionError', (_c, err) => deps.onError?.('connection', err));

  const handle = (stream: Parameters<typeof guardConnection>[0]) => {
    const guarded = guardConnection(stream, {
      maxPacketBytes: config.maxPacketBytes,
      onTooLarge: (n) => {
        metrics.inc('mqtt_packet_too_large_total');
        metrics.inc('mqtt_refused_total', { code: 'SP_ERR_PACKET_TOO_LARGE' });
        deps.onRefused?.({ code: 'SP_ERR_PACKET_TOO_LARGE', clientId: '?', detail: `packet of ${n} bytes exceeds ${config.maxPacketBytes}` });
      },
    });
    guarded.on('error', () => {});
    aedes.handle(guarded);
  };

  const tcp = createNetServer((sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    handle(sock);
  });
  const mqttPort = await listen(tcp, config.mqttPort, config.host);

  let http: HttpServer | undefined;
  let wsPort = -1;
  let httpPort = -1;
  const wsServers: WebSocketServer[] = [];
  // A WebSocket listener has its own HTTP(S) server, so it can be exposed apart from /metrics.
  const upgradeOnly = (_req: unknown, res: { statusCode: number; end(s: string): void }) => { res.statusCode = 426; res.end('MQTT over WebSocket lives at /mqtt\n'); };
  const attachWs = (server: HttpServer) => {
    const wss = new WebSocketServer({
      server, path: '/mqtt', maxPayload: config.maxPacketBytes,
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    });
    wss.on('connection', (ws, req) => {
      const stream = createWebSocketStream(ws);
      Object.assign(stream, { remoteAddress: req.socket.remoteAddress });
      stream.on('error', () => {});
      handle(stream);
    });
    wsServers.push(wss);
  };
  const wsHttp = createHttpServer(upgradeOnly);
  if (config.wsPort >= 0) {
    attachWs(wsHttp);
    wsPort = await listen(wsHttp, config.wsPort, config.host);
  }
  // TLS: the same listeners with a certificate; authentication, limits and guard are the same.
  let mqtts: NetServer | undefined;
  let wssHttps: HttpServer | undefined;
  let mqttsPort = -1;
  let wssPort = -1;
  if (config.tlsCertFile && config.tlsKeyFile) {
    const tls: TlsOptions = { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile), minVersion: 'TLSv1.2' };
    try {
      createSecureContext(tls);
    } catch (e) {
      throw new PlatformError('SP_ERR_CONFIG', `MQTT_TLS_CERT_FILE/MQTT_TLS_KEY_FILE (${config.tlsCertFile}, ${config.tlsKeyFile}): expected a certificate and its private key: ${(e as Error).message}`);
    }
    if (config.tlsPort >= 0) {
      mqtts = createTlsServer({ ...tls, handshakeTimeout: config.connectTimeoutMs }, (sock) => {
        sock.setNoDelay(true);
        sock.on('error', () => {});
        handle(sock);
      });
      mqtts.on('tlsClientError', () => {}); // failed handshakes: nothing reaches Aedes
      mqttsPort = await listen(mqtts, config.tlsPort, config.host);
    }
    if (config.wssPort >= 0) {
      wssHttps = createHttpsServer({ ...tls, handshakeTimeout: config.connectTimeoutMs }, upgradeOnly);
      wssHttps.on('tlsClientError', () => {});
      attachWs(wssHttps);
      wssPort = await listen(wssHttps, config.wssPort, config.host);
    }
  }
  if (config.httpPort >= 0) {
    http = createHttpServer((req, res) => {
      if (req.url === '/metrics') {
        res.setHeader('content-type', 'text/plain; version=0.0.4');
        res.end(metrics.toPrometheus());
      } else if (req.url === '/stats') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(metrics.toJSON()));
      } else if (req.url === '/health') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 'ok', clients: aedes.connectedClients }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    httpPort = await listen(http, config.httpPort, config.host);
  }

  const closeServer = (s: NetServer | HttpServer | undefined) =>
    new Promise<void>((r) => (s && s.listening ? s.close(() => r()) : r()));
  return {
    aedes, metrics, ports: { mqtt: mqttPort, ws: wsPort, http: httpPort, mqtts: mqttsPort, wss: wssPort },
    persistence: store?.describe ?? 'custom',
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await store?.close();
      for (const wss of wsServers) {
        wss.clients.forEach((c) => c.terminate());
        wss.close();
      }
      await Promise.all([closeServer(tcp), closeServer(wsHttp), closeServer(http), closeServer(mqtts), closeServer(wssHttps)]);
    },
  };
}
