/**
 * Modbus RTU framing and the PDUs of function codes 1–6, 15 and 16 (Modbus Application Protocol
 * V1.1b3; Modbus over Serial Line V1.02). An RTU ADU is unit id + PDU + CRC-16 (poly 0xA001
 * reflected, init 0xFFFF, low byte first on the wire). On a serial line a frame ends with 3.5
 * characters of silence; over TCP (a serial device server) there is no silence, so the frame
 * reader derives each frame's length from its function code. Pure functions and a stateful frame
 * reader; no I/O.
 */

export const FC = Object.freeze({
  readCoils: 1, readDiscreteInputs: 2, readHoldingRegisters: 3, readInputRegisters: 4,
  writeSingleCoil: 5, writeSingleRegister: 6, writeMultipleCoils: 15, writeMultipleRegisters: 16,
});

/** Exception codes (MODBUS Application Protocol §7). */
export const MODBUS_EXCEPTIONS: Record<number, string> = {
  0x01: 'illegal function',
  0x02: 'illegal data address',
  0x03: 'illegal data value',
  0x04: 'server device failure',
  0x05: 'acknowledge',
  0x06: 'server device busy',
  0x08: 'memory parity error',
  0x0a: 'gateway path unavailable',
  0x0b: 'gateway target device failed to respond',
};

/** Largest quantity per request: FC 1/2 2000 bits, FC 3/4 125 registers, FC 15 1968 bits, FC 16 123 registers. */
export const MAX_QUANTITY: Readonly<Record<number, number>> = { 1: 2000, 2: 2000, 3: 125, 4: 125, 15: 0x7b0, 16: 0x7b };
const MAX_ADU = 256;

