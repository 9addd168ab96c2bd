/**
 * Modbus TCP framing (Modbus Messaging on TCP/IP Implementation Guide V1.0b §3.1.3): the MBAP
 * header — transaction id, protocol id 0, length of what follows (unit id + PDU), unit id —
 * in front of the PDU of core/fieldbus/modbus-rtu.ts. No CRC: TCP checks the bytes.
 */

export interface MbapFrame { readonly transactionId: number; readonly unitId: number; readonly pdu: Buffer }
export type MbapItem = MbapFrame | { readonly error: string; readonly bytes: Buffer };

/** Largest PDU (253 bytes) + unit id. */
const MAX_LENGTH = 254;

export function encodeMbap(transactionId: number, unitId: number, pdu: Uint8Array): Buffer {
  const out = Buffer.alloc(7 + pdu.length);
  out.writeUInt16BE(transactionId & 0xffff, 0);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unitId;
  out.set(pdu, 7);
  return out;
}

/** Cuts MBAP frames out of a TCP stream; a bad header (protocol id ≠ 0, length out of range) is an error item and ends the stream's usefulness: close the connection. */
export class MbapFrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): MbapItem[] {
    let b = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: MbapItem[] = [];
    while (b.length >= 7) {
      const length = b.readUInt16BE(4);
      if (b.readUInt16BE(2) !== 0 || length < 2 || length > MAX_LENGTH) {
        out.push({ error: `bad MBAP header (protocol ${b.readUInt16BE(2)}, length ${length})`, bytes: b });
        b = Buffer.alloc(0);
        break;
      }
      if (b.length < 6 + length) break;
      out.push({ transactionId: b.readUInt16BE(0), unitId: b[6] as number, pdu: Buffer.from(b.subarray(7, 6 + length)) });
      b = b.subarray(6 + length);
    }
    this.buf = Buffer.from(b);
    return out;
  }
}
