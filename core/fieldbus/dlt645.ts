/**
 * DL/T 645-2007 (multi-function watt-hour meter communication protocol) codec: frames, BCD
 * data and the data identifiers a gateway reads. No maintained npm library exists.
 *
 *   [FE FE FE FE] 68 A0 A1 A2 A3 A4 A5 68 C L DATA… CS 16
 *   preamble (wake-up, optional on receive), start, address (12 BCD digits, A0 = the two least
 *   significant), start again, control code, data length, data (every byte + 0x33 on the wire),
 *   checksum (sum mod 256 of every byte from the first 68 through the data), end.
 * Control code bits: D7 direction (1 = from the meter), D6 abnormal answer, D5 follow-up frames,
 * D4..D0 function (0x11 = read data). Values are BCD, lowest byte first; a signed value keeps its
 * sign in the highest bit of its most significant byte (sign and magnitude, not two's complement).
 * Pure functions and a stateful frame reader; no I/O.
 */

export const DLT645_CONTROL = Object.freeze({
  readRequest: 0x11,
  readResponse: 0x91,
  /** Normal answer with follow-up frames to come. */
  readResponseMore: 0xb1,
  readException: 0xd1,
});
export const BROADCAST_ADDRESSES: readonly string[] = ['AAAAAAAAAAAA', '999999999999'];
/** Data length limit of a read answer in the standard. */
const MAX_DATA = 200;
const PREAMBLE = [0xfe, 0xfe, 0xfe, 0xfe];

/** Bits of the error word of an abnormal answer (control 0xD1), bit 0 first. */
export const DLT645_ERROR_BITS: readonly string[] = [
  'other error', 'no requested data', 'password error or unauthorised', 'baud rate cannot be changed',
  'yearly time-zone count exceeded', 'daily time-segment count exceeded', 'tariff count exceeded',
];

export interface Dlt645Id {
  /** DI3 DI2 DI1 DI0 as 8 hex digits. */
  readonly di: string;
  readonly name: string;
  readonly bytes: number;
  readonly decimals: number;
  /** Highest bit of the most significant byte is the sign. */
  readonly signed: boolean;
  readonly unit: string;
}

const id = (di: string, name: string, bytes: number, decimals: number, signed: boolean, unit: string): Dlt645Id =>
  Object.freeze({ di, name, bytes, decimals, signed, unit });

/** Data identifiers of DL/T 645-2007 Appendix A that a gateway reads (format XXXXXX.XX = 4 bytes, 2 decimals, …). */
export const DLT645_IDS: ReadonlyMap<string, Dlt645Id> = new Map([
  // Combined active energy (forward ± reverse by the meter's combination word) may be negative.
  id('00000000', 'combined active total energy', 4, 2, true, 'kWh'),
  id('00010000', 'forward active total energy', 4, 2, false, 'kWh'),
  id('00020000', 'reverse active total energy', 4, 2, false, 'kWh'),
  id('02010100', 'phase A voltage', 2, 1, false, 'V'),
  id('02010200', 'phase B voltage', 2, 1, false, 'V'),
  id('02010300', 'phase C voltage', 2, 1, false, 'V'),
  id('02020100', 'phase A current', 3, 3, true, 'A'),
  id('02020200', 'phase B current', 3, 3, true, 'A'),
  id('02020300', 'phase C current', 3, 3, true, 'A'),
  id('02030000', 'total active power', 3, 4, true, 'kW'),
  id('02030100', 'phase A active power', 3, 4, true, 'kW'),
  id('02030200', 'phase B active power', 3, 4, true, 'kW'),
  id('02030300', 'phase C active power', 3, 4, true, 'kW'),
  id('02040000', 'total reactive power', 3, 4, true, 'kvar'),
  id('02050000', 'total apparent power', 3, 4, true, 'kVA'),
  id('02060000', 'total power factor', 2, 3, true, '1'),
  id('02060100', 'phase A power factor', 2, 3, true, '1'),
  id('02060200', 'phase B power factor', 2, 3, true, '1'),
  id('02060300', 'phase C power factor', 2, 3, true, '1'),
  id('02800001', 'neutral current', 3, 3, true, 'A'),
  id('02800002', 'grid frequency', 2, 2, false, 'Hz'),
].map((x) => [x.di, x]));

export interface Dlt645Frame {
  /** 12 hex digits, most significant first, as printed on the meter ('AAAAAAAAAAAA' for broadcast). */
  readonly address: string;
  readonly control: number;
  /** Data with the 0x33 offset removed. */
  readonly data: Buffer;
}

