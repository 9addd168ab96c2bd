/**
 * Wires the Sparkplug B host application: MQTT subscription to spBv1.0/# (QoS 1, persistent
 * session, fixed client id) -> decode and map (host.ts) -> the same durability chain as JSON
 * ingest (ingest/ack-batcher.ts, spool.ts, writer.ts: the PUBACK leaves only after the message's
 * points and dead letters are in the spool file) -> InfluxDB. Publishes the primary host STATE
 * (Sparkplug 3.0 §7.1: spBv1.0/STATE/{host id}, JSON {online, timestamp}, retained, QoS 1, with
 * the will {online: false} of the same timestamp). Its own process, so JSON ingest's hot path
 * carries none of this.
 */
import { join } from 'node:path';
import mqtt, { type MqttClient, type Packet } from 'mqtt';
import { deadLetter, DLQ_TOPIC } from '../../core/contract.ts';
import { InfluxClient } from '../../core/influx/client.ts';
import { Registry } from '../../core/metrics.ts';
import { endClient, within } from '../../core/shutdown.ts';
import { startStatsServer } from '../../core/stats-http.ts';
import type { SparkplugConfig } from '../../core/sparkplug/config.ts';
import { SPB_NAMESPACE, stateTopic } from '../../core/sparkplug/topic.ts';
import { AckBatcher } from '../ack-batcher.ts';
import { DLQ_MARK } from '../records.ts';
import type { IngestEvents } from '../service.ts';
import { Spool } from '../spool.ts';
import { SpoolWriter } from '../writer.ts';
import type { SparkplugHostConfig } from './config.ts';
import { SparkplugHost, type Handled, type Publish } from './host.ts';
import { Sessions } from './sessions.ts';

