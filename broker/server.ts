/**
 * Builds the broker: Aedes through our seam (broker/aedes/) with our hooks and limits, listeners
 * for MQTT over TCP and over WebSocket (path /mqtt) — and, when a certificate is configured, the
 * same two over TLS (mqtts, wss) — each connection behind the packet-size guard, and a small HTTP
 * server for /health and /metrics (broker/listeners/). Returns handles to stop it all.
 */
import type { Duplex } from 'node:stream';
import type { Aedes, AedesOptions } from 'aedes';
import type { ParkModel } from '../core/model.ts';
import { Registry } from '../core/metrics.ts';
import { ackAfterStore, chainAuthorizePublish, createPatchedBroker } from './aedes/index.ts';
import { createAuth, type Refusal } from './auth.ts';
import { createBackpressure } from './backpressure.ts';
import { openJetStreamStage } from './aedes/jetstream-stage.ts';
import { startMqttRelay } from '../cluster/mqtt-relay.ts';
import type { BrokerConfig } from './config.ts';
import type { CredentialStore } from './credentials.ts';
import { listenHttp } from './listeners/http.ts';
import type { Listener } from './listeners/listener.ts';
import { listenTcp } from './listeners/tcp.ts';
import { listenMqtts, listenWss, loadTls } from './listeners/tls.ts';
import { listenWs } from './listeners/ws.ts';
import { LoginThrottle } from './login-throttle.ts';
import { guardConnection } from './packet-guard.ts';
import { openPersistence, type OpenPersistence } from './persistence.ts';
import { trackDeviceStatus } from './status.ts';

export interface BrokerDeps {
  config: Readonly<BrokerConfig>;
  model: ParkModel;
  /** Current credential store (may be swapped at run time, e.g. on SIGHUP). */
  store: () => CredentialStore;
  /** Extra Aedes options; our hooks, limits and persistence win. */
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
  /** Messages in a session's queue known to this broker (undefined without our queue). */
  queued(clientId: string): number | undefined;
  /** Listening ports; -1 for a listener that is off (mqtts and wss are off without a certificate). */
  ports: { mqtt: number; ws: number; http: number; mqtts: number; wss: number };
  close(): Promise<void>;
}

function brokerMetrics(): Registry {
  return new Registry({ processMetrics: true })
    .describe('mqtt_refused_total', 'Connections, publishes and subscriptions refused, by code')
    .describe('mqtt_publish_total', 'PUBLISH packets accepted from clients')
    .describe('mqtt_connects_total', 'Sessions established')
    .describe('mqtt_packet_too_large_total', 'Connections cut for announcing an oversized packet')
    .describe('mqtt_publish_held_total', 'Device publishes held (no PUBACK yet) because a durable consumer\'s queue was over MQTT_CONSUMER_QUEUE_MAX')
    .describe('mqtt_publish_waiting', 'Device publishes held back right now (no PUBACK until the durable consumer catches up)')
    .describe('mqtt_consumer_queued', 'Longest session queue of a durable consumer (messages queued or sent and not yet acknowledged)')
    .describe('mqtt_clients_connected', 'Clients connected now')
    .describe('mqtt_jetstream_waiting', 'Publishes waiting for JetStream to acknowledge them (cluster profile)');
}

