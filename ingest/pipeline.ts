/**
 * The message pipeline of ingest, one MQTT PUBLISH at a time: validate against the park model,
 * turn into spool records (refusals into dead letters), evaluate alarm rules on the readings,
 * hand the records to the ack batcher — which writes them in one write(2) with the others of
 * this event-loop turn and only then sends their PUBACKs — and hold back (no `done()`, so
 * mqtt.js reads nothing more) while the spool is over its limit.
 */
import type { Packet } from 'mqtt';
import type { Registry } from '../core/metrics.ts';
import type { ParkModel } from '../core/model.ts';
import type { AckBatcher } from './ack-batcher.ts';
import type { IngestAlarms } from './alarms.ts';
import type { IngestConfig } from './config.ts';
import { refusedRecord, toRecords, type Outcome } from './records.ts';
import type { IngestEvents } from './service.ts';
import type { Spool } from './spool.ts';

export interface PipelineDeps {
  cfg: Readonly<IngestConfig>;
  model: ParkModel;
  metrics: Registry;
  spool: Spool;
  batcher: AckBatcher;
  alarms?: IngestAlarms;
  events: IngestEvents;
  /** True once the spool cannot be written: nothing is acknowledged any more. */
  failed: () => boolean;
  /** Points of a message that goes into the current group (counted as spooled when it is written). */
  spooled: (points: number) => void;
}

/** mqtt.js's handleMessage for ingest. */
export function messageHandler(d: PipelineDeps): (packet: Packet, done: (err?: Error) => void) => void {
  const { cfg, model, metrics, spool, batcher, alarms, events: ev } = d;
  let warned = false;
  const waitForRoom = async () => {
    while (spool.pendingBytes > cfg.maxSpoolBytes) await new Promise((r) => setTimeout(r, 50));
  };
  return (packet, done) => {
    const pub = packet as Packet & { topic: string; payload: Buffer };
    metrics.inc('ingest_messages_received_total');
    if (d.failed()) return; // never acknowledge what could not be made safe
    const now = Date.now();
    let out: Outcome;
    try {
      out = toRecords(model, pub.topic, pub.payload, now, cfg.limits);
    } catch (e) {
      // A defect of ours must neither stop ingestion nor lose the message (the broker would
      // redeliver it forever): it goes to the dead-letter topic with the error, and is counted.
      metrics.inc('ingest_internal_errors_total');
      ev.warn?.('message could not be processed; dead-lettered', { topic: pub.topic, err: (e as Error).message });
      out = refusedRecord(pub.topic, pub.payload, { ok: false, code: 'SP_ERR_INGEST_INTERNAL', reason: `ingest failed on this message: ${(e as Error).message}` }, now);
    }
    if (out.kind === 'ignored') return done(); // its PUBACK still waits for the group before it
    let alarmEvents = '';
    if (alarms && out.kind === 'points' && out.readings) {
      try {
        alarmEvents = alarms.evaluate(out.device!, out.readings);
      } catch (e) {
        metrics.inc('ingest_internal_errors_total');
        ev.warn?.('alarm evaluation failed; readings kept', { topic: pub.topic, err: (e as Error).message });
      }
    }
    // alarm events go in the same write(2) as the readings that caused them; the PUBACK that
    // done() produces is held by the batcher until that write
    if (out.kind === 'points') d.spooled(out.points);
    else metrics.inc('ingest_messages_refused_total', { code: out.refusal.code });
    batcher.add(alarmEvents ? out.records + alarmEvents : out.records);
    if (d.failed()) return;
    const pending = spool.pendingBytes + batcher.pendingChars;
    if (!warned && pending > cfg.maxSpoolBytes * cfg.spoolWarnRatio) {
      warned = true;
      ev.warn?.('spool is filling up: InfluxDB is not keeping up or is down; at the limit, acknowledgements will be held', { pending, max: cfg.maxSpoolBytes });
    } else if (warned && pending < cfg.maxSpoolBytes * cfg.spoolWarnRatio * 0.5) warned = false;
    if (pending > cfg.maxSpoolBytes) {
      // Back-pressure: write what is waiting (and acknowledge it), then hold this message's
      // acknowledgement — and with it mqtt.js's reading — until the writer has made room.
      metrics.inc('ingest_backpressure_waits_total');
      if (!batcher.flush()) return;
      void waitForRoom().then(() => done());
    } else done();
  };
}
