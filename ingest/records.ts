/**
 * Turns one MQTT message into spool records: line-protocol points for good telemetry and
 * status, or one dead-letter record (`#D {json}`) for a refused message; alarm events add their
 * point and an `#A {json}` record (see ingest/alarms.ts). Lines starting with
 * `#` are comments in line protocol, so a record can never be mistaken for a point.
 * A line break can occur inside a point only within a quoted string field (names and tags
 * refuse it); the spool's records end at '\n', so such a line break is spooled as NUL (which
 * the contract refuses in text) and restored by splitChunk before the write. Pure.
 */
import type { AlarmEvent } from '../core/alarms/events.ts';
import {
  deadLetter, parseStatus, parseTelemetry, resolveTopic, SYS_PREFIX, type Channel, type ContractLimits, type DeadLetter, type Reading, type Refusal, type Result,
} from '../core/contract.ts';
import { deviceTags, encodePoint, readingToLine, STATUS_MEASUREMENT } from '../core/influx/line-protocol.ts';
import type { DeviceModel, ParkModel } from '../core/model.ts';

export const DLQ_MARK = '#D ';
/** An alarm event to publish after the write (its point is spooled on the line before). */
export const ALARM_MARK = '#A ';

export type Outcome =
  | { kind: 'points'; records: string; points: number; device?: DeviceModel; readings?: Reading[] }
  | { kind: 'refused'; records: string; refusal: Refusal }
  | { kind: 'ignored' };

/** A refused message as its one dead-letter record. */
export function refusedRecord(topic: string, payload: Uint8Array, refusal: Refusal, now: number): Outcome {
  return { kind: 'refused', refusal, records: `${DLQ_MARK}${JSON.stringify(deadLetter(topic, payload, refusal, now))}\n` };
}

const SYS_TOPICS = `${SYS_PREFIX}/`;

/**
 * Topics that resolved to a device, per model. Only successful resolutions are kept, and a
 * device has exactly two valid topics (telemetry, status), so the map is bounded by the model.
 */
const resolved = new WeakMap<ParkModel, Map<string, { device: DeviceModel; channel: Channel }>>();

function resolveCached(model: ParkModel, topic: string): Result<{ device: DeviceModel; channel: Channel }> {
  let cache = resolved.get(model);
  if (!cache) resolved.set(model, (cache = new Map()));
  const hit = cache.get(topic);
  if (hit) return { ok: true, value: hit };
  const t = resolveTopic(model, topic);
  if (t.ok) cache.set(topic, t.value);
  return t;
}

export function toRecords(model: ParkModel, topic: string, payload: Uint8Array, now: number, limits: ContractLimits): Outcome {
  if (topic.startsWith(SYS_TOPICS)) return { kind: 'ignored' }; // platform topics (dead letters, alarms)
  const t = resolveCached(model, topic);
  if (!t.ok) return refusedRecord(topic, payload, t, now);
  const { device, channel } = t.value;
  if (channel === 'status') {
    const s = parseStatus(payload);
    if (!s.ok) return refusedRecord(topic, payload, s, now);
    const fields = { state: { type: 'string' as const, value: s.value.state }, ...(s.value.info === undefined ? {} : { info: { type: 'string' as const, value: s.value.info } }) };
    return { kind: 'points', points: 1, records: spoolLine(encodePoint(STATUS_MEASUREMENT, { ...deviceTags(device), kind: device.kind.id }, fields, s.value.ts ?? now)) };
  }
  const r = parseTelemetry(payload, device, now, limits);
  if (!r.ok) return refusedRecord(topic, payload, r, now);
  let records = '';
  // A line break can reach a point only from a JSON string value, where it is written escaped
  // (`\n` or `\u000a`): without a backslash in the payload, no point needs the NUL swap.
  if (payload.indexOf(0x5c) < 0) {
    for (const reading of r.value) records += `${readingToLine(device, reading)}\n`;
  } else {
    for (const reading of r.value) records += spoolLine(readingToLine(device, reading));
  }
  return { kind: 'points', points: r.value.length, records, device, readings: r.value };
}

function spoolLine(point: string): string {
  return `${point.includes('\n') ? point.replaceAll('\n', '\0') : point}\n`;
}

/** Alarm events as spool records: the `alarm_events` point, then the event to publish. */
export function alarmRecords(events: readonly { point: string; event: AlarmEvent }[]): string {
  let out = '';
  for (const e of events) out += `${spoolLine(e.point)}${ALARM_MARK}${JSON.stringify(e.event)}\n`;
  return out;
}

/** Splits a spool chunk into the line-protocol body and the dead letters and alarm events it holds. */
export function splitChunk(text: string): { body: string; points: number; deadLetters: DeadLetter[]; alarmEvents: AlarmEvent[] } {
  if (!text.startsWith('#') && !text.includes('\n#')) {
    let points = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) points++;
    return { body: text.includes('\0') ? text.replaceAll('\0', '\n') : text, points, deadLetters: [], alarmEvents: [] };
  }
  const lines = text.split('\n');
  const keep: string[] = [];
  const deadLetters: DeadLetter[] = [];
  const alarmEvents: AlarmEvent[] = [];
  for (const line of lines) {
    if (line.startsWith(DLQ_MARK)) deadLetters.push(JSON.parse(line.slice(DLQ_MARK.length)) as DeadLetter);
    else if (line.startsWith(ALARM_MARK)) alarmEvents.push(JSON.parse(line.slice(ALARM_MARK.length)) as AlarmEvent);
    else if (line.length > 0) keep.push(line);
  }
  const body = keep.length ? `${keep.join('\n')}\n` : '';
  return { body: body.includes('\0') ? body.replaceAll('\0', '\n') : body, points: keep.length, deadLetters, alarmEvents };
}
