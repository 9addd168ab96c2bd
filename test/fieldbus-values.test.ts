/**
 * Register value codec against values worked out by hand: IEEE 754 and two's complement bit
 * patterns laid out in the four byte/word orders (Telegraf's naming: ABCD big-endian, CDAB word
 * swap, BADC byte swap, DCBA little-endian; 64-bit ABCDEFGH, GHEFCDAB, BADCFEHG, HGFEDCBA).
 */
import { describe, expect, it } from 'vitest';
import { decodeRegisters, encodeRegisters, registerCount, WORD_ORDERS, type ModbusDataType, type WordOrder } from '../core/fieldbus/modbus-values.ts';

type Case = [ModbusDataType, number | bigint, Record<WordOrder, number[]>];

const CASES: Case[] = [
  // 123.456f = 0x42F6E979 (sign 0, exponent 0x85 = 2^6, mantissa 1.929)
  ['float32', 123.45600128173828, { ABCD: [0x42f6, 0xe979], CDAB: [0xe979, 0x42f6], BADC: [0xf642, 0x79e9], DCBA: [0x79e9, 0xf642] }],
  // -123456789 = ~0x075BCD15 + 1 = 0xF8A432EB
  ['int32', -123456789, { ABCD: [0xf8a4, 0x32eb], CDAB: [0x32eb, 0xf8a4], BADC: [0xa4f8, 0xeb32], DCBA: [0xeb32, 0xa4f8] }],
  ['uint32', 0x12345678, { ABCD: [0x1234, 0x5678], CDAB: [0x5678, 0x1234], BADC: [0x3412, 0x7856], DCBA: [0x7856, 0x3412] }],
  // 16 bits: only the byte swap matters
  ['int16', -2, { ABCD: [0xfffe], CDAB: [0xfffe], BADC: [0xfeff], DCBA: [0xfeff] }],
  ['uint16', 0x1234, { ABCD: [0x1234], CDAB: [0x1234], BADC: [0x3412], DCBA: [0x3412] }],
  // -2.5 = -1.25 × 2^1: sign 1, exponent 1023 + 1 = 0x400, mantissa 0x4000000000000 → 0xC004000000000000
  ['float64', -2.5, { ABCD: [0xc004, 0, 0, 0], CDAB: [0, 0, 0, 0xc004], BADC: [0x04c0, 0, 0, 0], DCBA: [0, 0, 0, 0x04c0] }],
  ['uint64', 0x0102030405060708n, {
    ABCD: [0x0102, 0x0304, 0x0506, 0x0708], // ABCDEFGH
    CDAB: [0x0708, 0x0506, 0x0304, 0x0102], // GHEFCDAB
    BADC: [0x0201, 0x0403, 0x0605, 0x0807], // BADCFEHG
    DCBA: [0x0807, 0x0605, 0x0403, 0x0201], // HGFEDCBA
  }],
  // -2 = 0xFFFFFFFFFFFFFFFE
  ['int64', -2n, { ABCD: [0xffff, 0xffff, 0xffff, 0xfffe], CDAB: [0xfffe, 0xffff, 0xffff, 0xffff], BADC: [0xffff, 0xffff, 0xffff, 0xfeff], DCBA: [0xfeff, 0xffff, 0xffff, 0xffff] }],
];

describe('Modbus register values', () => {
  for (const [type, value, byOrder] of CASES) {
    for (const order of WORD_ORDERS) {
      it(`${type} ${value} in ${order} is ${byOrder[order].map((w) => w.toString(16).padStart(4, '0')).join(' ')}`, () => {
        expect(encodeRegisters(value, type, order)).toEqual(byOrder[order]);
        expect(decodeRegisters(byOrder[order], type, order)).toEqual(value);
      });
    }
  }

  it('64-bit integers decode as bigint beyond 2^53 without rounding', () => {
    expect(decodeRegisters([0xffff, 0xffff, 0xffff, 0xffff], 'uint64', 'ABCD')).toBe(18446744073709551615n);
    expect(decodeRegisters([0x0020, 0x0000, 0x0000, 0x0001], 'int64', 'ABCD')).toBe(2n ** 53n + 1n);
  });

  it('a bit is read from its index in the register, 0 = least significant', () => {
    expect(decodeRegisters([0x0008], 'bit', 'ABCD', 3)).toBe(true);
    expect(decodeRegisters([0x0008], 'bit', 'ABCD', 2)).toBe(false);
    expect(decodeRegisters([0x8000], 'bit', 'DCBA', 15)).toBe(true);
    expect(encodeRegisters(true, 'bit', 'ABCD', 15)).toEqual([0x8000]);
    expect(registerCount('bit')).toBe(1);
  });

  it('register counts follow the data type', () => {
    expect(['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'int64', 'uint64'].map((t) => registerCount(t as ModbusDataType))).toEqual([1, 1, 2, 2, 2, 4, 4, 4]);
  });

  it('refuses values the type cannot hold and too few registers', () => {
    expect(() => encodeRegisters(65536, 'uint16', 'ABCD')).toThrow(RangeError);
    expect(() => encodeRegisters(-1, 'uint32', 'ABCD')).toThrow(RangeError);
    expect(() => encodeRegisters(1.5, 'int16', 'ABCD')).toThrow(RangeError);
    expect(() => encodeRegisters(2n ** 64n, 'uint64', 'ABCD')).toThrow(RangeError);
    expect(() => decodeRegisters([1], 'float32', 'ABCD')).toThrow(RangeError);
    expect(() => decodeRegisters([0x10000], 'uint16', 'ABCD')).toThrow(RangeError);
  });
});
