/**
 * Sparkplug B payload codec (protobufjs 7 over core/sparkplug/sparkplug_b.proto), shared by the
 * host application in ingest and the simulated edge node. Decoding is defensive: a payload is
 * refused with a coded PlatformError (size, protobuf, metric count, metric name, datatype), never
 * a crash. The schema is compiled once, on first use (no I/O at import).
 *
 * Supported scalar datatypes: Int8..Int64, UInt8..UInt64, Float, Double, Boolean, String, Text,
 * UUID, DateTime. DataSet, Template, Bytes, File, PropertySet and the array types are decoded by
 * protobuf but refused per metric (SP_ERR_SPB_DATATYPE), see docs/sparkplug.md.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { PlatformError } from '../errors.ts';

/** Sparkplug B 3.0 datatype numbers (spec 6.4.16). */
export const DataType = Object.freeze({
  Unknown: 0, Int8: 1, Int16: 2, Int32: 3, Int64: 4, UInt8: 5, UInt16: 6, UInt32: 7, UInt64: 8,
  Float: 9, Double: 10, Boolean: 11, String: 12, DateTime: 13, Text: 14, UUID: 15, DataSet: 16,
  Bytes: 17, File: 18, Template: 19, PropertySet: 20, PropertySetList: 21,
} as const);
export type DataTypeName = keyof typeof DataType;
const NAME_OF = new Map<number, DataTypeName>(Object.entries(DataType).map(([k, v]) => [v, k as DataTypeName]));
export const dataTypeName = (n: number): string => NAME_OF.get(n) ?? (n >= 22 && n <= 34 ? `Array(${n})` : `#${n}`);

/** The scalar datatypes we store; everything else is refused per metric with its reason. */
export const SUPPORTED_DATATYPES: readonly DataTypeName[] = [
  'Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64',
  'Float', 'Double', 'Boolean', 'String', 'Text', 'UUID', 'DateTime',
];

export const CODEC_LIMITS = Object.freeze({
  /** Largest payload decoded, bytes. */
  maxPayloadBytes: 256 * 1024,
  /** Most metrics one payload may carry. */
  maxMetrics: 1000,
  /** Longest metric name, characters (names like "Node Control/Rebirth" or "Zone 3/Temperature"). */
  maxNameLength: 200,
});

export type SpValue = number | bigint | boolean | string;