export function crc16(b: ArrayLike<number>, from = 0, to = b.length): number {
  let crc = 0xffff;
  for (let i = from; i < to; i++) {
    crc ^= b[i] as number;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export function encodeAdu(unitId: number, pdu: Uint8Array): Buffer {
  const out = Buffer.alloc(pdu.length + 3);
  out[0] = unitId;
  out.set(pdu, 1);
  const crc = crc16(out, 0, pdu.length + 1);
  out[pdu.length + 1] = crc & 0xff;
  out[pdu.length + 2] = crc >> 8;
  return out;
}

export type AduResult = { readonly unitId: number; readonly pdu: Buffer } | { readonly error: string };

export function parseAdu(adu: Uint8Array): AduResult {
  if (adu.length < 4) return { error: `RTU frame of ${adu.length} bytes is too short` };
  const crc = crc16(adu, 0, adu.length - 2);
  const got = (adu[adu.length - 2] as number) | ((adu[adu.length - 1] as number) << 8);
  if (crc !== got) return { error: `bad CRC 0x${got.toString(16).padStart(4, '0')} (computed 0x${crc.toString(16).padStart(4, '0')})` };
  return { unitId: adu[0] as number, pdu: Buffer.from(adu.subarray(1, adu.length - 2)) };
}

export type ModbusRequest =
  | { readonly fc: 1 | 2 | 3 | 4; readonly address: number; readonly quantity: number }
  | { readonly fc: 5; readonly address: number; readonly value: boolean }
  | { readonly fc: 6; readonly address: number; readonly value: number }
  | { readonly fc: 15; readonly address: number; readonly values: readonly boolean[] }
  | { readonly fc: 16; readonly address: number; readonly values: readonly number[] };

export interface ModbusExceptionPdu { readonly fc: number; readonly exception: number; readonly meaning: string }

export type ModbusResponse =
  | { readonly fc: 1 | 2; readonly bits: readonly boolean[] }
  | { readonly fc: 3 | 4; readonly registers: readonly number[] }
  | { readonly fc: 5; readonly address: number; readonly value: boolean }
  | { readonly fc: 6; readonly address: number; readonly value: number }
  | { readonly fc: 15 | 16; readonly address: number; readonly quantity: number }
  | ModbusExceptionPdu;

const u16 = (v: number): [number, number] => [(v >> 8) & 0xff, v & 0xff];

function packBits(bits: readonly boolean[]): number[] {
  const out = new Array<number>(Math.ceil(bits.length / 8)).fill(0);
  bits.forEach((b, i) => { if (b) out[i >> 3] = (out[i >> 3] as number) | (1 << (i & 7)); });
  return out;
}
function unpackBits(b: Uint8Array, from: number, n: number): boolean[] {
  return Array.from({ length: n }, (_, i) => (((b[from + (i >> 3)] as number) >> (i & 7)) & 1) === 1);
}

export function encodeRequest(r: ModbusRequest): Buffer {
  switch (r.fc) {
    case 1: case 2: case 3: case 4: return Buffer.from([r.fc, ...u16(r.address), ...u16(r.quantity)]);
    case 5: return Buffer.from([5, ...u16(r.address), r.value ? 0xff : 0, 0]);
    case 6: return Buffer.from([6, ...u16(r.address), ...u16(r.value)]);
    case 15: {
      const bytes = packBits(r.values);
      return Buffer.from([15, ...u16(r.address), ...u16(r.values.length), bytes.length, ...bytes]);
    }
    case 16: return Buffer.from([16, ...u16(r.address), ...u16(r.values.length), 2 * r.values.length, ...r.values.flatMap(u16)]);
  }
}

export const exceptionPdu = (fc: number, code: number): Buffer => Buffer.from([(fc | 0x80) & 0xff, code]);
const exception = (fc: number, code: number): ModbusExceptionPdu => ({ fc, exception: code, meaning: MODBUS_EXCEPTIONS[code] ?? 'unknown exception' });

/** A server's view of a request PDU; an exception (01 illegal function, 03 illegal data value) when it cannot be served. */
export function decodeRequest(pdu: Uint8Array): ModbusRequest | ModbusExceptionPdu {
  const fc = pdu[0] ?? 0;
  const word = (i: number): number => ((pdu[i] as number) << 8) | (pdu[i + 1] as number);
  if (![1, 2, 3, 4, 5, 6, 15, 16].includes(fc)) return exception(fc, 0x01);
  if (pdu.length < 5) return exception(fc, 0x03);
  const address = word(1);
  if (fc <= 4) {
    const quantity = word(3);
    if (pdu.length !== 5 || quantity < 1 || quantity > (MAX_QUANTITY[fc] as number)) return exception(fc, 0x03);
    return { fc: fc as 1 | 2 | 3 | 4, address, quantity };
  }
  if (fc === 5) {
    const v = word(3);
    return pdu.length === 5 && (v === 0xff00 || v === 0) ? { fc, address, value: v === 0xff00 } : exception(fc, 0x03);
  }
  if (fc === 6) return pdu.length === 5 ? { fc, address, value: word(3) } : exception(fc, 0x03);
  const quantity = word(3);
  const n = pdu[5] ?? -1;
  const want = fc === 15 ? Math.ceil(quantity / 8) : 2 * quantity;
  if (quantity < 1 || quantity > (MAX_QUANTITY[fc] as number) || n !== want || pdu.length !== 6 + n) return exception(fc, 0x03);
  if (fc === 15) return { fc, address, values: unpackBits(pdu, 6, quantity) };
  return { fc: 16, address, values: Array.from({ length: quantity }, (_, i) => word(6 + 2 * i)) };
}

export function encodeResponse(r: ModbusResponse): Buffer {
  if ('exception' in r) return exceptionPdu(r.fc, r.exception);
  switch (r.fc) {
    case 1: case 2: {
      const bytes = packBits(r.bits);
      return Buffer.from([r.fc, bytes.length, ...bytes]);
    }
    case 3: case 4: return Buffer.from([r.fc, 2 * r.registers.length, ...r.registers.flatMap(u16)]);
    case 5: return Buffer.from([5, ...u16(r.address), r.value ? 0xff : 0, 0]);
    case 6: return Buffer.from([6, ...u16(r.address), ...u16(r.value)]);
    case 15: case 16: return Buffer.from([r.fc, ...u16(r.address), ...u16(r.quantity)]);
  }
}

/**
 * A client's view of a response PDU, checked against the request it answers: same function
 * code (or its exception), the byte count the quantity implies, the echo of a write.
 */
export function decodeResponse(pdu: Uint8Array, req: ModbusRequest): ModbusResponse | { readonly error: string } {
  const fc = pdu[0] ?? 0;
  if (fc === (req.fc | 0x80)) return pdu.length === 2 ? exception(req.fc, pdu[1] as number) : { error: `exception response of ${pdu.length} bytes` };
  if (fc !== req.fc) return { error: `function code ${fc} answers a request with function code ${req.fc}` };
  const word = (i: number): number => ((pdu[i] as number) << 8) | (pdu[i + 1] as number);
  if (req.fc <= 4) {
    const q = (req as { quantity: number }).quantity;
    const n = pdu[1] ?? -1;
    const want = req.fc <= 2 ? Math.ceil(q / 8) : 2 * q;
    if (n !== want || pdu.length !== 2 + n) return { error: `${n} data bytes (PDU ${pdu.length}) for ${q} ${req.fc <= 2 ? 'bits' : 'registers'}, expected ${want}` };
    if (req.fc <= 2) return { fc: req.fc as 1 | 2, bits: unpackBits(pdu, 2, q) };
    return { fc: req.fc as 3 | 4, registers: Array.from({ length: q }, (_, i) => word(2 + 2 * i)) };
  }
  if (pdu.length !== 5) return { error: `write response of ${pdu.length} bytes, expected 5` };
  const echo = encodeRequest(req).subarray(0, 5);
  if (!echo.equals(Buffer.from(pdu))) return { error: 'write response does not echo the request' };
  switch (req.fc) {
    case 5: return { fc: 5, address: req.address, value: req.value };
    case 6: return { fc: 6, address: req.address, value: req.value };
    case 15: case 16: return { fc: req.fc, address: req.address, quantity: req.values.length };
    default: return { error: 'unreachable' };
  }
}

export type RtuItem =
  | { readonly unitId: number; readonly pdu: Buffer; readonly adu: Buffer }
  | { readonly error: 'crc' | 'framing'; readonly bytes: Buffer };

/**
 * Cuts RTU frames out of a TCP byte stream. The length of a frame follows from its function
 * code: requests of FC 1–6 are 8 bytes, FC 15/16 9 + byte count; responses of FC 1–4 are
 * 5 + byte count, FC 5/6/15/16 8, exceptions 5. A function code outside these ends the frame
 * where the received bytes end (the closest thing to the line's silence over TCP). A bad CRC is
 * an error item and the frame is dropped. Call reset() when a request is abandoned (timeout):
 * the line is half-duplex, any half-frame then is garbage.
 */
export class RtuFrameReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(readonly role: 'request' | 'response') {}

  /** Length of the frame at the start of b: a number, 0 = need more bytes, -1 = unknown function code. */
  private frameLength(b: Buffer): number {
    if (b.length < 2) return 0;
    const fc = b[1] as number;
    const counted = (at: number, extra: number): number => (b.length > at ? extra + (b[at] as number) : 0);
    if (this.role === 'request') {
      if (fc >= 1 && fc <= 6) return 8;
      if (fc === 15 || fc === 16) return counted(6, 9);
      return -1;
    }
    if (fc & 0x80) return 5;
    if (fc >= 1 && fc <= 4) return counted(2, 5);
    if (fc === 5 || fc === 6 || fc === 15 || fc === 16) return 8;
    return -1;
  }

  push(chunk: Uint8Array): RtuItem[] {
    let b = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: RtuItem[] = [];
    while (b.length > 0) {
      let n = this.frameLength(b);
      if (n === 0) break;
      if (n === -1) n = b.length;
      if (n > MAX_ADU) {
        out.push({ error: 'framing', bytes: b });
        b = Buffer.alloc(0);
        break;
      }
      if (b.length < n) break;
      const adu = b.subarray(0, n);
      const r = parseAdu(adu);
      out.push('error' in r ? { error: 'crc', bytes: Buffer.from(adu) } : { unitId: r.unitId, pdu: r.pdu, adu: Buffer.from(adu) });
      b = b.subarray(n);
    }
    this.buf = Buffer.from(b);
    return out;
  }

  /** Bytes waiting for the rest of their frame. */
  get pending(): number {
    return this.buf.length;
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
  }
}
