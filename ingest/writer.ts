/**
 * Drains the spool into InfluxDB: reads whole records in chunks of up to `batchBytes`, writes
 * the points in one request, publishes the chunk's dead letters and alarm events, and only then commits the
 * chunk. A chunk is sent when it is full or when `flushIntervalMs` has passed since data began
 * waiting. Failures (network, 5xx, 401/404...) are retried with exponential backoff, forever:
 * the data is on disk. A 400 means InfluxDB refused some lines and stored the rest (partial
 * write): those lines are counted and dead-lettered, never retried.
 */
import type { AlarmEvent } from '../core/alarms/events.ts';
import type { DeadLetter } from '../core/contract.ts';
import type { InfluxClient } from '../core/influx/client.ts';
import type { Distribution, Registry } from '../core/metrics.ts';
import { splitChunk } from './records.ts';
import type { Chunk, Spool } from './spool.ts';

export interface WriterOptions {
  spool: Spool;
  influx: InfluxClient;
  metrics: Registry;
  /** Publishes dead letters; resolves once the broker has them (QoS 1). */
  publishDeadLetters: (letters: DeadLetter[]) => Promise<void>;
  /** Publishes alarm events once their points are written; resolves once the broker has them. */
  publishAlarmEvents?: (events: AlarmEvent[]) => Promise<void>;
  batchBytes: number;
  flushIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  onRetry?: (error: string, attempt: number, delayMs: number) => void;
  now?: () => number;
}

export class SpoolWriter {
  private running = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private waitingSince: number | undefined;
  private readonly latencies: number[] = [];
  private readonly writeSeconds: Distribution;
  private readonly storedAfterSeconds: Distribution;

  constructor(private readonly o: WriterOptions) {
    this.writeSeconds = o.metrics.histogram('ingest_write_duration_seconds', 'Duration of successful InfluxDB write requests', [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    this.storedAfterSeconds = o.metrics.histogram('ingest_publish_to_stored_seconds',
      "From a reading's timestamp (the device's clock when it published) to InfluxDB confirming its write; includes spooling, batching, retries and any device clock offset",
      [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600]);
  }

  /** Observes, for each line written, how long after its timestamp (ms precision, the last field) it was stored. */
  private observeStored(body: string): void {
    const now = Date.now();
    let start = 0;
    while (start < body.length) {
      let end = body.indexOf('\n', start);
      if (end < 0) end = body.length;
      const ts = Number(body.slice(body.lastIndexOf(' ', end - 1) + 1, end));
      if (Number.isFinite(ts) && ts > 0) this.storedAfterSeconds.observe(Math.max(0, now - ts) / 1000);
      start = end + 1;
    }
  }

  start(): void {
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Tells the writer that records were appended. */
  notify(appendedBytes: number): void {
    this.waitingSince ??= this.now();
    if (this.wake && (appendedBytes >= this.o.batchBytes || this.o.spool.pendingBytes >= this.o.batchBytes)) this.wake();
  }

  /** Stops after the write in progress; with `drain`, first writes everything spooled. */
  async stop(drain = false): Promise<void> {
    if (drain) {
      while (this.running && this.o.spool.pendingBytes > 0) await this.sleep(20);
    }
    this.running = false;
    this.wake?.();
    await this.loopDone;
  }

  /** Write latencies of the last 1,000 requests, ms: p50 and p99. */
  latency(): { p50: number; p99: number; n: number } {
    const s = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : 0);
    return { p50: at(0.5), p99: at(0.99), n: s.length };
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const unread = this.o.spool.pendingBytes;
      if (unread === 0) {
        this.waitingSince = undefined;
        await this.sleep(this.o.flushIntervalMs);
        continue;
      }
      this.waitingSince ??= this.now();
      const age = this.now() - this.waitingSince;
      if (unread < this.o.batchBytes && age < this.o.flushIntervalMs) {
        await this.sleep(this.o.flushIntervalMs - age);
        continue;
      }
      const chunk = this.o.spool.read(this.o.batchBytes);
      if (!chunk) {
        this.waitingSince = undefined;
        await this.sleep(this.o.flushIntervalMs);
        continue;
      }
      this.waitingSince = this.o.spool.pendingBytes > chunk.bytes ? this.now() : undefined;
      await this.deliver(chunk);
    }
  }

  private async deliver(chunk: Chunk): Promise<void> {
    const { body, points, deadLetters, alarmEvents } = splitChunk(chunk.text);
    const m = this.o.metrics;
    if (body.length > 0) {
      for (let attempt = 1; ; attempt++) {
        const t0 = performance.now();
        const res = await this.o.influx.write(body);
        if (res.kind === 'ok') {
          const ms = performance.now() - t0;
          this.writeSeconds.observe(ms / 1000);
          this.observeStored(body);
          this.latencies.push(ms);
          if (this.latencies.length > 1000) this.latencies.shift();
          m.inc('ingest_points_written_total', undefined, points);
          break;
        }
        if (res.kind === 'rejected') {
          m.inc('ingest_db_rejected_batches_total');
          m.inc('ingest_points_written_total', undefined, points - (res.dropped ?? 0));
          m.inc('ingest_points_rejected_total', undefined, res.dropped ?? 0);
          deadLetters.push({
            topic: '', code: 'SP_ERR_DB_REJECTED', reason: `InfluxDB refused ${res.dropped ?? 'some'} of ${points} points: ${res.error.slice(0, 1000)}`,
            receivedAt: this.now(), payload: '', payloadEncoding: 'utf8',
          });
          break;
        }
        m.inc('ingest_write_retries_total');
        if (res.status === 404 && /database not found/i.test(res.error)) {
          // InfluxDB 1.x came up empty (or was replaced): create the database, then retry.
          await this.o.influx.ensureDatabase().catch(() => {});
        }
        const delay = Math.min(this.o.retryMaxMs, this.o.retryMinMs * 2 ** Math.min(attempt - 1, 16));
        this.o.onRetry?.(res.error, attempt, delay);
        await this.sleep(delay);
        if (!this.running) return; // stopping: the chunk stays in the spool for the next start
      }
    }
    if (deadLetters.length > 0) {
      if (!await this.publish('dead-letter', () => this.o.publishDeadLetters(deadLetters))) return;
      m.inc('ingest_dead_letters_published_total', undefined, deadLetters.length);
    }
    const publishAlarms = this.o.publishAlarmEvents;
    if (alarmEvents.length > 0 && publishAlarms) {
      if (!await this.publish('alarm', () => publishAlarms(alarmEvents))) return;
      m.inc('ingest_alarm_events_published_total', undefined, alarmEvents.length);
    }
    this.o.spool.commit(chunk);
  }

  /** Retries a publish until the broker has it; false when stopping (the chunk stays spooled). */
  private async publish(what: string, fn: () => Promise<void>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await fn();
        return true;
      } catch (e) {
        const delay = Math.min(this.o.retryMaxMs, this.o.retryMinMs * 2 ** Math.min(attempt - 1, 16));
        this.o.onRetry?.(`${what} publish: ${(e as Error).message}`, attempt, delay);
        await this.sleep(delay);
        if (!this.running) return false;
      }
    }
  }
}
