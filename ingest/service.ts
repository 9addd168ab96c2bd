/**
 * Wires the ingest service: MQTT subscription (QoS 1, persistent session) -> validation ->
 * spool (before the PUBACK) -> writer -> InfluxDB, with counters over HTTP.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { ALARM_TOPIC } from '../core/alarms/events.ts';
import { loadAlarmRules } from '../core/alarms/file.ts';
import { DLQ_TOPIC } from '../core/contract.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { Registry } from '../core/metrics.ts';
import { endClient } from '../core/shutdown.ts';
import { startStatsServer } from '../core/stats-http.ts';
import type { ParkModel } from '../core/model.ts';
import { AckBatcher } from './ack-batcher.ts';
import { IngestAlarms } from './alarms.ts';
import type { IngestConfig } from './config.ts';
import { messageHandler } from './pipeline.ts';
import { Spool } from './spool.ts';
import { SpoolWriter } from './writer.ts';

export interface IngestEvents {
  info?: (msg: string, data?: object) => void;
  warn?: (msg: string, data?: object) => void;
  /** The service cannot go on safely (e.g. the spool cannot be written); the caller should exit. */
  fatal?: (msg: string, err: Error) => void;
}

export interface RunningIngest {
  metrics: Registry;
  mqtt: MqttClient;
  httpPort: number;
  writer: SpoolWriter;
  spool: Spool;
  alarms?: IngestAlarms;
  stats(): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startIngest(cfg: Readonly<IngestConfig>, model: ParkModel, ev: IngestEvents = {}): Promise<RunningIngest> {
  const metrics = new Registry({ processMetrics: true })
    .describe('ingest_messages_received_total', 'MQTT messages received')
    .describe('ingest_messages_refused_total', 'Messages refused and dead-lettered, by code')
    .describe('ingest_points_spooled_total', 'Points safely on local disk (acknowledged to the broker)')
    .describe('ingest_points_written_total', 'Points written to InfluxDB')
    .describe('ingest_write_retries_total', 'InfluxDB writes retried');
  const alarmRules = cfg.alarmsFile ? loadAlarmRules(cfg.alarmsFile, model) : undefined; // refuses a bad file before anything starts
  const spool = new Spool({ dir: cfg.spoolDir, segmentBytes: cfg.segmentBytes });
  const influx = new InfluxClient(cfg.influx);
  // In the background: ingest subscribes at once even when InfluxDB is down or hanging (its
  // readings wait on the spool; the writer creates the database again on a 404).
  void influx.ensureDatabase().catch((e: Error) => {
    ev.warn?.('could not create the database (fine on InfluxDB 2.x/3.x, where setup creates the bucket)', { err: e.message });
  });
  const client = mqtt.connect(cfg.mqttUrl, {
    clientId: cfg.clientId, username: cfg.mqttUsername, password: cfg.mqttPassword,
    clean: false, protocolVersion: 4, reconnectPeriod: 1000, connectTimeout: 10_000, keepalive: 30,
    resubscribe: false,
    // mqtt.js logs ~10 debug lines per packet; unless DEBUG asks for them, skip even the calls
    ...(/mqttjs/.test(process.env.DEBUG ?? '') ? {} : { log: () => {} }),
  });
  const writer = new SpoolWriter({
    spool, influx, metrics,
    batchBytes: cfg.batchBytes, flushIntervalMs: cfg.flushIntervalMs, retryMinMs: cfg.retryMinMs, retryMaxMs: cfg.retryMaxMs,
    publishDeadLetters: async (letters) => {
      await Promise.all(letters.map((l) => client.publishAsync(DLQ_TOPIC, JSON.stringify(l), { qos: 1 })));
    },
    publishAlarmEvents: async (events) => {
      await Promise.all(events.map((e) => client.publishAsync(ALARM_TOPIC, JSON.stringify(e), { qos: 1 })));
      alarms?.stored(events);
    },
    onRetry: (error, attempt, delayMs) => ev.warn?.('write failed; retrying', { error, attempt, delayMs, spooledBytes: spool.pendingBytes }),
  });
  let failed = false;
  const alarms = alarmRules && new IngestAlarms({
    rules: alarmRules, model, influx, metrics, tickMs: cfg.alarmTickMs, retryMaxMs: cfg.retryMaxMs, topics: cfg.topics,
    append: (records) => {
      if (!batcher.flush()) throw new Error('the spool cannot be written');
      writer.notify(spool.append(records));
    },
    onRestored: (applied, open) => ev.info?.('alarm state rebuilt from InfluxDB', { applied, open }),
    onRestoreRetry: (err) => ev.warn?.('cannot read open alarms from InfluxDB yet; retrying', { err }),
    onError: (err) => ev.warn?.('alarm evaluation failed', { err: err.message }),
    onFatal: (err) => {
      failed = true;
      ev.fatal?.('cannot write alarm events to the spool', err);
    },
  });
  metrics.describe('ingest_spool_pending_bytes', 'Bytes spooled on disk and not yet written to InfluxDB').gauge('ingest_spool_pending_bytes', () => spool.pendingBytes);

  // Points counted as spooled when their group is written (ingest_points_spooled_total means on disk).
  let pointsInGroup = 0;
  // The records of the messages of one event-loop turn go to the spool in one write(2), and
  // their PUBACKs out after it (ingest/ack-batcher.ts).
  const batcher = new AckBatcher(client, {
    write: (records) => {
      const bytes = spool.append(records);
      metrics.inc('ingest_spool_writes_total');
      if (pointsInGroup > 0) metrics.inc('ingest_points_spooled_total', undefined, pointsInGroup);
      pointsInGroup = 0;
      writer.notify(bytes);
    },
    onFatal: (e) => {
      failed = true;
      ev.fatal?.('cannot write the spool; not acknowledging', e);
    },
  });
  metrics.describe('ingest_spool_writes_total', 'Spool appends (write(2)); each holds the messages of one event-loop turn')
    .describe('ingest_acks_dropped_total', 'PUBACKs not sent because the connection changed before their group was written (the broker redelivers them)');
  metrics.gauge('ingest_acks_dropped_total', () => batcher.stats.dropped, 'counter');
  // validate -> records (+ alarm events) -> the batcher, which holds each PUBACK until its write(2)
  client.handleMessage = messageHandler({
    cfg, model, metrics, spool, batcher, alarms, events: ev,
    failed: () => failed, spooled: (points) => { pointsInGroup += points; },
  });
  client.on('connect', () => {
    client.subscribe(Object.fromEntries(cfg.topics.map((t) => [t, { qos: 1 as const }])), (err, granted) => {
      const refused = granted?.filter((g) => g.qos === 128) ?? [];
      if (err || refused.length > 0) ev.fatal?.('subscription refused by the broker', err ?? new Error(refused.map((g) => g.topic).join(', ')));
      else ev.info?.('subscribed', { topics: cfg.topics });
    });
  });
  client.on('error', (err) => ev.warn?.('mqtt error', { err: err.message }));
  client.on('offline', () => ev.warn?.('mqtt offline; reconnecting'));
  writer.start();
  alarms?.start();

  const stats = () => ({
    ...metrics.toJSON(), writeLatencyMs: writer.latency(), connected: client.connected,
  });
  const http = await startStatsServer(cfg.httpPort, cfg.httpHost, metrics, stats, () => (client.connected ? { ok: true, status: 'ok' } : { ok: false, status: 'mqtt-disconnected' }));
  const httpPort = http?.port ?? -1;
  return {
    metrics, mqtt: client, httpPort, writer, spool, alarms, stats,
    stop: async () => {
      alarms?.stop();
      batcher.close(); // writes and acknowledges what is waiting; later messages are written one by one
      await endClient(client); // DISCONNECT: the broker keeps the session (clean=false); a broker gone: closed after 1 s
      await writer.stop();
      spool.close();
      await http?.close();
    },
  };
}
