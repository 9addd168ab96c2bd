/**
 * Between what a field device holds and the metric the platform stores, in both directions:
 * the gateway turns a decoded register value into a metric value (scale, offset, enum map,
 * checks of the metric's type), the field simulator turns a metric value into what a device
 * with that register map would hold. One place, so the two cannot drift apart.
 */
import type { MetricValue } from '../contract.ts';
import type { MetricDef } from '../model.ts';
import type { Dlt645Point, ModbusPoint } from './config.ts';
import { is64BitType, typeRange, type RegisterValue } from './modbus-values.ts';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export type PointValue = { readonly value: MetricValue } | { readonly error: string };

/** The shortest decimal that is the same float32 (123.456 rather than 123.45600128173828). */
function shortestFloat32(x: number): number {
  for (let digits = 1; digits <= 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

/** Drops binary noise from raw × scale + offset (0.30000000000000004 → 0.3): 15 significant digits are exact in a double. */
const clean = (x: number): number => (Number.isInteger(x) ? x : Number(x.toPrecision(15)));

/** A decoded register value → the metric value, or why it cannot be one (unmapped enum code, NaN, negative counter…). */
export function modbusMetricValue(point: ModbusPoint, raw: RegisterValue, def: MetricDef): PointValue {
  if (typeof raw === 'boolean') return def.type === 'boolean' ? { value: raw } : { error: `${point.metric}: a bit cannot be ${def.type}` };
  if (point.values) {
    const code = Number(raw);
    const v = point.values.get(code);
    return v !== undefined ? { value: v } : { error: `${point.metric}: raw value ${code} is not in the values map (${[...point.values.keys()].join(', ')})` };
  }
  if (typeof raw === 'bigint' && (raw > MAX_SAFE || raw < -MAX_SAFE)) return { error: `${point.metric}: ${raw} exceeds 2^53, a double would round it` };
  const base = point.type === 'float32' ? shortestFloat32(raw as number) : Number(raw);
  if (!Number.isFinite(base)) return { error: `${point.metric}: register value ${base} is not finite` };
  const v = clean(base * point.scale + point.offset);
  if (def.type === 'integer' && !Number.isSafeInteger(v)) return { error: `${point.metric}: ${v} is not a safe integer` };
  if (def.type === 'counter' && v < 0) return { error: `${point.metric}: counter reads ${v} (negative)` };
  return { value: v };
}

/**
 * A metric value → what the register holds (field simulator): (value − offset) / scale,
 * rounded for integer types and saturated to the type's range as a device would; enum values by
 * the values map. RangeError when the map has no code for an enum value.
 */
export function modbusRawValue(point: ModbusPoint, value: MetricValue): RegisterValue {
  if (point.type === 'bit') return value === true;
  if (point.values) {
    for (const [code, v] of point.values) if (v === value) return is64BitType(point.type) ? BigInt(code) : code;
    throw new RangeError(`${point.metric}: no raw code for ${JSON.stringify(value)} in the values map`);
  }
  if (typeof value !== 'number') throw new RangeError(`${point.metric}: ${JSON.stringify(value)} is not a number`);
  const x = (value - point.offset) / point.scale;
  if (point.type === 'float32' || point.type === 'float64') return x;
  if (!is64BitType(point.type)) {
    const [lo, hi] = typeRange(point.type);
    return Math.min(hi, Math.max(lo, Math.round(x)));
  }
  const [lo, hi] = point.type === 'int64' ? [-(1n << 63n), (1n << 63n) - 1n] : [0n, (1n << 64n) - 1n];
  const big = Number.isFinite(x) ? BigInt(Math.round(x)) : x > 0 ? hi : lo;
  return big < lo ? lo : big > hi ? hi : big;
}

/** A meter value (decoded by its DI's format) → the metric value (× the point's CT × PT ratio). */
export function dlt645MetricValue(point: Dlt645Point, meterValue: number, def: MetricDef): PointValue {
  const v = clean(meterValue * point.scale);
  if (!Number.isFinite(v)) return { error: `${point.metric}: ${v} is not finite` };
  if (def.type === 'counter' && v < 0) return { error: `${point.metric}: counter reads ${v} (negative)` };
  return { value: v };
}

/** A metric value → what the meter shows (÷ the ratio), saturated to its BCD format (field simulator). */
export function dlt645MeterValue(point: Dlt645Point, value: number, counter = false): number {
  const f = point.format;
  const step = 10 ** f.decimals;
  // A counter's register shows completed units (never ahead of the model); other values are rounded.
  const x = counter ? Math.floor((value / point.scale) * step + 1e-9) / step : Math.round((value / point.scale) * step) / step;
  const max = (f.signed ? 8 * 10 ** (2 * f.bytes - 1) - 1 : 10 ** (2 * f.bytes) - 1) / step;
  return Math.min(max, Math.max(f.signed ? -max : 0, x));
}
