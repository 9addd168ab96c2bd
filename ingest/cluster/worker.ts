/**
 * An ingest worker of the cluster profile: reads the JetStream stream TELE instead of subscribing
 * over MQTT. It holds a share of the partitions (leases.ts; a device's messages reach one worker at
 * a time, so the alarm engine's per-device state stays in one place), consumes each with its own
 * pull consumer (partition.ts), validates and turns messages into records exactly as the MQTT
 * pipeline does (records.ts, alarms.ts), and writes them through the same spool → writer chain.
 *
 * THE INVARIANT: a message is acknowledged to JetStream only after InfluxDB confirmed the write of
 * its records (the spool commit that covers them). Until then it stays in the stream (work-queue
 * retention): when InfluxDB is down the stream holds the backlog, bounded by its max_bytes, at which
 * the brokers withhold the devices' PUBACKs. The local spool is only a staging file here: what it
 * holds at start was never acknowledged and is delivered again, so it is emptied at start.
 *
 * Alarm state: on taking a partition the worker first rebuilds the state of that partition's
 * devices from InfluxDB (every acknowledged message is there), then consumes.
 */
import { rmSync } from 'node:fs';
import mqtt from 'mqtt';
import { connect, type JsMsg, type KV, type NatsConnection } from 'nats';
import { ALARM_EVENTS_MEASUREMENT, ALARM_TOPIC } from '../../core/alarms/events.ts';
import { loadAlarmRules } from '../../core/alarms/file.ts';
import { deviceTopic, DLQ_TOPIC, TOPIC_ROOT } from '../../core/contract.ts';
import { PlatformError } from '../../core/errors.ts';
import { InfluxClient } from '../../core/influx/client.ts';
import { ident, influxql } from '../../core/influx/influxql.ts';
import { Registry } from '../../core/metrics.ts';
import { endClient } from '../../core/shutdown.ts';
import { startStatsServer } from '../../core/stats-http.ts';
import type { ParkModel } from '../../core/model.ts';
import { LEASE_BUCKET, parseTeleSubject, partitionOf, partitionsOfDescription, TELE_STREAM } from '../../cluster/subjects.ts';
import { IngestAlarms } from '../alarms.ts';
import { refusedRecord, toRecords, type Outcome } from '../records.ts';
import type { IngestEvents } from '../service.ts';
import { Spool, type Chunk } from '../spool.ts';
import { SpoolWriter } from '../writer.ts';
import type { WorkerConfig } from './config.ts';
import { LeaseTable } from './leases.ts';
import { PartitionConsumer } from './partition.ts';

/** The writer's spool, telling the worker how many bytes each commit (= confirmed write) covered. */
class CommitSpool extends Spool {
  onCommit: (bytes: number) => void = () => {};
  override commit(chunk: Chunk): void {
    super.commit(chunk);
    this.onCommit(chunk.bytes);
  }
}

interface Part {
  n: number; consumer?: PartitionConsumer; alarms?: IngestAlarms; pending: number; stopped: boolean;
  /** Per device, the time of its newest alarm event in InfluxDB at takeover: readings up to it were evaluated by a former owner. */
  floors: Map<string, number>;
}
interface Group { end: number; at: number; msgs: { msg: JsMsg; part: Part }[] }

export interface RunningWorker {
  metrics: Registry;
  httpPort: number;
  nc: NatsConnection;
  partitions(): number[];
  stats(): Record<string, unknown>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function openStream(nc: NatsConnection, cfg: Readonly<WorkerConfig>): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const info = await (await nc.jetstreamManager({ timeout: 5000 })).streams.info(TELE_STREAM);
      const parts = partitionsOfDescription(info.config.description);
      if (parts !== cfg.partitions) throw new PlatformError('SP_ERR_NATS_STREAM', `JetStream stream ${TELE_STREAM} has ${parts ?? 'an unknown number of'} partitions, MQTT_JETSTREAM_PARTITIONS=${cfg.partitions}: expected the same value as the brokers'`);
      return info.config.num_replicas;
    } catch (e) {
      if (e instanceof PlatformError) throw e;
      if (Date.now() > deadline) throw new PlatformError('SP_ERR_NATS_NOT_READY', `MQTT_JETSTREAM_URL=${cfg.jetstreamUrl}: no stream ${TELE_STREAM} within 60 s (the brokers create it): ${(e as Error).message}`);
      await sleep(250);
    }
  }
}

