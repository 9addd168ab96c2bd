/**
 * The live feed: takes MQTT messages (from the one subscription the API holds, see mqtt-feed.ts),
 * validates them against the contract and the park model, keeps the last status of each device
 * (status topics are retained, so the API knows them as soon as it subscribes), and hands each
 * event, serialised once, to every listener. Invalid messages are dropped and counted. No I/O.
 */
import { ALARM_TOPIC, parseAlarmEvent, type AlarmEvent } from '../core/alarms/events.ts';
import { parseStatus, parseTelemetry, resolveTopic, type MetricValue } from '../core/contract.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { DeviceModel, ParkModel } from '../core/model.ts';

interface EventPlace { device: string; park: string; enterprise: string; workshop: string; line?: string; kind: string }
export interface TelemetryEvent extends EventPlace { type: 'telemetry'; ts: number; seq?: number; metrics: Record<string, MetricValue> }
export interface StatusEvent extends EventPlace { type: 'status'; state: 'online' | 'offline'; ts: number; info?: string }
/** A raise or clear from ingest's alarm rules (sp/v1/_sys/alarms); place fields from the model. */
export interface AlarmLiveEvent extends Omit<AlarmEvent, 'emittedAt'> { type: 'alarm' }
/** An acknowledgement made through this API instance. */
export interface AlarmAckLiveEvent extends EventPlace { type: 'alarm_ack'; id: string; rule: string; ackedAt: number; ackedBy: string; note?: string }
export type LiveEvent = TelemetryEvent | StatusEvent | AlarmLiveEvent | AlarmAckLiveEvent;

export interface DeviceStatus {
  state: 'online' | 'offline';
  /** The status message's own ts, else when the API received it (epoch ms). */
  since: number;
  info?: string;
}

export interface LiveCounters {
  messages: number;
  /** Readings parsed and sent to live clients (telemetry is not parsed while no client listens). */
  telemetryReadings: number;
  statusMessages: number;
  alarmEvents?: number;
  invalid: number;
  invalidByCode: Partial<Record<ErrorCode, number>>;
}

/** What the API needs from the live side; tests may supply their own. */
export interface LiveSource {
  /** Whether the MQTT subscription is up. */
  readonly connected: boolean;
  /** Why it is not up, when known. */
  readonly lastError?: string;
  statusOf(deviceId: string): DeviceStatus | undefined;
  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: (event: LiveEvent, json: string) => void): () => void;
  /** Resolves once telemetry reaches the listeners (when the source subscribes lazily). */
  telemetryFlowing?(): Promise<void>;
  counters(): LiveCounters;
  /** Pushes an acknowledgement made through this API to the live clients. */
  alarmAcknowledged?(ack: Omit<AlarmAckLiveEvent, 'type'>): void;
}

function place(d: DeviceModel): EventPlace {
  const p: EventPlace = { device: d.id, park: d.park, enterprise: d.enterprise, workshop: d.workshop, kind: d.kind.id };
  if (d.line) p.line = d.line;
  return p;
}

export class LiveHub implements LiveSource {
  connected = false;
  lastError?: string;
  private readonly statuses = new Map<string, DeviceStatus>();
  private readonly listeners = new Set<(event: LiveEvent, json: string) => void>();
  private watcher?: (listening: boolean) => void | Promise<void>;
  private flowing: Promise<void> = Promise.resolve();
  private readonly c: LiveCounters = { messages: 0, telemetryReadings: 0, statusMessages: 0, invalid: 0, invalidByCode: {} };

  constructor(private readonly model: ParkModel, private readonly now: () => number = Date.now) {}

  setConnected(up: boolean, error?: string): void {
    this.connected = up;
    this.lastError = up ? undefined : error ?? this.lastError;
  }

  statusOf(deviceId: string): DeviceStatus | undefined {
    return this.statuses.get(deviceId);
  }

  subscribe(listener: (event: LiveEvent, json: string) => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1 && this.watcher) this.flowing = Promise.resolve(this.watcher(true)).catch(() => {});
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0 && this.watcher) void Promise.resolve(this.watcher(false)).catch(() => {});
    };
  }

  /**
   * Told when the first listener comes and the last one goes (the feed subscribes to telemetry
   * only while someone listens: at full load parsing it costs the API a tenth of a core).
   */
  watchListeners(watcher: (listening: boolean) => void | Promise<void>): void {
    this.watcher = watcher;
  }

  /** Resolves once telemetry reaches the listeners (the feed's subscription is granted). */
  telemetryFlowing(): Promise<void> {
    return this.flowing;
  }

  get listening(): boolean {
    return this.listeners.size > 0;
  }

  counters(): LiveCounters {
    return { ...this.c, invalidByCode: { ...this.c.invalidByCode } };
  }

  private refuse(code: ErrorCode): void {
    this.c.invalid++;
    this.c.invalidByCode[code] = (this.c.invalidByCode[code] ?? 0) + 1;
  }

  /** One MQTT message. Never throws; invalid messages are counted and dropped. */
  handle(topic: string, payload: Uint8Array): void {
    this.c.messages++;
    const now = this.now();
    if (topic === ALARM_TOPIC) return this.handleAlarm(payload);
    const t = resolveTopic(this.model, topic);
    if (!t.ok) return this.refuse(t.code);
    const { device, channel } = t.value;
    if (channel === 'status') {
      if (payload.byteLength === 0) return this.refuse('SP_ERR_STATUS'); // a cleared retained status
      const s = parseStatus(payload);
      if (!s.ok) return this.refuse(s.code);
      this.c.statusMessages++;
      const status: DeviceStatus = { state: s.value.state, since: s.value.ts ?? now };
      if (s.value.info !== undefined) status.info = s.value.info;
      this.statuses.set(device.id, status);
      const ev: StatusEvent = { type: 'status', ...place(device), state: status.state, ts: status.since };
      if (status.info !== undefined) ev.info = status.info;
      return this.emit(ev);
    }
    // nobody listening: not worth parsing (10-17 µs a message at full load); counted as messages only
    if (this.listeners.size === 0) return;
    const r = parseTelemetry(payload, device, now);
    if (!r.ok) return this.refuse(r.code);
    for (const reading of r.value) {
      this.c.telemetryReadings++;
      const ev: TelemetryEvent = { type: 'telemetry', ...place(device), ts: reading.ts, metrics: reading.metrics };
      if (reading.seq !== undefined) ev.seq = reading.seq;
      this.emit(ev);
    }
  }

  alarmAcknowledged(ack: Omit<AlarmAckLiveEvent, 'type'>): void {
    this.emit({ type: 'alarm_ack', ...ack });
  }

  private handleAlarm(payload: Uint8Array): void {
    const a = parseAlarmEvent(this.model, payload);
    if (!a) return this.refuse('SP_ERR_PAYLOAD_SHAPE');
    this.c.alarmEvents = (this.c.alarmEvents ?? 0) + 1;
    const { emittedAt: _, ...rest } = a;
    this.emit({ type: 'alarm', ...rest });
  }

  private emit(ev: LiveEvent): void {
    if (this.listeners.size === 0) return;
    const json = JSON.stringify(ev);
    for (const l of this.listeners) {
      try {
        l(ev, json);
      } catch { /* a listener's failure must not stop the others */ }
    }
  }
}