export const isDlt645Address = (a: unknown): a is string => typeof a === 'string' && /^\d{12}$/.test(a);

function addressBytes(address: string): number[] {
  if (!/^[0-9A-Fa-f]{12}$/.test(address)) throw new RangeError(`DL/T 645 address ${JSON.stringify(address)} is not 12 digits`);
  const out: number[] = [];
  for (let i = 10; i >= 0; i -= 2) out.push(parseInt(address.slice(i, i + 2), 16));
  return out;
}

const sum8 = (b: ArrayLike<number>, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += b[i] as number;
  return s & 0xff;
};

/** A frame on the wire; data is given plain (the +0x33 is applied here). */
export function encodeFrame(address: string, control: number, data: ArrayLike<number> = [], preamble = true): Buffer {
  if (data.length > MAX_DATA) throw new RangeError(`DL/T 645 data of ${data.length} bytes exceeds ${MAX_DATA}`);
  const body = [0x68, ...addressBytes(address), 0x68, control & 0xff, data.length];
  for (let i = 0; i < data.length; i++) body.push(((data[i] as number) + 0x33) & 0xff);
  body.push(sum8(body, 0, body.length), 0x16);
  return Buffer.from(preamble ? [...PREAMBLE, ...body] : body);
}

/** DI '00010000' → its 4 bytes in wire order (DI0 first). */
export function diBytes(di: string): number[] {
  if (!/^[0-9A-Fa-f]{8}$/.test(di)) throw new RangeError(`data identifier ${JSON.stringify(di)} is not 8 hex digits`);
  return [6, 4, 2, 0].map((i) => parseInt(di.slice(i, i + 2), 16));
}

const hex2 = (b: number): string => b.toString(16).padStart(2, '0').toUpperCase();
const diOf = (d: Buffer): string => hex2(d[3] as number) + hex2(d[2] as number) + hex2(d[1] as number) + hex2(d[0] as number);

/** BCD digits of |value| × 10^decimals, lowest byte first; sign in the top bit when signed. */
export function encodeBcd(value: number, bytes: number, decimals: number, signed = false): Buffer {
  if (!Number.isFinite(value) || (!signed && value < 0)) throw new RangeError(`${value} cannot be encoded as unsigned BCD`);
  const digits = Math.round(Math.abs(value) * 10 ** decimals);
  const max = signed ? 8 * 10 ** (2 * bytes - 1) - 1 : 10 ** (2 * bytes) - 1;
  if (digits > max) throw new RangeError(`${value} does not fit ${bytes} BCD bytes with ${decimals} decimals${signed ? ' and a sign' : ''}`);
  const out = Buffer.alloc(bytes);
  let rest = digits;
  for (let i = 0; i < bytes; i++) {
    out[i] = (rest % 10) | (Math.floor(rest / 10) % 10) << 4;
    rest = Math.floor(rest / 100);
  }
  if (signed && value < 0 && digits > 0) out[bytes - 1] = (out[bytes - 1] as number) | 0x80;
  return out;
}

/** Inverse of encodeBcd; RangeError on a nibble above 9. */
export function decodeBcd(b: ArrayLike<number>, decimals: number, signed = false): number {
  let v = 0;
  let negative = false;
  for (let i = b.length - 1; i >= 0; i--) {
    let byte = b[i] as number;
    if (signed && i === b.length - 1) {
      negative = (byte & 0x80) !== 0;
      byte &= 0x7f;
    }
    const hi = byte >> 4;
    const lo = byte & 0x0f;
    if (hi > 9 || lo > 9) throw new RangeError(`byte 0x${hex2(b[i] as number)} is not BCD`);
    v = v * 100 + hi * 10 + lo;
  }
  const x = v / 10 ** decimals;
  return negative ? -x : x;
}

export function encodeReadRequest(address: string, di: string, preamble = true): Buffer {
  return encodeFrame(address, DLT645_CONTROL.readRequest, diBytes(di), preamble);
}

/** A meter's normal answer to a read of `di` (simulator side); the DI must be in DLT645_IDS. */
export function encodeReadResponse(address: string, di: string, value: number, opts: { followUp?: boolean; preamble?: boolean } = {}): Buffer {
  const f = DLT645_IDS.get(di.toUpperCase());
  if (!f) throw new RangeError(`data identifier ${di} is not in DLT645_IDS`);
  const data = [...diBytes(di), ...encodeBcd(value, f.bytes, f.decimals, f.signed)];
  const control = opts.followUp ? DLT645_CONTROL.readResponseMore : DLT645_CONTROL.readResponse;
  return encodeFrame(address, control, data, opts.preamble ?? true);
}