export interface RunningSparkplugHost {
  metrics: Registry;
  mqtt: MqttClient;
  httpPort: number;
  stats(): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startSparkplugHost(cfg: Readonly<SparkplugHostConfig>, mapping: SparkplugConfig, ev: IngestEvents = {}): Promise<RunningSparkplugHost> {
  const metrics = new Registry({ processMetrics: true })
    .describe('sparkplug_messages_received_total', 'Sparkplug messages received, by type')
    .describe('sparkplug_messages_refused_total', 'Sparkplug messages refused whole and dead-lettered, by code')
    .describe('sparkplug_metrics_stored_total', 'Sparkplug metrics mapped to a park metric and spooled')
    .describe('sparkplug_metrics_unmapped_total', 'Sparkplug metrics without a mapping (dead-lettered)')
    .describe('sparkplug_metrics_refused_total', 'Mapped Sparkplug metrics refused (type, range, time), by code')
    .describe('sparkplug_rebirths_requested_total', 'Node Control/Rebirth commands sent')
    .describe('sparkplug_deaths_ignored_total', 'NDEATHs ignored: stale bdSeq or no birth')
    .describe('ingest_points_written_total', 'Points written to InfluxDB');
  const spool = new Spool({ dir: cfg.spoolDir, segmentBytes: cfg.segmentBytes });
  const sessions = new Sessions(join(cfg.spoolDir, 'births.json'));
  const loaded = sessions.load();
  if (loaded.error) ev.warn?.('births.json unreadable; edge nodes will be asked to rebirth', { err: loaded.error });
  const host = new SparkplugHost({ cfg: mapping, sessions, metrics, rebirthRetryMs: cfg.rebirthRetryMs, limits: cfg.limits });
  const influx = new InfluxClient(cfg.influx);
  void influx.ensureDatabase().catch((e: Error) => ev.warn?.('could not create the database', { err: e.message }));

  const state = stateTopic(mapping.hostId);
  const stateTs = Date.now(); // the will and the birth of STATE carry the same timestamp [tck-id-host-topic-phid-death-payload]
  const statePayload = (online: boolean) => JSON.stringify({ online, timestamp: stateTs });
  const client = mqtt.connect(cfg.mqttUrl, {
    clientId: cfg.clientId ?? mapping.hostAccount, username: mapping.hostAccount, password: cfg.mqttPassword,
    clean: false, protocolVersion: 4, reconnectPeriod: 1000, connectTimeout: 10_000, keepalive: 30, resubscribe: false,
    will: { topic: state, payload: Buffer.from(statePayload(false)), qos: 1, retain: true },
    ...(/mqttjs/.test(process.env.DEBUG ?? '') ? {} : { log: () => {} }),
  });
  const writer = new SpoolWriter({
    spool, influx, metrics,
    batchBytes: cfg.batchBytes, flushIntervalMs: cfg.flushIntervalMs, retryMinMs: cfg.retryMinMs, retryMaxMs: cfg.retryMaxMs,
    publishDeadLetters: async (letters) => {
      await Promise.all(letters.map((l) => client.publishAsync(DLQ_TOPIC, JSON.stringify(l), { qos: 1 })));
    },
    onRetry: (error, attempt, delayMs) => ev.warn?.('write failed; retrying', { error, attempt, delayMs, spooledBytes: spool.pendingBytes }),
  });
  let failed = false;
  const batcher = new AckBatcher(client, {
    write: (records) => {
      writer.notify(spool.append(records));
      metrics.inc('ingest_spool_writes_total');
    },
    onFatal: (e) => {
      failed = true;
      ev.fatal?.('cannot write the spool; not acknowledging', e);
    },
  });
  metrics.gauge('ingest_spool_pending_bytes', () => spool.pendingBytes);
  metrics.gauge('sparkplug_edge_nodes_known', () => sessions.size);

  const send = (list: Publish[]) => {
    for (const x of list) {
      client.publish(x.topic, x.payload, { qos: x.qos, retain: x.retain }, (err) => {
        if (err) ev.warn?.('publish failed', { topic: x.topic, err: err.message });
      });
    }
  };
  const waitForRoom = async () => {
    while (spool.pendingBytes > cfg.maxSpoolBytes) await new Promise((r) => setTimeout(r, 50));
  };
  client.handleMessage = (packet: Packet, done: (err?: Error) => void) => {
    const pub = packet as Packet & { topic: string; payload: Buffer };
    metrics.inc('ingest_messages_received_total');
    if (failed) return; // never acknowledge what could not be made safe
    if (pub.topic === state) {
      // a late will of an earlier session of ours (e.g. after a session takeover) must not
      // leave the platform looking offline: answer it with this session's online STATE
      if (!/"online"\s*:\s*true/.test(pub.payload.toString())) {
        metrics.inc('sparkplug_state_republished_total');
        client.publish(state, statePayload(true), { qos: 1, retain: true });
      }
      return done();
    }
    const now = Date.now();
    let h: Handled;
    try {
      h = host.handle(pub.topic, pub.payload, now);
    } catch (e) {
      // a defect of ours: dead-lettered with the error, never a crash or an endless redelivery
      metrics.inc('ingest_internal_errors_total');
      ev.warn?.('message could not be processed; dead-lettered', { topic: pub.topic, err: (e as Error).message });
      const l = deadLetter(pub.topic, pub.payload, { ok: false, code: 'SP_ERR_INGEST_INTERNAL', reason: `the Sparkplug host failed on this message: ${(e as Error).message}` }, now);
      h = { records: `${DLQ_MARK}${JSON.stringify(l)}\n`, points: 0, publish: [], birthsChanged: false };
    }
    if (h.birthsChanged) {
      try {
        sessions.save(); // the alias tables are on disk before this birth or death is acknowledged
      } catch (e) {
        failed = true;
        ev.fatal?.('cannot write births.json; not acknowledging', e as Error);
        return;
      }
    }
    batcher.add(h.records);
    if (h.publish.length > 0) {
      // status and rebirth requests follow the records they belong to (rare: births, deaths)
      if (!batcher.flush()) return;
      send(h.publish);
    }
    if (spool.pendingBytes + batcher.pendingChars > cfg.maxSpoolBytes) {
      metrics.inc('ingest_backpressure_waits_total');
      if (!batcher.flush()) return;
      void waitForRoom().then(() => done());
    } else done();
  };
  client.on('connect', () => {
    sessions.resync(); // redelivered messages come first: each node's seq is taken afresh
    client.subscribe({ [`${SPB_NAMESPACE}/#`]: { qos: 1 } }, (err, granted) => {
      const refused = granted?.filter((g) => g.qos === 128) ?? [];
      if (err || refused.length > 0) return ev.fatal?.('subscription refused by the broker', err ?? new Error(refused.map((g) => g.topic).join(', ')));
      // STATE online only once subscribed [tck-id-host-topic-phid-birth-sub-required]
      client.publish(state, statePayload(true), { qos: 1, retain: true }, (e) => {
        if (e) ev.warn?.('STATE publish failed', { err: e.message });
        else ev.info?.('subscribed; STATE online', { topic: state });
      });
    });
  });
  client.on('error', (err) => ev.warn?.('mqtt error', { err: err.message }));
  client.on('offline', () => ev.warn?.('mqtt offline; reconnecting'));
  writer.start();

  const stats = () => ({ ...metrics.toJSON(), writeLatencyMs: writer.latency(), connected: client.connected, acks: batcher.stats.acks });
  const http = await startStatsServer(cfg.httpPort, cfg.httpHost, metrics, stats, () => (client.connected ? { ok: true, status: 'ok' } : { ok: false, status: 'mqtt-disconnected' }));
  const httpPort = http?.port ?? -1;
  return {
    metrics, mqtt: client, httpPort, stats,
    stop: async () => {
      batcher.close();
      if (client.connected) await within(client.publishAsync(state, statePayload(false), { qos: 1, retain: true }).catch(() => undefined), 1000);
      await endClient(client);
      await writer.stop();
      spool.close();
      await http?.close();
    },
  };
}
