/**
 * Alarm evaluation in ingest: the rules of config/alarms.yaml (core/alarms) run on every
 * validated reading; their raise/clear events are spooled as records (the `alarm_events` point
 * and a `#A {json}` record) in the same append as the readings that caused them, so a kill -9
 * loses none; the writer stores them with the next batch and publishes them on
 * sp/v1/_sys/alarms after the write. A timer raises silent-device alarms.
 *
 * After a restart the state of open alarms is rebuilt, without polling: one query of the newest
 * event per (rule, device) in InfluxDB at start (retried until InfluxDB answers), plus the
 * events of the previous run still in the spool as the writer replays them.
 */
import { AlarmEngine } from '../core/alarms/engine.ts';
import { ALARM_EVENTS_MEASUREMENT, alarmEventPoint, eventFromRow, type AlarmEvent } from '../core/alarms/events.ts';
import type { AlarmRules } from '../core/alarms/rules.ts';
import { deviceTopic, TOPIC_ROOT, type Reading } from '../core/contract.ts';
import type { InfluxClient } from '../core/influx/client.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import type { Registry } from '../core/metrics.ts';
import type { DeviceModel, ParkModel } from '../core/model.ts';
import { alarmRecords } from './records.ts';

export interface IngestAlarmsOptions {
  rules: AlarmRules;
  model: ParkModel;
  influx: InfluxClient;
  metrics: Registry;
  /** Appends records to the spool (synchronously) and tells the writer; throws when it cannot. */
  append: (records: string) => void;
  tickMs: number;
  retryMaxMs: number;
  /**
   * This instance's subscription filters (INGEST_TOPICS): rules are armed only for the devices
   * whose telemetry they cover, so instances splitting the park never report each other's devices silent.
   */
  topics?: readonly string[];
  clock?: () => number;
  onRestored?: (applied: number, open: number) => void;
  onRestoreRetry?: (error: string) => void;
  /** The spool could not take silence events: the caller should stop. */
  onFatal?: (err: Error) => void;
  /** A rule failed on a reading (a bug): counted, reported, and the reading is still acknowledged. */
  onError?: (err: Error) => void;
}

export class IngestAlarms {
  readonly engine: AlarmEngine;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: IngestAlarmsOptions) {
    const clock = o.clock ?? Date.now;
    const topics = o.topics ?? [`${TOPIC_ROOT}/#`];
    const mine = new Map([...o.rules.byDevice].filter(([id]) => topics.some((f) => topicMatches(f, deviceTopic(o.model.devices.get(id)!, 'telemetry')))));
    this.engine = new AlarmEngine({ rules: o.rules.rules, byDevice: mine }, clock);
    this.startedAt = clock();
    const m = o.metrics;
    m.describe('ingest_alarm_events_total', 'Alarm events spooled, by state');
    m.describe('ingest_alarms_open', 'Alarms raised and not cleared').gauge('ingest_alarms_open', () => this.engine.open().length);
    m.describe('ingest_alarm_readings_out_of_order_total', "Readings older than the device's last evaluated one (stored, not evaluated by the alarm rules)").gauge('ingest_alarm_readings_out_of_order_total', () => this.engine.counters.outOfOrder, 'counter');
  }

  /** Spool records for the events the readings of one message cause ('' when none). Hot path; never throws. */
  evaluate(device: DeviceModel, readings: readonly Reading[]): string {
    try {
      const events = this.engine.onReadings(device, readings);
      return events.length === 0 ? '' : this.records(events);
    } catch (e) {
      this.o.metrics.inc('ingest_alarm_errors_total');
      this.o.onError?.(e as Error);
      return '';
    }
  }

  private records(events: readonly AlarmEvent[]): string {
    for (const ev of events) this.o.metrics.inc('ingest_alarm_events_total', { state: ev.state });
    return alarmRecords(events.map((event) => ({ point: alarmEventPoint(this.o.model.devices.get(event.device)!, event), event })));
  }

  /** Starts the silence timer and the one-query rebuild of open alarms. */
  start(): void {
    this.timer = setInterval(() => {
      let records: string;
      try {
        const events = this.engine.tick();
        if (events.length === 0) return;
        records = this.records(events);
      } catch (e) {
        this.o.metrics.inc('ingest_alarm_errors_total');
        this.o.onError?.(e as Error);
        return;
      }
      try {
        this.o.append(records);
      } catch (e) {
        clearInterval(this.timer);
        this.o.onFatal?.(e as Error);
      }
    }, this.o.tickMs);
    this.timer.unref();
    void this.restoreFromInflux();
  }

  /** The writer stored and published these: events of the previous run rebuild state (spool replay). */
  stored(events: readonly AlarmEvent[]): void {
    const old = events.filter((e) => e.emittedAt < this.startedAt);
    if (old.length > 0) this.engine.restore(old);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** The newest event of every (rule, device): one InfluxQL statement, retried until answered. */
  private async restoreFromInflux(): Promise<void> {
    const stmt = influxql`SELECT * FROM ${ident(ALARM_EVENTS_MEASUREMENT)} GROUP BY "rule", "device" ORDER BY time DESC LIMIT 1`;
    for (let delay = 200; !this.stopped; delay = Math.min(delay * 2, this.o.retryMaxMs)) {
      try {
        const [series = []] = await this.o.influx.query(stmt);
        const events = series.flatMap((s) => s.values.map((row) => eventFromRow(this.o.model, s.columns, row, s.tags)))
          .filter((e): e is AlarmEvent => e !== undefined);
        const applied = this.engine.restore(events);
        this.o.onRestored?.(applied, this.engine.open().length);
        return;
      } catch (e) {
        this.o.onRestoreRetry?.((e as Error).message);
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }
}

/** MQTT filter matching ([MQTT-4.7.1]): `+` one level, `#` the rest. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
