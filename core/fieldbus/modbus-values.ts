/**
 * Modbus register value codec: a value of a data type spread over 16-bit registers in one of the
 * four byte/word orders. The order names follow Telegraf's modbus input: the letters are the
 * value's bytes from most to least significant (A first) as they appear on the wire.
 *   ABCD  big-endian, the Modbus standard: high word first, high byte first in each word
 *   CDAB  words swapped, bytes big-endian in each word ("word swap", common on PLCs)
 *   BADC  bytes swapped in each word, words big-endian
 *   DCBA  fully little-endian
 * 64-bit values extend the same two rules (word order, byte order in a word): ABCD → ABCDEFGH,
 * CDAB → GHEFCDAB, BADC → BADCFEHG, DCBA → HGFEDCBA. A 16-bit value has one word, so only the
 * byte swap matters: ABCD = CDAB and BADC = DCBA.
 * Pure functions, no I/O.
 */

export const MODBUS_DATA_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'int64', 'uint64', 'bit'] as const;
export type ModbusDataType = (typeof MODBUS_DATA_TYPES)[number];
export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type WordOrder = (typeof WORD_ORDERS)[number];
export type RegisterValue = number | bigint | boolean;

const BYTES: Readonly<Record<ModbusDataType, number>> = {
  int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8, int64: 8, uint64: 8, bit: 2,
};

/** Registers a value of this type occupies (a bit lives in one register). */
export function registerCount(type: ModbusDataType): number {
  return BYTES[type] / 2;
}

export const isIntegerType = (t: ModbusDataType): boolean => t !== 'float32' && t !== 'float64' && t !== 'bit';
export const is64BitType = (t: ModbusDataType): boolean => t === 'int64' || t === 'uint64';
export const isFloatType = (t: ModbusDataType): boolean => t === 'float32' || t === 'float64';

/** Smallest and largest value of a type, as numbers (64-bit bounds rounded to the nearest double). */
export function typeRange(type: ModbusDataType): readonly [number, number] {
  switch (type) {
    case 'int16': return [-0x8000, 0x7fff];
    case 'uint16': return [0, 0xffff];
    case 'int32': return [-0x8000_0000, 0x7fff_ffff];
    case 'uint32': return [0, 0xffff_ffff];
    case 'int64': return [-(2 ** 63), 2 ** 63 - 1];
    case 'uint64': return [0, 2 ** 64 - 1];
    case 'float32': return [-3.4028234663852886e38, 3.4028234663852886e38];
    case 'float64': return [-Number.MAX_VALUE, Number.MAX_VALUE];
    case 'bit': return [0, 1];
  }
}

const wordsReversed = (o: WordOrder): boolean => o === 'CDAB' || o === 'DCBA';
const bytesSwapped = (o: WordOrder): boolean => o === 'BADC' || o === 'DCBA';
const swap16 = (w: number): number => ((w & 0xff) << 8) | (w >> 8);

/** Big-endian words (ABCD…) → the registers as they travel in `order`, and back (the map is its own inverse). */
function reorder(words: number[], order: WordOrder): number[] {
  const out = wordsReversed(order) ? words.reverse() : words;
  return bytesSwapped(order) ? out.map(swap16) : out;
}

/**
 * Decodes registers (as read, first register first) into a value: 64-bit integers as bigint,
 * bit as boolean (bit 0..15 of the first register, counted from the least significant; the
 * order does not apply to a single bit), everything else as number.
 */
export function decodeRegisters(regs: ArrayLike<number>, type: ModbusDataType, order: WordOrder, bit = 0): RegisterValue {
  const n = registerCount(type);
  if (regs.length < n) throw new RangeError(`${type} needs ${n} registers, got ${regs.length}`);
  if (type === 'bit') {
    if (!Number.isInteger(bit) || bit < 0 || bit > 15) throw new RangeError(`bit index ${bit} is not 0..15`);
    return ((regs[0] as number) >> bit & 1) === 1;
  }
  const words: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = regs[i] as number;
    if (!Number.isInteger(r) || r < 0 || r > 0xffff) throw new RangeError(`register ${i} = ${r} is not 0..65535`);
    words.push(r);
  }
  const view = new DataView(new ArrayBuffer(2 * n));
  reorder(words, order).forEach((w, i) => view.setUint16(2 * i, w));
  switch (type) {
    case 'int16': return view.getInt16(0);
    case 'uint16': return view.getUint16(0);
    case 'int32': return view.getInt32(0);
    case 'uint32': return view.getUint32(0);
    case 'float32': return view.getFloat32(0);
    case 'float64': return view.getFloat64(0);
    case 'int64': return view.getBigInt64(0);
    case 'uint64': return view.getBigUint64(0);
  }
}

const INT_BOUNDS: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int16: [-0x8000n, 0x7fffn], uint16: [0n, 0xffffn], int32: [-0x8000_0000n, 0x7fff_ffffn], uint32: [0n, 0xffff_ffffn],
  int64: [-(1n << 63n), (1n << 63n) - 1n], uint64: [0n, (1n << 64n) - 1n],
};

function integer(value: RegisterValue, type: ModbusDataType): bigint {
  if (typeof value === 'boolean') throw new TypeError(`${type} cannot hold a boolean`);
  if (typeof value === 'number' && !Number.isInteger(value)) throw new RangeError(`${type} cannot hold ${value}: not an integer`);
  const v = BigInt(value);
  const [lo, hi] = INT_BOUNDS[type] as readonly [bigint, bigint];
  if (v < lo || v > hi) throw new RangeError(`${type} cannot hold ${value}: outside ${lo}..${hi}`);
  return v;
}

/**
 * Encodes a value into registers in `order` (the inverse of decodeRegisters). Integers must be
 * integral and within the type's range (RangeError otherwise); floats are rounded to the type.
 * For type bit, the register has only that bit set (or none).
 */
export function encodeRegisters(value: RegisterValue, type: ModbusDataType, order: WordOrder, bit = 0): number[] {
  if (type === 'bit') {
    if (!Number.isInteger(bit) || bit < 0 || bit > 15) throw new RangeError(`bit index ${bit} is not 0..15`);
    return [value === true || value === 1 || value === 1n ? 1 << bit : 0];
  }
  const n = registerCount(type);
  const view = new DataView(new ArrayBuffer(2 * n));
  if (type === 'float32' || type === 'float64') {
    if (typeof value === 'boolean') throw new TypeError(`${type} cannot hold a boolean`);
    const f = Number(value);
    if (type === 'float32') view.setFloat32(0, f);
    else view.setFloat64(0, f);
  } else {
    const v = integer(value, type);
    switch (type) {
      case 'int16': view.setInt16(0, Number(v)); break;
      case 'uint16': view.setUint16(0, Number(v)); break;
      case 'int32': view.setInt32(0, Number(v)); break;
      case 'uint32': view.setUint32(0, Number(v)); break;
      case 'int64': view.setBigInt64(0, v); break;
      case 'uint64': view.setBigUint64(0, v); break;
    }
  }
  const words: number[] = [];
  for (let i = 0; i < n; i++) words.push(view.getUint16(2 * i));
  return reorder(words, order);
}