export async function startBroker(deps: BrokerDeps): Promise<RunningBroker> {
  const { config } = deps;
  const metrics = brokerMetrics();
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
  const store: OpenPersistence = await openPersistence(config.persistenceUrl, { onWarning: deps.onWarning });
  // durable consumers (ingest) hold devices back instead of being cut or queued for without bound
  const backpressure = createBackpressure({
    maxQueued: config.consumerQueueMax, principalOf: auth.principalOf, queued: store.queued,
    onHold: () => metrics.inc('mqtt_publish_held_total'),
  });
  // durable profile: the PUBACK of a QoS 1 publish leaves only once the message is stored
  const afterStore = store.durable ? ackAfterStore() : undefined;
  // cluster profile: device publishes go to the replicated JetStream stream before their PUBACK
  const jetstream = config.jetstreamUrl ? await openJetStreamStage({
    url: config.jetstreamUrl, partitions: config.jetstreamPartitions, replicas: config.jetstreamReplicas, maxBytes: config.jetstreamMaxBytes,
    dedupWindowMs: config.jetstreamDedupWindowMs, ackTimeoutMs: config.jetstreamAckTimeoutMs, name: `broker-${process.pid}`,
    principalOf: auth.principalOf, metrics,
  }) : undefined;
  const authorizePublish = chainAuthorizePublish(auth.authorizePublish, backpressure.stage, afterStore?.stage, jetstream?.stage);
  const aedes = await createPatchedBroker({
    ...deps.aedesOptions,
    maxTopicLevels: config.maxTopicLevels,
    maxInflightInbound: config.maxInflightInbound,
    queueLimit: config.queueLimit,
    drainTimeout: config.drainTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    maxClientsIdLength: 64,
    authenticate: auth.authenticate,
    authorizePublish,
    authorizeSubscribe: auth.authorizeSubscribe,
  }, {
    persistence: store.persistence, ackAfterStore: afterStore, subscriptionBus: store.subscriptionBus,
    publishOrphanWills: store.durable, onError: (err) => deps.onError?.('persistence', err),
  });
  backpressure.attach(aedes);
  // cluster profile: what this broker routes reaches the subscribers of the others (NATS core subjects)
  const relay = config.jetstreamUrl ? await startMqttRelay(aedes, { url: config.jetstreamUrl, name: `broker-relay-${process.pid}`, onError: (err) => deps.onError?.('relay', err) }) : undefined;
  jetstream?.attach(aedes, (p) => relay?.isRelayed(p) ?? false);
  metrics.gauge('mqtt_publish_waiting', () => backpressure.held().now);
  metrics.gauge('mqtt_consumer_queued', () => Math.max(0, ...[...backpressure.consumers].map((id) => store.queued(id) ?? 0)));
  trackDeviceStatus(aedes, auth.principalOf);
  metrics.gauge('mqtt_clients_connected', () => aedes.connectedClients);
  aedes.on('client', () => metrics.inc('mqtt_connects_total'));
  aedes.on('publish', (_p, client) => { if (client) metrics.inc('mqtt_publish_total'); });
  aedes.on('clientError', (_c, err) => deps.onError?.('client', err));
  aedes.on('connectionError', (_c, err) => deps.onError?.('connection', err));

  const handle = (stream: Duplex) => {
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

  const { host } = config;
  const listeners: Listener[] = [];
  const open = async (l: Promise<Listener>): Promise<number> => {
    const got = await l;
    listeners.push(got);
    return got.port;
  };
  const ports = { mqtt: -1, ws: -1, http: -1, mqtts: -1, wss: -1 };
  ports.mqtt = await open(listenTcp(handle, config.mqttPort, host));
  if (config.wsPort >= 0) ports.ws = await open(listenWs(handle, config.wsPort, host, config.maxPacketBytes));
  if (config.tlsCertFile && config.tlsKeyFile) {
    const tls = loadTls(config.tlsCertFile, config.tlsKeyFile);
    if (config.tlsPort >= 0) ports.mqtts = await open(listenMqtts(handle, tls, config.tlsPort, host, config.connectTimeoutMs));
    if (config.wssPort >= 0) ports.wss = await open(listenWss(handle, tls, config.wssPort, host, config.connectTimeoutMs, config.maxPacketBytes));
  }
  if (config.httpPort >= 0) ports.http = await open(listenHttp(metrics, () => aedes.connectedClients, config.httpPort, host));

  return {
    aedes, metrics, ports, persistence: store.describe, queued: store.queued,
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await relay?.close();
      await jetstream?.close();
      await store.close();
      await Promise.all(listeners.map((l) => l.close()));
    },
  };
}
