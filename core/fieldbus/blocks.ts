/**
 * Read planning: the points of one device merged into as few read requests as the limits allow.
 * Points of one data space and one poll group whose addresses touch (or lie at most maxGap
 * unused registers/bits apart) share a request, up to maxRegisters registers (FC 3/4) or maxBits
 * bits (FC 1/2) per request. Exported through config.ts.
 */
import type { ModbusPoint, ReadBlock } from './config.ts';

const isBits = (p: ModbusPoint): boolean => p.register === 'coil' || p.register === 'discrete';

/**
 * Read blocks for the points (of one device), ordered by poll group, data space and address.
 * A point larger than the limit gets a block of its own (config validation keeps the register
 * limit at 4 or more, the largest point).
 */
export function coalesce(points: readonly ModbusPoint[], maxRegisters: number, maxBits: number, maxGap = 0): ReadBlock[] {
  const byKey = new Map<string, ModbusPoint[]>();
  for (const p of points) {
    const key = `${p.group}\u0000${p.register}`;
    const list = byKey.get(key);
    if (list) list.push(p);
    else byKey.set(key, [p]);
  }
  const out: ReadBlock[] = [];
  const keys = [...byKey.keys()].sort();
  for (const key of keys) {
    const list = (byKey.get(key) as ModbusPoint[]).slice().sort((a, b) => a.address - b.address || b.count - a.count);
    const limit = isBits(list[0] as ModbusPoint) ? maxBits : maxRegisters;
    let cur: { start: number; end: number; points: ModbusPoint[] } | undefined;
    const flush = (): void => {
      if (!cur) return;
      const first = cur.points[0] as ModbusPoint;
      out.push({ register: first.register, group: first.group, address: cur.start, count: cur.end - cur.start, points: cur.points });
    };
    for (const p of list) {
      const end = p.address + p.count;
      if (cur && p.address - cur.end <= maxGap && Math.max(cur.end, end) - cur.start <= limit) {
        cur.end = Math.max(cur.end, end);
        cur.points.push(p);
      } else {
        flush();
        cur = { start: p.address, end, points: [p] };
      }
    }
    flush();
  }
  return out;
}

/** The registers (or bits) of one point inside the data read for its block. */
export function pointSlice<T>(block: ReadBlock, point: ModbusPoint, data: ArrayLike<T>): T[] {
  const from = point.address - block.address;
  if (from < 0 || from + point.count > block.count || data.length < from + point.count) {
    throw new RangeError(`point ${point.metric} (${point.register} ${point.address}) is outside block ${block.address}+${block.count}`);
  }
  return Array.from({ length: point.count }, (_, i) => data[from + i] as T);
}