/** A meter's abnormal answer with its error word (bits as in DLT645_ERROR_BITS). */
export function encodeExceptionResponse(address: string, errorWord: number, preamble = true): Buffer {
  return encodeFrame(address, DLT645_CONTROL.readException, [errorWord & 0xff], preamble);
}

export const errorMeanings = (errorWord: number): string[] =>
  DLT645_ERROR_BITS.filter((_, i) => (errorWord >> i & 1) === 1);

export interface Dlt645Reading { readonly di: string; readonly value: number; readonly followUp: boolean }
export interface Dlt645Exception { readonly exception: true; readonly errorWord: number; readonly meanings: readonly string[] }
export interface Dlt645Malformed { readonly error: string }
export type Dlt645Answer = Dlt645Reading | Dlt645Exception | Dlt645Malformed;

/** A read request's DI, or undefined when the frame is not a read request. */
export function decodeReadRequest(frame: Dlt645Frame): string | undefined {
  return frame.control === DLT645_CONTROL.readRequest && frame.data.length === 4 ? diOf(frame.data) : undefined;
}

/** The value (scaled by its DI's decimals) or the meter's exception from an answer frame. */
export function decodeReadResponse(frame: Dlt645Frame): Dlt645Answer {
  const c = frame.control;
  if (c === DLT645_CONTROL.readException) {
    if (frame.data.length !== 1) return { error: `abnormal answer with ${frame.data.length} data bytes, expected 1` };
    const errorWord = frame.data[0] as number;
    return { exception: true, errorWord, meanings: errorMeanings(errorWord) };
  }
  if (c !== DLT645_CONTROL.readResponse && c !== DLT645_CONTROL.readResponseMore) {
    return { error: `control code 0x${hex2(c)} is not an answer to a read (0x91, 0xB1 or 0xD1)` };
  }
  if (frame.data.length < 4) return { error: `answer with ${frame.data.length} data bytes has no data identifier` };
  const di = diOf(frame.data);
  const f = DLT645_IDS.get(di);
  if (!f) return { error: `data identifier ${di} is not in DLT645_IDS` };
  if (frame.data.length !== 4 + f.bytes) return { error: `${di} (${f.name}) carries ${frame.data.length - 4} bytes, expected ${f.bytes}` };
  try {
    return { di, value: decodeBcd(frame.data.subarray(4), f.decimals, f.signed), followUp: c === DLT645_CONTROL.readResponseMore };
  } catch (e) {
    return { error: `${di}: ${(e as Error).message}` };
  }
}

export type Dlt645Item = { readonly frame: Dlt645Frame } | { readonly error: 'checksum'; readonly bytes: Buffer };

/**
 * Cuts frames out of a byte stream (a TCP connection to a serial device server). Preamble and
 * other bytes before a plausible frame are skipped and counted; a frame whose checksum is wrong
 * is reported as an error item and dropped. Call reset() after a timeout (half-duplex line:
 * whatever half-frame is buffered belongs to the abandoned exchange).
 */
export class Dlt645FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes skipped while looking for a frame (preambles included). */
  skipped = 0;

  push(chunk: Uint8Array): Dlt645Item[] {
    const b = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: Dlt645Item[] = [];
    let i = 0;
    for (;;) {
      const from = i;
      while (i < b.length && b[i] !== 0x68) i++;
      this.skipped += i - from;
      if (b.length - i < 12) break;
      const len = b[i + 9] as number;
      const end = i + 12 + len;
      // A 68 that is not followed by a second 68 after the address is not a frame start.
      const plausible = b[i + 7] === 0x68 && len <= MAX_DATA;
      if (plausible && b.length < end) break;
      if (!plausible || b[end - 1] !== 0x16) {
        i++;
        this.skipped++;
        continue;
      }
      if (sum8(b, i, end - 2) !== b[end - 2]) {
        out.push({ error: 'checksum', bytes: Buffer.from(b.subarray(i, end)) });
      } else {
        const data = Buffer.alloc(len);
        for (let k = 0; k < len; k++) data[k] = ((b[i + 10 + k] as number) - 0x33) & 0xff;
        let address = '';
        for (let k = 6; k >= 1; k--) address += hex2(b[i + k] as number);
        out.push({ frame: { address, control: b[i + 8] as number, data } });
      }
      i = end;
    }
    this.buf = Buffer.from(b.subarray(i));
    return out;
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
  }
}

