/**
 * Alarm events as every service sees them: the JSON published on `sp/v1/_sys/alarms`, the points
 * in InfluxDB (`alarm_events`, `alarm_acks`), the alarm id, and the way back from a stored row
 * or a received payload (validated against the park model: place tags always come from the
 * model, never from the payload). Pure.
 */
import { SYS_PREFIX } from '../contract.ts';
import { ID_PATTERN, isId } from '../ids.ts';
import { deviceTags, encodePoint, type FieldValue } from '../influx/line-protocol.ts';
import type { DeviceModel, ParkModel } from '../model.ts';
import { SEVERITIES, type Severity } from './rules.ts';

/** Raise and clear events, QoS 1, not retained (see docs/alarms.md). */
export const ALARM_TOPIC = `${SYS_PREFIX}/alarms`;
export const ALARM_EVENTS_MEASUREMENT = 'alarm_events';
export const ALARM_ACKS_MEASUREMENT = 'alarm_acks';

export type AlarmState = 'raised' | 'cleared';

export interface AlarmEvent {
  /** `{rule}:{device}:{raisedAt}`, the same on the raise and on its clear. */
  id: string;
  state: AlarmState;
  rule: string;
  severity: Severity;
  device: string;
  park: string;
  enterprise: string;
  workshop: string;
  line?: string;
  kind: string;
  /** The metric that tripped (`_silence` for a silent device). */
  metric: string;
  /** What was compared with the threshold (value, deviation, increase, or seconds silent). */
  value: number;
  threshold: number;
  message: string;
  /** When it happened: the device time of the reading (platform time for a silent device), epoch ms. */
  ts: number;
  /** ts of the raise. */
  raisedAt: number;
  /** Platform clock when ingest decided it, epoch ms. */
  emittedAt: number;
}

const ALARM_ID = new RegExp(`^(${ID_PATTERN.source.slice(1, -1)}):(${ID_PATTERN.source.slice(1, -1)}):([0-9]{1,15})$`);
export const ALARM_ID_PATTERN = ALARM_ID.source;

export function alarmId(rule: string, device: string, raisedAt: number): string {
  return `${rule}:${device}:${raisedAt}`;
}

export function parseAlarmId(id: string): { rule: string; device: string; raisedAt: number } | undefined {
  const m = ALARM_ID.exec(id);
  return m ? { rule: m[1]!, device: m[2]!, raisedAt: Number(m[3]) } : undefined;
}

/** Place of a device as carried by events. */
export function eventPlace(d: DeviceModel): Pick<AlarmEvent, 'device' | 'park' | 'enterprise' | 'workshop' | 'line' | 'kind'> {
  return { device: d.id, park: d.park, enterprise: d.enterprise, workshop: d.workshop, kind: d.kind.id, ...(d.line ? { line: d.line } : {}) };
}

/** The event as one `alarm_events` point: tags from the model + rule + severity, at ts. */
export function alarmEventPoint(d: DeviceModel, ev: AlarmEvent): string {
  const f = (value: number): FieldValue => ({ type: 'float', value });
  return encodePoint(ALARM_EVENTS_MEASUREMENT, { ...deviceTags(d), kind: d.kind.id, rule: ev.rule, severity: ev.severity }, {
    state: { type: 'string', value: ev.state },
    alarm_id: { type: 'string', value: ev.id },
    metric: { type: 'string', value: ev.metric },
    value: f(ev.value),
    threshold: f(ev.threshold),
    message: { type: 'string', value: ev.message },
    raised_at: { type: 'integer', value: ev.raisedAt },
    emitted_at: { type: 'integer', value: ev.emittedAt },
  }, ev.ts);
}

/** An acknowledgement as one `alarm_acks` point at the time of the ack. */
export function alarmAckPoint(d: DeviceModel, rule: string, id: string, by: string, note: string | undefined, at: number): string {
  const fields: Record<string, FieldValue> = { alarm_id: { type: 'string', value: id }, by: { type: 'string', value: by } };
  if (note) fields.note = { type: 'string', value: note };
  return encodePoint(ALARM_ACKS_MEASUREMENT, { ...deviceTags(d), rule }, fields, at);
}

/**
 * A row of `SELECT * FROM alarm_events [GROUP BY ...]` back to an event; tags grouped by come in
 * `tags`. The place comes from the model; rows of devices no longer in it are dropped.
 */
export function eventFromRow(model: ParkModel, columns: readonly string[], row: readonly unknown[], tags: Record<string, string> = {}): AlarmEvent | undefined {
  const get = (c: string): unknown => tags[c] ?? row[columns.indexOf(c)];
  const d = model.devices.get(String(get('device')));
  const state = get('state');
  const rule = get('rule');
  const id = get('alarm_id');
  if (!d || (state !== 'raised' && state !== 'cleared') || !isId(rule) || typeof id !== 'string') return undefined;
  const n = (c: string) => (typeof get(c) === 'number' ? get(c) as number : Number.NaN);
  const severity = SEVERITIES.includes(get('severity') as Severity) ? get('severity') as Severity : 'warning';
  return {
    id, state, rule, severity, ...eventPlace(d),
    metric: String(get('metric') ?? ''), value: n('value'), threshold: n('threshold'), message: String(get('message') ?? ''),
    ts: n('time'), raisedAt: n('raised_at'), emittedAt: n('emitted_at'),
  };
}

/** A payload from the alarm topic, checked; the place is taken from the model. */
export function parseAlarmEvent(model: ParkModel, payload: Uint8Array | string): AlarmEvent | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const d = typeof o.device === 'string' ? model.devices.get(o.device) : undefined;
  const ids = typeof o.id === 'string' ? parseAlarmId(o.id) : undefined;
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (!d || !ids || ids.device !== d.id || ids.rule !== o.rule || (o.state !== 'raised' && o.state !== 'cleared')) return undefined;
  if (!SEVERITIES.includes(o.severity as Severity) || !num(o.ts) || !num(o.value) || !num(o.threshold)) return undefined;
  return {
    id: o.id as string, state: o.state, rule: ids.rule, severity: o.severity as Severity, ...eventPlace(d),
    metric: typeof o.metric === 'string' ? o.metric.slice(0, 64) : '', value: o.value as number, threshold: o.threshold as number,
    message: typeof o.message === 'string' ? o.message.slice(0, 500) : '', ts: o.ts as number, raisedAt: ids.raisedAt,
    emittedAt: num(o.emittedAt) ? o.emittedAt as number : o.ts as number,
  };
}
