/**
 * DL/T 645-2007 frames worked out by hand from the standard's rules: 68, address lowest byte
 * first, 68, C, L, data + 0x33 per byte, CS = sum of all bytes from the first 68 through the
 * data mod 256, 16.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeBcd, decodeReadRequest, decodeReadResponse, DLT645_IDS, Dlt645FrameReader, encodeBcd, encodeExceptionResponse,
  encodeFrame, encodeReadRequest, encodeReadResponse, type Dlt645Frame,
} from '../core/fieldbus/dlt645.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const frameOf = (b: Buffer): Dlt645Frame => {
  const items = new Dlt645FrameReader().push(b);
  if (items.length !== 1 || !('frame' in items[0]!)) throw new Error(`not one frame: ${JSON.stringify(items)}`);
  return items[0].frame;
};

describe('DL/T 645-2007 frames', () => {
  it('read request of forward active total energy from meter 000000000001', () => {
    // address 000000000001 → A0..A5 = 01 00 00 00 00 00 (lowest byte first)
    // C = 11 (read data), L = 04, DI 00 01 00 00 sent DI0 first: 00 00 01 00 → +33: 33 33 34 33
    // CS = 68 + 01 + 68 + 11 + 04 + 33 + 33 + 34 + 33 = 0x1B3 → B3
    expect(encodeReadRequest('000000000001', '00010000')).toEqual(hex('FEFEFEFE 68 010000000000 68 11 04 33333433 B3 16'));
    // the published broadcast read: 68 AA×6 68 11 04 33 33 34 33 AE 16 (CS = 0xD0 + 6·0xAA + 0x11 + 4 + 0xCD = 0x5AE)
    expect(encodeReadRequest('AAAAAAAAAAAA', '00010000', false)).toEqual(hex('68 AAAAAAAAAAAA 68 11 04 33333433 AE 16'));
    expect(decodeReadRequest(frameOf(encodeReadRequest('000000000001', '02030000')))).toBe('02030000');
  });

  it('normal answer: 123456.78 kWh', () => {
    // XXXXXX.XX → digits 12345678 → BCD lowest byte first 78 56 34 12 → +33: AB 89 67 45
    // C = 91, L = 4 + 4 = 08; CS = 68+01+68+91+08 (0x16A) + 33+33+34+33 (0xCD) + AB+89+67+45 (0x1E0) = 0x417 → 17
    const wire = hex('68 010000000000 68 91 08 33333433 AB896745 17 16');
    expect(encodeReadResponse('000000000001', '00010000', 123456.78, { preamble: false })).toEqual(wire);
    expect(decodeReadResponse(frameOf(wire))).toEqual({ di: '00010000', value: 123456.78, followUp: false });
  });

  it('signed answer: total active power -1.2345 kW (sign in the top bit)', () => {
    // XX.XXXX → digits 012345 → 45 23 01, sign → 45 23 81 → +33: 78 56 B4; DI 02030000 → 00 00 03 02 → 33 33 36 35
    // CS = 0x162 + 07 + 0xD1 + 0x182 = 0x3BC → BC
    const wire = hex('68 010000000000 68 91 07 33333635 7856B4 BC 16');
    expect(encodeReadResponse('000000000001', '02030000', -1.2345, { preamble: false })).toEqual(wire);
    expect(decodeReadResponse(frameOf(wire))).toMatchObject({ di: '02030000', value: -1.2345 });
  });

  it('abnormal answer: error word 02 = no requested data', () => {
    // C = D1, L = 01, data 02 + 33 = 35; CS = 68+01+68+D1+01+35 = 0x1D8 → D8
    const wire = hex('68 010000000000 68 D1 01 35 D8 16');
    expect(encodeExceptionResponse('000000000001', 0x02, false)).toEqual(wire);
    expect(decodeReadResponse(frameOf(wire))).toEqual({ exception: true, errorWord: 2, meanings: ['no requested data'] });
    expect(decodeReadResponse(frameOf(encodeExceptionResponse('000000000001', 0x45)))).toMatchObject({
      meanings: ['other error', 'password error or unauthorised', 'tariff count exceeded'],
    });
  });

  it('a follow-up answer (B1) is flagged; a short or non-BCD answer is an error, not a throw', () => {
    expect(decodeReadResponse(frameOf(encodeReadResponse('000000000001', '02800002', 50.01, { followUp: true })))).toMatchObject({ value: 50.01, followUp: true });
    expect(decodeReadResponse(frameOf(encodeFrame('000000000001', 0x91, [0, 0, 1, 0, 0x12])))).toHaveProperty('error');
    expect(decodeReadResponse(frameOf(encodeFrame('000000000001', 0x91, [0, 0, 1, 0, 0xff, 0, 0, 0])))).toHaveProperty('error');
  });
});

describe('DL/T 645 frame reader', () => {
  it('skips preambles and garbage, reassembles split frames', () => {
    const a = encodeReadResponse('000000000001', '00010000', 42);
    const b = encodeReadResponse('123456789012', '02010100', 229.9);
    const stream = Buffer.concat([hex('00 68 FF 16'), a, hex('FE FE'), b]);
    const r = new Dlt645FrameReader();
    const got = [];
    for (let i = 0; i < stream.length; i += 5) got.push(...r.push(stream.subarray(i, i + 5)));
    expect(got.map((x) => ('frame' in x ? x.frame.address : x.error))).toEqual(['000000000001', '123456789012']);
    expect(got.map((x) => ('frame' in x ? decodeReadResponse(x.frame) : x))).toMatchObject([{ value: 42 }, { di: '02010100', value: 229.9 }]);
    expect(r.skipped).toBeGreaterThanOrEqual(4 + 4 + 2 + 4);
  });

  it('reports a bad checksum as an error item and reads on', () => {
    const bad = encodeReadResponse('000000000001', '00010000', 1);
    bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 1;
    const items = new Dlt645FrameReader().push(Buffer.concat([bad, encodeExceptionResponse('000000000001', 1)]));
    expect(items[0]).toMatchObject({ error: 'checksum' });
    expect(items[1]).toHaveProperty('frame');
  });
});

describe('BCD and the data identifier table', () => {
  it('BCD lowest byte first, sign and magnitude', () => {
    expect(encodeBcd(229.9, 2, 1)).toEqual(hex('9922'));
    expect(encodeBcd(-12.345, 3, 3, true)).toEqual(hex('452381'));
    expect(decodeBcd(hex('452381'), 3, true)).toBe(-12.345);
    expect(() => encodeBcd(80, 3, 4, true)).toThrow(RangeError); // XX.XXXX signed: at most 79.9999
    expect(() => encodeBcd(-1, 4, 2)).toThrow(RangeError);
  });

  it('holds the formats of the standard for the identifiers a gateway reads', () => {
    expect(DLT645_IDS.get('00010000')).toMatchObject({ bytes: 4, decimals: 2, signed: false, unit: 'kWh' });
    expect(DLT645_IDS.get('00000000')).toMatchObject({ bytes: 4, decimals: 2, unit: 'kWh' });
    for (const di of ['02010100', '02010200', '02010300']) expect(DLT645_IDS.get(di)).toMatchObject({ bytes: 2, decimals: 1, unit: 'V' });
    for (const di of ['02020100', '02020200', '02020300']) expect(DLT645_IDS.get(di)).toMatchObject({ bytes: 3, decimals: 3, signed: true, unit: 'A' });
    for (const di of ['02030000', '02030100', '02030200', '02030300']) expect(DLT645_IDS.get(di)).toMatchObject({ bytes: 3, decimals: 4, signed: true, unit: 'kW' });
    expect(DLT645_IDS.get('02060000')).toMatchObject({ bytes: 2, decimals: 3, signed: true });
    expect(DLT645_IDS.get('02800002')).toMatchObject({ bytes: 2, decimals: 2, unit: 'Hz' });
  });
});
