/**
 * The message contract between devices and the platform (docs/contract.md is its prose).
 *
 *   sp/v1/{park}/{enterprise}/{workshop}/{device}/telemetry   JSON reading or batch, QoS 1
 *   sp/v1/{park}/{enterprise}/{workshop}/{device}/status      retained {"state":"online"|"offline"}, also the last will
 *   sp/v1/_sys/dlq                                            refused messages with their reason (platform only)
 *
 * One reading:  {"ts": 1764000000000, "seq": 17, "metrics": {"t_firing": 1189.6, "run_state": "running"}}
 * A batch:      {"readings": [ <reading>, <reading>, ... ]}
 * Pure functions only: no I/O, no state.
 */
import { isId, isMetricName, show } from './ids.ts';
import type { ErrorCode } from './errors.ts';
import { TEXT_MAX_LENGTH_DEFAULT, type DeviceModel, type MetricDef, type ParkModel } from './model.ts';

export const TOPIC_ROOT = 'sp/v1';
export const SYS_PREFIX = `${TOPIC_ROOT}/_sys`;
export const DLQ_TOPIC = `${SYS_PREFIX}/dlq`;
export const CHANNELS = ['telemetry', 'status'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Subscription filters for every device's telemetry / status / both. */
export const ALL_TELEMETRY = `${TOPIC_ROOT}/+/+/+/+/telemetry`;
export const ALL_STATUS = `${TOPIC_ROOT}/+/+/+/+/status`;

export type MetricValue = number | boolean | string;

export interface Reading {
  /** Device time of the measurement, epoch milliseconds (UTC). */
  ts: number;
  /** Optional per-device sequence number, for loss accounting. */
  seq?: number;
  metrics: Record<string, MetricValue>;
}

export interface StatusMessage {
  state: 'online' | 'offline';
  ts?: number;
  /** Free text from the device (firmware, reason); stored escaped, never parsed. */
  info?: string;
}

export interface Refusal { ok: false; code: ErrorCode; reason: string }
export type Result<T> = { ok: true; value: T } | Refusal;

/** One strict decoder for all payloads: invalid UTF-8 throws. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

const refuse = (code: ErrorCode, reason: string): Refusal => ({ ok: false, code, reason });

export interface DevicePlace { park: string; enterprise: string; workshop: string; id: string }

/** The device's own topic prefix: every topic it may use starts with this followed by '/'. */
export function devicePrefix(d: DevicePlace): string {
  return `${TOPIC_ROOT}/${d.park}/${d.enterprise}/${d.workshop}/${d.id}`;
}

export function deviceTopic(d: DevicePlace, channel: Channel): string {
  return `${devicePrefix(d)}/${channel}`;
}

export interface ParsedTopic { park: string; enterprise: string; workshop: string; device: string; channel: Channel }

export function parseTopic(topic: string): Result<ParsedTopic> {
  const parts = topic.split('/');
  if (parts.length !== 7 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) {
    return refuse('SP_ERR_TOPIC', `topic ${show(topic)} does not have the form ${TOPIC_ROOT}/{park}/{enterprise}/{workshop}/{device}/{telemetry|status}`);
  }
  const [, , park, enterprise, workshop, device, channel] = parts as [string, string, string, string, string, string, string];
  for (const [name, v] of [['park', park], ['enterprise', enterprise], ['workshop', workshop], ['device', device]] as const) {
    if (!isId(v)) return refuse('SP_ERR_TOPIC', `topic ${show(topic)}: ${name} ${show(v)} is not a valid id`);
  }
  if (!(CHANNELS as readonly string[]).includes(channel)) {
    return refuse('SP_ERR_TOPIC', `topic ${show(topic)}: channel ${show(channel)} is not one of ${CHANNELS.join(', ')}`);
  }
  return { ok: true, value: { park, enterprise, workshop, device, channel: channel as Channel } };
}

/** Resolves a topic to the device it names, checking the device's place in the model. */
export function resolveTopic(model: ParkModel, topic: string): Result<{ device: DeviceModel; channel: Channel }> {
  const t = parseTopic(topic);
  if (!t.ok) return t;
  const device = model.devices.get(t.value.device);
  if (!device) return refuse('SP_ERR_UNKNOWN_DEVICE', `device ${show(t.value.device)} is not in the park model`);
  if (device.park !== t.value.park || device.enterprise !== t.value.enterprise || device.workshop !== t.value.workshop) {
    return refuse('SP_ERR_TOPIC_PATH', `device ${device.id} belongs under ${devicePrefix(device)}/, not ${show(topic)}`);
  }
  return { ok: true, value: { device, channel: t.value.channel } };
}

export interface ContractLimits {
  /** Largest payload accepted, bytes. */
  maxPayloadBytes: number;
  /** Most readings in one batch message. */
  maxBatch: number;
  /** A reading may be at most this far ahead of the platform clock. */
  maxFutureMs: number;
  /** A reading may be at most this old. */
  maxPastMs: number;
}

export const DEFAULT_LIMITS: Readonly<ContractLimits> = Object.freeze({
  maxPayloadBytes: 256 * 1024,
  maxBatch: 1000,
  maxFutureMs: 5 * 60_000, // 5 min
  maxPastMs: 7 * 24 * 3_600_000, // 7 days
});

/** RFC 3339 date-time with a zone, as accepted in payloads and API parameters. */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function parseTs(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v > 0 && v < 8.64e15 ? v : undefined;
  if (typeof v === 'string' && RFC3339.test(v)) {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
}

/** Longest `info` of a status message. */
export const STATUS_INFO_MAX_LENGTH = 256;

/**
 * What `checkMetric` accepts for a metric, as a JSON Schema of the value (the API's
 * /api/v1/kinds shows it; a test holds the two together): numbers are finite (JSON has no
 * other), counters are never negative, integers are safe integers, text has a maximum length
 * and no NUL character.
 */
export function metricConstraints(def: MetricDef): Record<string, unknown> {
  switch (def.type) {
    case 'number': return { type: 'number' };
    case 'counter': return { type: 'number', minimum: 0 };
    case 'integer': return { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
    case 'boolean': return { type: 'boolean' };
    case 'enum': return { type: 'string', enum: [...(def.values ?? [])] };
    case 'text': return { type: 'string', maxLength: def.maxLength ?? TEXT_MAX_LENGTH_DEFAULT, pattern: '^[^\\u0000]*$' };
  }
}

export function checkMetric(def: MetricDef, v: unknown): Refusal | undefined {
  // Hot path (every metric of every message): the checks first, the message only on refusal.
  switch (def.type) {
    case 'number':
    case 'counter':
    case 'integer':
      if (typeof v !== 'number') return refuse('SP_ERR_METRIC_TYPE', `${where(def)}: ${show(v)} is not a number`);
      if (!Number.isFinite(v)) return refuse('SP_ERR_NON_FINITE', `${where(def)}: ${show(v)} is not finite`);
      if (def.type === 'integer' && !Number.isSafeInteger(v)) return refuse('SP_ERR_METRIC_TYPE', `${where(def)}: ${v} is not an integer`);
      if (def.type === 'counter' && v < 0) return refuse('SP_ERR_COUNTER_NEGATIVE', `${where(def)}: ${v} is negative`);
      return undefined;
    case 'boolean':
      return typeof v === 'boolean' ? undefined : refuse('SP_ERR_METRIC_TYPE', `${where(def)}: ${show(v)} is not true or false`);
    case 'enum':
      if (typeof v !== 'string') return refuse('SP_ERR_METRIC_TYPE', `${where(def)}: ${show(v)} is not a string`);
      return def.values?.includes(v) ? undefined
        : refuse('SP_ERR_ENUM_VALUE', `${where(def)}: ${show(v)} is not one of ${def.values?.join(', ')}`);
    case 'text':
      if (typeof v !== 'string') return refuse('SP_ERR_METRIC_TYPE', `${where(def)}: ${show(v)} is not a string`);
      if (v.includes('\u0000')) return refuse('SP_ERR_TEXT_NUL', `${where(def)}: contains a NUL character`);
      return v.length <= (def.maxLength ?? TEXT_MAX_LENGTH_DEFAULT) ? undefined
        : refuse('SP_ERR_TEXT_LENGTH', `${where(def)}: ${v.length} characters, at most ${def.maxLength ?? TEXT_MAX_LENGTH_DEFAULT} allowed`);
  }
}

function where(def: MetricDef): string {
  return `metric ${def.name} (${def.type}${def.unit ? `, ${def.unit}` : ''})`;
}

const kindNamesValid = new WeakMap<DeviceModel['kind'], boolean>();

function declaredNamesValid(kind: DeviceModel['kind']): boolean {
  let ok = kindNamesValid.get(kind);
  if (ok === undefined) {
    ok = [...kind.metrics.keys()].every((n) => isMetricName(n));
    kindNamesValid.set(kind, ok);
  }
  return ok;
}

function parseReading(raw: unknown, device: DeviceModel, now: number, limits: ContractLimits, at: string): Result<Reading> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return refuse('SP_ERR_PAYLOAD_SHAPE', `${at}is ${show(raw)}, not an object with "ts" and "metrics"`);
  }
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (k !== 'ts' && k !== 'seq' && k !== 'metrics') return refuse('SP_ERR_PAYLOAD_SHAPE', `${at}unknown key ${show(k)} (allowed: ts, seq, metrics)`);
  }
  const ts = parseTs(r.ts);
  if (ts === undefined) return refuse('SP_ERR_TIMESTAMP', `${at}"ts" ${show(r.ts)} is not epoch milliseconds or an RFC 3339 time`);
  if (ts > now + limits.maxFutureMs) return refuse('SP_ERR_TS_FUTURE', `${at}"ts" ${new Date(ts).toISOString()} is ${Math.round((ts - now) / 1000)} s ahead of the platform clock (at most ${limits.maxFutureMs / 1000} s allowed)`);
  if (ts < now - limits.maxPastMs) return refuse('SP_ERR_TS_PAST', `${at}"ts" ${new Date(ts).toISOString()} is older than ${limits.maxPastMs / 3_600_000} h`);
  if (r.seq !== undefined && !(Number.isSafeInteger(r.seq) && (r.seq as number) >= 0)) {
    return refuse('SP_ERR_SEQ', `${at}"seq" ${show(r.seq)} is not a non-negative integer`);
  }
  const m = r.metrics;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return refuse('SP_ERR_PAYLOAD_SHAPE', `${at}"metrics" ${show(m)} is not an object`);
  const names = Object.keys(m);
  if (names.length === 0) return refuse('SP_ERR_NO_METRICS', `${at}"metrics" is empty`);
  const defs = device.kind.metrics;
  // When every declared name is a valid metric name (always, for a model from parseParkModel),
  // a name that is found is valid: the pattern test is needed only for models built otherwise.
  const namesChecked = declaredNamesValid(device.kind);
  for (const name of names) {
    const def = namesChecked || isMetricName(name) ? defs.get(name) : undefined;
    if (!def) {
      return refuse('SP_ERR_UNKNOWN_METRIC', `${at}metric ${show(name)} is not declared for kind ${device.kind.id} (declared: ${[...device.kind.metrics.keys()].join(', ')})`);
    }
    const bad = checkMetric(def, (m as Record<string, unknown>)[name]);
    if (bad) return { ...bad, reason: at + bad.reason };
  }
  const reading: Reading = { ts, metrics: m as Record<string, MetricValue> };
  if (r.seq !== undefined) reading.seq = r.seq as number;
  return { ok: true, value: reading };
}

