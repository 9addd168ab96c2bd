/**
 * Modbus RTU framing and PDUs against the frames of the Modbus specifications' examples
 * (Modbus over Serial Line V1.02 §6.2.2 and the Application Protocol's request/response
 * examples with unit 0x11), the CRC low byte first.
 */
import { describe, expect, it } from 'vitest';
import {
  crc16, decodeRequest, decodeResponse, encodeAdu, encodeRequest, encodeResponse, MODBUS_EXCEPTIONS, parseAdu, RtuFrameReader,
} from '../core/fieldbus/modbus-rtu.ts';
import { encodeMbap, MbapFrameReader } from '../core/fieldbus/modbus-tcp.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('Modbus RTU frames', () => {
  it('read holding registers, unit 0x11, start 0x006B, 3 registers is 11 03 00 6B 00 03 76 87', () => {
    expect(encodeAdu(0x11, encodeRequest({ fc: 3, address: 0x6b, quantity: 3 }))).toEqual(hex('11 03 006B 0003 7687'));
    expect(crc16(hex('11 03 006B 0003'))).toBe(0x8776); // sent low byte (76) first
  });

  it('encodes the spec examples of every function code', () => {
    const cases: [Parameters<typeof encodeRequest>[0], string][] = [
      [{ fc: 1, address: 0x13, quantity: 0x25 }, '11 01 0013 0025 0E84'],
      [{ fc: 2, address: 0xc4, quantity: 0x16 }, '11 02 00C4 0016 BAA9'],
      [{ fc: 4, address: 0x08, quantity: 1 }, '11 04 0008 0001 B298'],
      [{ fc: 5, address: 0xac, value: true }, '11 05 00AC FF00 4E8B'],
      [{ fc: 6, address: 1, value: 3 }, '11 06 0001 0003 9A9B'],
      // coils 20..29 = 1011 0011 1 0 → CD 01
      [{ fc: 15, address: 0x13, values: [true, false, true, true, false, false, true, true, true, false] }, '11 0F 0013 000A 02 CD01 BF0B'],
      [{ fc: 16, address: 1, values: [0x000a, 0x0102] }, '11 10 0001 0002 04 000A 0102 C6F0'],
    ];
    for (const [req, frame] of cases) {
      expect(encodeAdu(0x11, encodeRequest(req)).toString('hex')).toBe(hex(frame).toString('hex'));
      const back = parseAdu(hex(frame));
      expect('pdu' in back && decodeRequest(back.pdu)).toEqual(req);
    }
  });

  it('decodes the spec responses: registers, coils, write echoes, exceptions', () => {
    const regs = parseAdu(hex('11 03 06 AE41 5652 4340 49AD'));
    expect('pdu' in regs && decodeResponse(regs.pdu, { fc: 3, address: 0x6b, quantity: 3 })).toEqual({ fc: 3, registers: [0xae41, 0x5652, 0x4340] });
    const coils = parseAdu(hex('11 01 05 CD6BB20E1B 45E6'));
    const bits = 'pdu' in coils ? decodeResponse(coils.pdu, { fc: 1, address: 0x13, quantity: 37 }) : undefined;
    // 0xCD = 1100 1101: coils 20..27 read 1 0 1 1 0 0 1 1 (least significant bit first); 0x1B holds the last 5
    expect(bits && 'bits' in bits && bits.bits.slice(0, 8)).toEqual([true, false, true, true, false, false, true, true]);
    expect(bits && 'bits' in bits && bits.bits.slice(32)).toEqual([true, true, false, true, true]);
    const echo = parseAdu(hex('11 10 0001 0002 1298'));
    expect('pdu' in echo && decodeResponse(echo.pdu, { fc: 16, address: 1, values: [10, 258] })).toEqual({ fc: 16, address: 1, quantity: 2 });
    const ex = parseAdu(hex('11 83 02 C134'));
    expect('pdu' in ex && decodeResponse(ex.pdu, { fc: 3, address: 0, quantity: 1 })).toEqual({ fc: 3, exception: 2, meaning: 'illegal data address' });
  });

  it('names the exception codes 01-0B', () => {
    expect(MODBUS_EXCEPTIONS).toMatchObject({
      1: 'illegal function', 2: 'illegal data address', 3: 'illegal data value', 4: 'server device failure',
      5: 'acknowledge', 6: 'server device busy', 10: 'gateway path unavailable', 11: 'gateway target device failed to respond',
    });
  });

  it('refuses a response that does not fit its request', () => {
    const pdu = encodeResponse({ fc: 3, registers: [1, 2] });
    expect(decodeResponse(pdu, { fc: 3, address: 0, quantity: 3 })).toHaveProperty('error');
    expect(decodeResponse(pdu, { fc: 4, address: 0, quantity: 2 })).toHaveProperty('error');
    expect(parseAdu(hex('11 03 006B 0003 7688'))).toHaveProperty('error');
  });

  it('a server answers 01 to an unknown function and 03 to a quantity beyond the limit', () => {
    expect(decodeRequest(hex('2B 0E01 00'))).toMatchObject({ fc: 0x2b, exception: 1 });
    expect(decodeRequest(encodeRequest({ fc: 3, address: 0, quantity: 126 }))).toMatchObject({ exception: 3 });
    expect(decodeRequest(encodeRequest({ fc: 1, address: 0, quantity: 2001 }))).toMatchObject({ exception: 3 });
    expect(encodeResponse({ fc: 3, exception: 2, meaning: '' })).toEqual(hex('83 02'));
  });
});