export interface SpMetric {
  readonly name?: string;
  /** Alias as a bigint-safe number (aliases above 2^53 are refused). */
  readonly alias?: number;
  /** Epoch ms of the reading, if the metric carries one. */
  readonly timestamp?: number;
  readonly datatype?: number;
  readonly isHistorical: boolean;
  readonly isTransient: boolean;
  readonly isNull: boolean;
  /** Decoded scalar value, or undefined when null or not a supported scalar. */
  readonly value?: SpValue;
  /** Set when the metric's datatype is not a supported scalar: the reason, for the dead-letter. */
  readonly unsupported?: string;
  /**
   * The decoded protobuf metric, for `valueAs`: DATA metrics sent by alias usually carry no
   * datatype ([tck-id-payloads-metric-datatype-not-req]), so the host decodes them with the
   * datatype of the birth.
   */
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface SpPayload {
  readonly timestamp?: number;
  readonly seq?: number;
  readonly metrics: readonly SpMetric[];
}

/** What the encoder accepts (simulator, tests). */
export interface SpMetricIn {
  name?: string; alias?: number; timestamp?: number; datatype: number;
  value?: SpValue | null; isHistorical?: boolean; isTransient?: boolean;
  /** Leave the datatype out of the message (DATA by alias: the receiver knows it from the birth). */
  omitDatatype?: boolean;
}
export interface SpPayloadIn { timestamp?: number; seq?: number; metrics: SpMetricIn[] }

let payloadType: protobuf.Type | undefined;
function schema(): protobuf.Type {
  if (!payloadType) {
    const text = readFileSync(new URL('./sparkplug_b.proto', import.meta.url), 'utf8');
    payloadType = protobuf.parse(text, { keepCase: true }).root.lookupType('org.eclipse.tahu.protobuf.Payload');
  }
  return payloadType;
}

type LongLike = { low: number; high: number; unsigned?: boolean };
function toBig(v: unknown, signed: boolean): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'object' && 'low' in (v as object) && 'high' in (v as object)) {
    const l = v as LongLike;
    const u = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
    return signed ? BigInt.asIntN(64, u) : u;
  }
  return undefined;
}
function toSafeNumber(v: unknown): number | undefined {
  const b = toBig(v, false);
  if (b === undefined || b > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(b);
}

/** Field presence: protobufjs puts proto2 defaults on the prototype, so only own fields were sent. */
const has = (o: Record<string, unknown>, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined && o[k] !== null;

function decodeValue(m: Record<string, unknown>, dt: number): SpValue | undefined {
  switch (dt) {
    case DataType.Int8: return has(m, 'int_value') ? ((m.int_value as number) << 24) >> 24 : undefined;
    case DataType.Int16: return has(m, 'int_value') ? ((m.int_value as number) << 16) >> 16 : undefined;
    case DataType.Int32: return has(m, 'int_value') ? (m.int_value as number) | 0 : undefined;
    case DataType.UInt8: case DataType.UInt16:
      return has(m, 'int_value') ? (m.int_value as number) >>> 0 : undefined;
    case DataType.UInt32: {
      // the spec's int_value, or long_value as Eclipse Tahu's JavaScript sparkplug-payload sends it
      if (has(m, 'int_value')) return (m.int_value as number) >>> 0;
      const v = toBig(m.long_value, false);
      return v === undefined || v > 0xffffffffn ? undefined : Number(v);
    }
    case DataType.Int64: return toBig(m.long_value, true);
    case DataType.UInt64: return toBig(m.long_value, false);
    case DataType.DateTime: return toSafeNumber(m.long_value);
    case DataType.Float: return has(m, 'float_value') ? Math.fround(m.float_value as number) : undefined;
    case DataType.Double: return has(m, 'double_value') ? (m.double_value as number) : undefined;
    case DataType.Boolean: return has(m, 'boolean_value') ? (m.boolean_value as boolean) : undefined;
    case DataType.String: case DataType.Text: case DataType.UUID:
      return has(m, 'string_value') ? (m.string_value as string) : undefined;
    default: return undefined;
  }
}

/**
 * The value of a metric read as datatype `dt` (the birth's, for an alias-only DATA metric):
 * undefined when null, absent or `dt` is not a supported scalar.
 */
export function valueAs(m: SpMetric, dt: number): SpValue | undefined {
  if (m.isNull || !SUPPORTED_DATATYPES.includes(NAME_OF.get(dt) as DataTypeName)) return undefined;
  return decodeValue(m.raw as Record<string, unknown>, dt);
}

/** A metric name we accept: printable, no NUL/control characters, not too long. */
export function checkMetricName(name: string): string | undefined {
  if (name.length === 0) return 'empty';
  if (name.length > CODEC_LIMITS.maxNameLength) return `longer than ${CODEC_LIMITS.maxNameLength} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\u2028\u2029]/.test(name)) return 'contains a control character';
  if (/[+#]/.test(name) || name.includes('..')) return 'contains "+", "#" or ".."';
  return undefined;
}

/** Decodes one Sparkplug B payload; throws PlatformError with a SP_ERR_SPB_* code on bad input. */
export function decodePayload(buf: Uint8Array, limits = CODEC_LIMITS): SpPayload {
  if (buf.length > limits.maxPayloadBytes) {
    throw new PlatformError('SP_ERR_PAYLOAD_SIZE', `Sparkplug payload of ${buf.length} bytes exceeds ${limits.maxPayloadBytes}`);
  }
  let raw: Record<string, unknown>;
  try {
    raw = schema().decode(buf) as unknown as Record<string, unknown>;
  } catch (e) {
    throw new PlatformError('SP_ERR_SPB_PROTOBUF', `not a Sparkplug B protobuf payload: ${(e as Error).message}`);
  }
  const rawMetrics = (raw.metrics as Record<string, unknown>[] | undefined) ?? [];
  if (rawMetrics.length > limits.maxMetrics) {
    throw new PlatformError('SP_ERR_SPB_METRIC_COUNT', `payload carries ${rawMetrics.length} metrics, at most ${limits.maxMetrics} allowed`);
  }
  const metrics: SpMetric[] = [];
  for (const [i, m] of rawMetrics.entries()) {
    const name = has(m, 'name') ? (m.name as string) : undefined;
    if (name !== undefined) {
      const bad = checkMetricName(name);
      if (bad) throw new PlatformError('SP_ERR_SPB_METRIC_NAME', `metrics[${i}].name ${JSON.stringify(name.slice(0, 80))} refused: ${bad}`);
    }
    const alias = has(m, 'alias') ? toSafeNumber(m.alias) : undefined;
    if (has(m, 'alias') && alias === undefined) throw new PlatformError('SP_ERR_SPB_PROTOBUF', `metrics[${i}].alias exceeds 2^53`);
    const dt = has(m, 'datatype') ? (m.datatype as number) : undefined;
    const isNull = m.is_null === true;
    const supported = dt !== undefined && SUPPORTED_DATATYPES.includes(NAME_OF.get(dt) as DataTypeName);
    metrics.push({
      name, alias, datatype: dt,
      timestamp: has(m, 'timestamp') ? toSafeNumber(m.timestamp) : undefined,
      isHistorical: m.is_historical === true,
      isTransient: m.is_transient === true,
      isNull,
      value: supported && !isNull ? decodeValue(m, dt) : undefined,
      unsupported: dt === undefined ? undefined : supported ? undefined : `datatype ${dataTypeName(dt)} is not supported`,
      raw: m,
    });
  }
  return {
    timestamp: has(raw, 'timestamp') ? toSafeNumber(raw.timestamp) : undefined,
    seq: has(raw, 'seq') ? toSafeNumber(raw.seq) : undefined,
    metrics,
  };
}

function encodeValue(dt: number, v: SpValue): Record<string, unknown> {
  switch (dt) {
    case DataType.Int8: case DataType.Int16: case DataType.Int32:
    case DataType.UInt8: case DataType.UInt16: case DataType.UInt32:
      return { int_value: Number(v) >>> 0 };
    case DataType.Int64: case DataType.UInt64: case DataType.DateTime: {
      const u = BigInt.asUintN(64, BigInt(v as number | bigint));
      return { long_value: { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: true } };
    }
    case DataType.Float: return { float_value: Number(v) };
    case DataType.Double: return { double_value: Number(v) };
    case DataType.Boolean: return { boolean_value: Boolean(v) };
    case DataType.String: case DataType.Text: case DataType.UUID: return { string_value: String(v) };
    default: throw new PlatformError('SP_ERR_SPB_DATATYPE', `cannot encode datatype ${dataTypeName(dt)}`);
  }
}

/** Encodes a Sparkplug B payload (scalar datatypes only). */
export function encodePayload(p: SpPayloadIn): Uint8Array {
  const T = schema();
  const msg = {
    timestamp: p.timestamp, seq: p.seq,
    metrics: p.metrics.map((m) => ({
      name: m.name, alias: m.alias, timestamp: m.timestamp, datatype: m.omitDatatype ? undefined : m.datatype,
      is_historical: m.isHistorical || undefined, is_transient: m.isTransient || undefined,
      ...(m.value === null || m.value === undefined ? { is_null: true } : encodeValue(m.datatype, m.value)),
    })),
  };
  return T.encode(T.fromObject(msg)).finish();
}