/**
 * Parses and validates a telemetry payload for a device. The whole message is refused if any
 * reading in it is bad (the reason names which), so a device never has half a batch stored.
 */
export function parseTelemetry(
  payload: Uint8Array, device: DeviceModel, now: number, limits: ContractLimits = DEFAULT_LIMITS,
): Result<Reading[]> {
  if (payload.byteLength > limits.maxPayloadBytes) {
    return refuse('SP_ERR_PAYLOAD_SIZE', `payload of ${payload.byteLength} bytes exceeds ${limits.maxPayloadBytes}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(UTF8.decode(payload));
  } catch (e) {
    return refuse('SP_ERR_PAYLOAD_JSON', `payload is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof data === 'object' && data !== null && !Array.isArray(data) && 'readings' in data) {
    const keys = Object.keys(data);
    if (keys.length !== 1) return refuse('SP_ERR_PAYLOAD_SHAPE', `a batch has only the key "readings", not ${keys.join(', ')}`);
    const list = (data as { readings: unknown }).readings;
    if (!Array.isArray(list) || list.length === 0) return refuse('SP_ERR_PAYLOAD_SHAPE', '"readings" must be a non-empty list');
    if (list.length > limits.maxBatch) return refuse('SP_ERR_BATCH_SIZE', `batch of ${list.length} readings exceeds ${limits.maxBatch}`);
    const out: Reading[] = [];
    for (let i = 0; i < list.length; i++) {
      const r = parseReading(list[i], device, now, limits, `readings[${i}]: `);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return { ok: true, value: out };
  }
  const r = parseReading(data, device, now, limits, '');
  return r.ok ? { ok: true, value: [r.value] } : r;
}

export function parseStatus(payload: Uint8Array): Result<StatusMessage> {
  let data: unknown;
  try {
    data = JSON.parse(UTF8.decode(payload));
  } catch (e) {
    return refuse('SP_ERR_PAYLOAD_JSON', `status payload is not UTF-8 JSON: ${(e as Error).message}`);
  }
  const o = data as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || (o.state !== 'online' && o.state !== 'offline')) {
    return refuse('SP_ERR_STATUS', `status ${show(data)}: "state" must be "online" or "offline"`);
  }
  const out: StatusMessage = { state: o.state };
  if (o.ts !== undefined) {
    const ts = parseTs(o.ts);
    if (ts === undefined) return refuse('SP_ERR_TIMESTAMP', `status "ts" ${show(o.ts)} is not epoch milliseconds or an RFC 3339 time`);
    out.ts = ts;
  }
  if (o.info !== undefined) {
    if (typeof o.info !== 'string' || o.info.length > STATUS_INFO_MAX_LENGTH) return refuse('SP_ERR_STATUS', `status "info" must be a string of at most ${STATUS_INFO_MAX_LENGTH} characters`);
    if (o.info.includes('\u0000')) return refuse('SP_ERR_TEXT_NUL', 'status "info" contains a NUL character');
    out.info = o.info;
  }
  return { ok: true, value: out };
}

/** A refused message as published on the dead-letter topic. */
export interface DeadLetter {
  topic: string;
  /** Device id when the topic named one. */
  device?: string;
  code: ErrorCode;
  reason: string;
  receivedAt: number;
  /** The payload as received: UTF-8 text when it decodes, else base64. */
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
}

export function deadLetter(topic: string, payload: Uint8Array, refusal: Refusal, receivedAt: number, maxPayloadChars = 4096): DeadLetter {
  let text: string | undefined;
  try {
    text = UTF8.decode(payload.subarray(0, maxPayloadChars));
  } catch { /* not text */ }
  const t = parseTopic(topic);
  return {
    topic, device: t.ok ? t.value.device : undefined, code: refusal.code, reason: refusal.reason, receivedAt,
    payload: text ?? Buffer.from(payload.subarray(0, maxPayloadChars)).toString('base64'),
    payloadEncoding: text === undefined ? 'base64' : 'utf8',
  };
}