describe('RTU frame reader on a TCP stream', () => {
  it('cuts requests of fixed and counted length however the bytes are split', () => {
    const stream = Buffer.concat([hex('11 03 006B 0003 7687'), hex('11 10 0001 0002 04 000A 0102 C6F0'), hex('11 05 00AC FF00 4E8B')]);
    for (const step of [1, 3, 7, stream.length]) {
      const r = new RtuFrameReader('request');
      const got = [];
      for (let i = 0; i < stream.length; i += step) got.push(...r.push(stream.subarray(i, i + step)));
      expect(got.map((x) => ('pdu' in x ? x.pdu[0] : 'error'))).toEqual([3, 16, 5]);
      expect(r.pending).toBe(0);
    }
  });

  it('cuts responses by their byte count, write echoes and exceptions', () => {
    const r = new RtuFrameReader('response');
    const got = r.push(Buffer.concat([hex('11 03 06 AE41 5652 4340 49AD'), hex('11 83 02 C134'), hex('11 10 0001 0002 1298')]));
    expect(got.map((x) => ('pdu' in x ? x.pdu.length : -1))).toEqual([8, 2, 5]);
  });

  it('reports a bad CRC as an error item and reads the next frame', () => {
    const r = new RtuFrameReader('response');
    const got = r.push(Buffer.concat([hex('11 03 06 AE41 5652 4340 49AE'), hex('11 83 02 C134')]));
    expect(got[0]).toMatchObject({ error: 'crc' });
    expect(got[1]).toMatchObject({ unitId: 0x11, pdu: hex('83 02') });
  });
});

describe('Modbus TCP framing', () => {
  it('MBAP: transaction id, protocol 0, length of unit id + PDU, unit id', () => {
    const f = encodeMbap(0x0102, 0x11, encodeRequest({ fc: 3, address: 0x6b, quantity: 3 }));
    expect(f).toEqual(hex('0102 0000 0006 11 03 006B 0003'));
    const r = new MbapFrameReader();
    expect([...r.push(f.subarray(0, 4)), ...r.push(Buffer.concat([f.subarray(4), f]))]).toHaveLength(2);
    expect(new MbapFrameReader().push(hex('0001 0001 0006 11 03 006B 0003'))[0]).toHaveProperty('error');
  });
});