export async function startIngestWorker(cfg: Readonly<WorkerConfig>, model: ParkModel, ev: IngestEvents = {}): Promise<RunningWorker> {
  const metrics = new Registry({ processMetrics: true })
    .describe('ingest_messages_received_total', 'JetStream messages received')
    .describe('ingest_messages_redelivered_total', 'Of those, delivered again (not acknowledged in time, or by a former owner)')
    .describe('ingest_messages_refused_total', 'Messages refused and dead-lettered, by code')
    .describe('ingest_jetstream_acked_total', 'Messages acknowledged to JetStream (their records written to InfluxDB)')
    .describe('ingest_partitions_taken_total', 'Partitions this worker took (at start, on rebalance, from a dead worker)');
  const alarmRules = cfg.alarmsFile ? loadAlarmRules(cfg.alarmsFile, model) : undefined;
  rmSync(cfg.spoolDir, { recursive: true, force: true }); // never acknowledged: JetStream delivers it again
  const spool = new CommitSpool({ dir: cfg.spoolDir, segmentBytes: cfg.segmentBytes });
  const influx = new InfluxClient(cfg.influx);
  void influx.ensureDatabase().catch((e: Error) => ev.warn?.('could not create the database', { err: e.message }));
  const nc = await connect({ servers: cfg.jetstreamUrl.split(','), name: `ingest-${cfg.workerId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true, noAsyncTraces: true });
  const replicas = await openStream(nc, cfg);
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager({ checkAPI: false });
  let kv: KV | undefined;
  for (const deadline = Date.now() + 60_000; !kv;) {
    // two workers starting together create the same R3 bucket: one may time out while the other's is made
    kv = await js.views.kv(LEASE_BUCKET, { ttl: cfg.leaseTtlMs, history: 1, replicas, timeout: 10_000 }).catch((e: Error) => {
      if (Date.now() > deadline) throw new PlatformError('SP_ERR_NATS_NOT_READY', `the lease bucket ${LEASE_BUCKET} could not be opened: ${e.message}`);
      return undefined;
    });
    if (!kv) await sleep(500);
  }
  // dead letters and alarm events still go out over MQTT (a clean session of its own: publishes only)
  const client = mqtt.connect(cfg.mqttUrl, {
    clientId: `${cfg.mqttUsername}-${cfg.workerId}`, username: cfg.mqttUsername, password: cfg.mqttPassword,
    clean: true, protocolVersion: 4, reconnectPeriod: 1000, connectTimeout: 10_000, keepalive: 30, log: () => {},
  });
  client.on('error', (err) => ev.warn?.('mqtt error', { err: err.message }));
  metrics.gauge('ingest_spool_pending_bytes', () => spool.pendingBytes);
  const writer = new SpoolWriter({
    spool, influx, metrics,
    batchBytes: cfg.batchBytes, flushIntervalMs: cfg.flushIntervalMs, retryMinMs: cfg.retryMinMs, retryMaxMs: cfg.retryMaxMs,
    publishDeadLetters: async (letters) => { await Promise.all(letters.map((l) => client.publishAsync(DLQ_TOPIC, JSON.stringify(l), { qos: 1 }))); },
    publishAlarmEvents: async (events) => { await Promise.all(events.map((e) => client.publishAsync(ALARM_TOPIC, JSON.stringify(e), { qos: 1 }))); },
    onRetry: (error, attempt, delayMs) => ev.warn?.('write failed; retrying', { error, attempt, delayMs }),
  });

  // Group commit: the records of the messages of one event-loop turn go to the spool in one
  // write(2); the group's messages are acknowledged once the writer's commits pass its end.
  let records: string[] = [];
  let msgs: Group['msgs'] = [];
  let scheduled = false;
  let appended = 0;
  let committed = 0;
  const groups: Group[] = [];
  let failed = false;
  const releaseAcks = () => {
    while (groups.length > 0 && groups[0]!.end <= committed) {
      const g = groups.shift()!;
      for (const { msg, part } of g.msgs) {
        msg.ack();
        part.pending--;
      }
      if (g.msgs.length > 0) metrics.inc('ingest_jetstream_acked_total', undefined, g.msgs.length);
    }
  };
  const flush = () => {
    scheduled = false;
    if (failed || (records.length === 0 && msgs.length === 0)) return;
    const text = records.join('');
    records = [];
    let bytes = 0;
    try {
      if (text) bytes = spool.append(text);
    } catch (e) {
      failed = true;
      ev.fatal?.('cannot write the spool; not acknowledging', e as Error);
      return;
    }
    appended += bytes;
    groups.push({ end: appended, at: Date.now(), msgs });
    msgs = [];
    if (bytes > 0) writer.notify(bytes);
    releaseAcks();
  };
  spool.onCommit = (bytes) => {
    committed += bytes;
    releaseAcks();
  };
  const add = (text: string, m?: { msg: JsMsg; part: Part }) => {
    if (text) records.push(text);
    if (m) msgs.push(m);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  // a write pending longer than a third of AckWait: tell JetStream we are still on it
  const keepAlive = setInterval(() => {
    const old = Date.now() - cfg.ackWaitMs / 3;
    for (const g of groups) {
      if (g.at > old) break;
      for (const { msg } of g.msgs) msg.working();
      g.at = Date.now();
    }
  }, Math.max(200, Math.floor(cfg.ackWaitMs / 6)));

  const parts = new Map<number, Part>();
  const onMessage = (part: Part) => (msg: JsMsg) => {
    if (part.stopped || failed) return; // not acknowledged: the partition's next owner gets it
    metrics.inc('ingest_messages_received_total');
    if (msg.redelivered) metrics.inc('ingest_messages_redelivered_total');
    const now = Date.now();
    const s = parseTeleSubject(msg.subject);
    const device = s && model.devices.get(s.device);
    const topic = device ? deviceTopic(device, s.channel) : `${TOPIC_ROOT}/?/?/?/${s?.device ?? '?'}/${s?.channel ?? '?'}`;
    let out: Outcome;
    try {
      out = toRecords(model, topic, msg.data, now, cfg.limits);
    } catch (e) {
      metrics.inc('ingest_internal_errors_total');
      out = refusedRecord(topic, msg.data, { ok: false, code: 'SP_ERR_INGEST_INTERNAL', reason: `ingest failed on this message: ${(e as Error).message}` }, now);
    }
    let text = out.kind === 'ignored' ? '' : out.records;
    if (out.kind === 'points' && out.readings && part.alarms) {
      const floor = part.floors.get(out.device!.id);
      const readings = floor === undefined ? out.readings : out.readings.filter((r) => r.ts > floor);
      if (readings.length > 0) text += part.alarms.evaluate(out.device!, readings);
    }
    if (out.kind === 'refused') metrics.inc('ingest_messages_refused_total', { code: out.refusal.code });
    part.pending++;
    add(text, { msg, part });
  };

  const stopPart = (part: Part) => {
    part.stopped = true;
    part.consumer?.stop();
    part.alarms?.stop();
  };
  const leases = new LeaseTable(kv, cfg.workerId, cfg.partitions, cfg.leaseTtlMs, {
    acquired: async (n) => {
      const part: Part = { n, pending: 0, stopped: false, floors: new Map() };
      parts.set(n, part);
      metrics.inc('ingest_partitions_taken_total');
      if (alarmRules) {
        const topics = [...model.devices.values()].filter((d) => partitionOf(d.id, cfg.partitions) === n).map((d) => deviceTopic(d, 'telemetry'));
        let restored!: () => void;
        const ready = new Promise<void>((r) => { restored = r; });
        part.alarms = new IngestAlarms({
          rules: alarmRules, model, influx, metrics, tickMs: cfg.alarmTickMs, retryMaxMs: cfg.retryMaxMs, topics,
          append: (r) => add(r),
          onRestored: () => restored(),
          onRestoreRetry: (err) => ev.warn?.('cannot read open alarms from InfluxDB yet; retrying', { partition: n, err }),
          onError: (err) => ev.warn?.('alarm evaluation failed', { err: err.message }),
        });
        // the engine's gauges, registered by each partition's IngestAlarms, as sums over the partitions held
        metrics.gauge('ingest_alarms_open', () => [...parts.values()].reduce((x, q) => x + (q.alarms?.engine.open().length ?? 0), 0));
        metrics.gauge('ingest_alarm_readings_out_of_order_total', () => [...parts.values()].reduce((x, q) => x + (q.alarms?.engine.counters.outOfOrder ?? 0), 0), 'counter');
        part.alarms.start();
        await ready; // the state of this partition's devices, as InfluxDB has it, before any of their messages
        // A former owner may have written (not yet acknowledged) readings that raised or cleared an
        // alarm: they come again, and must not be evaluated against the state they produced.
        const [series = []] = await influx.query(influxql`SELECT last(${ident('state')}) FROM ${ident(ALARM_EVENTS_MEASUREMENT)} GROUP BY ${ident('device')}`);
        for (const row of series) {
          const id = row.tags?.device;
          const ts = Number(row.values[0]?.[0]);
          if (id && partitionOf(id, cfg.partitions) === n && Number.isFinite(ts)) part.floors.set(id, ts);
        }
      }
      if (part.stopped) return;
      part.consumer = new PartitionConsumer(jsm, js, {
        partition: n, workerId: cfg.workerId, ackWaitMs: cfg.ackWaitMs, maxAckPending: cfg.maxAckPending, onMessage: onMessage(part),
        onStopped: (err) => {
          // not asked to stop: start it again (what it delivered and we did not acknowledge comes again)
          ev.warn?.('partition consumer stopped; starting it again', { partition: n, err: err?.message });
          setTimeout(() => { if (!part.stopped) void part.consumer?.start().catch((e: Error) => ev.warn?.('partition consumer restart failed', { partition: n, err: e.message })); }, 500);
        },
      });
      await part.consumer.start();
      ev.info?.('partition taken', { partition: n });
    },
    lost: (n) => {
      const part = parts.get(n);
      if (part) stopPart(part);
      parts.delete(n);
      ev.warn?.('partition lease lost; stopped consuming it', { partition: n });
    },
    release: async (n) => {
      const part = parts.get(n);
      if (!part) return;
      part.consumer?.stop(); // no more deliveries; wait for what was delivered to be written and acknowledged
      const until = Date.now() + cfg.leaseTtlMs;
      while (part.pending > 0 && Date.now() < until) await sleep(50);
      stopPart(part);
      await part.consumer?.remove();
      parts.delete(n);
      ev.info?.('partition released', { partition: n, unacknowledged: part.pending });
    },
    onError: (err) => ev.warn?.('lease round failed', { err: err.message }),
  });
  writer.start();
  leases.start();

  const stats = () => ({
    ...metrics.toJSON(), partitions: leases.ownedPartitions(), liveWorkers: leases.liveWorkers, worker: cfg.workerId,
    connected: !nc.isClosed(), writeLatencyMs: writer.latency(), unacknowledged: groups.reduce((a, g) => a + g.msgs.length, 0) + msgs.length,
  });
  const http = await startStatsServer(cfg.httpPort, cfg.httpHost, metrics, stats, () => ({ ok: true, status: 'ok' }));
  const httpPort = http?.port ?? -1;
  return {
    metrics, httpPort, nc, stats, partitions: () => leases.ownedPartitions(),
    stop: async () => {
      // a clean stop: no more deliveries, what was delivered written and acknowledged, then the leases freed
      for (const part of parts.values()) part.consumer?.stop();
      flush();
      const until = Date.now() + 10_000;
      while (groups.length > 0 && Date.now() < until) await sleep(50);
      for (const part of parts.values()) stopPart(part);
      await leases.stop(true);
      clearInterval(keepAlive);
      await writer.stop();
      spool.close();
      await nc.drain().catch(() => {});
      await endClient(client);
      await http?.close();
    },
  };
}
