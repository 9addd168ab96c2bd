/**
 * Modbus reads (FC 1–4) over one field connection, one request at a time: Modbus TCP (MBAP
 * framing) or Modbus RTU over TCP through a serial device server (unit id + PDU + CRC, no
 * transaction id). PDUs and framing come from core/fieldbus; this file adds the exchange: send,
 * wait for the answer that belongs to the request or the timeout, classify what went wrong.
 *   - TCP: an answer with another transaction id is a late answer to an abandoned request and is
 *     skipped; a bad MBAP header is a bad frame.
 *   - RTU: there is no transaction id, so the first bytes are checked against the request as they
 *     arrive (unit id, function code or its exception, byte count) and anything else is a bad
 *     frame at once instead of a wait for the timeout; a wrong CRC is a CRC error.
 * After any failure the caller should `settle()`: bytes that arrive until the line has been quiet
 * are dropped, so the tail of garbage or a late answer cannot be taken for the next answer.
 */
import { QuietLine } from './quiet-line.ts';
import { crc16, decodeResponse, encodeAdu, encodeRequest, MODBUS_EXCEPTIONS, RtuFrameReader, type ModbusRequest } from '../core/fieldbus/modbus-rtu.ts';
import { encodeMbap, MbapFrameReader } from '../core/fieldbus/modbus-tcp.ts';
import { badFrame, FieldError, timeoutError } from './field-error.ts';
import type { FieldSocket } from './field-socket.ts';

export type Framing = 'tcp' | 'rtu';
export type ReadFc = 1 | 2 | 3 | 4;
export type ReadResult = { readonly registers: readonly number[] } | { readonly bits: readonly boolean[] };

interface Pending {
  unitId: number;
  req: ModbusRequest & { fc: ReadFc };
  tid: number;
  /** RTU: the answer's bytes so far (kept whole once they stopped matching the request). */
  head: number[];
  /** RTU: the answer does not match the request; judged by its CRC once the line is quiet. */
  garbled?: { why: string; timer?: NodeJS.Timeout };
  timer: NodeJS.Timeout;
  /** Bytes received for this request (a timeout after some is a bad frame: it answered, unreadably). */
  bytes: number;
  resolve: (r: ReadResult) => void;
  reject: (e: FieldError) => void;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

export function exceptionReason(code: number): string {
  return `exception ${hex2(code)} ${MODBUS_EXCEPTIONS[code] ?? 'unknown exception'}`;
}

export class ModbusClient {
  private pending: Pending | undefined;
  private tid = 0;
  private mbap = new MbapFrameReader();
  private readonly rtu = new RtuFrameReader('response');
  /** While settling: bytes are dropped; the time the last one arrived. */
  private readonly quiet = new QuietLine();
  readonly counts = { stray: 0, discardedBytes: 0 };

  constructor(private readonly socket: FieldSocket, private readonly framing: Framing) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('down', (reason) => this.fail(new FieldError('connection', reason)));
  }

  /** Reads `quantity` registers or bits; rejects with a FieldError. */
  read(unitId: number, fc: ReadFc, address: number, quantity: number, timeoutMs: number): Promise<ReadResult> {
    if (this.pending) return Promise.reject(new Error('a request is already in flight on this connection'));
    if (!this.socket.connected) return Promise.reject(new FieldError('connection', 'not connected'));
    this.resetReaders();
    this.quiet.reset();
    return new Promise<ReadResult>((resolve, reject) => {
      const req = { fc, address, quantity } as ModbusRequest & { fc: ReadFc };
      this.tid = (this.tid + 1) & 0xffff;
      const timer = setTimeout(() => this.fail(this.pending!.bytes > 0 ? badFrame('incomplete or unreadable answer') : timeoutError()), timeoutMs);
      this.pending = { unitId, req, tid: this.tid, head: [], timer, bytes: 0, resolve, reject };
      const pdu = encodeRequest(req);
      this.socket.write(this.framing === 'tcp' ? encodeMbap(this.tid, unitId, pdu) : encodeAdu(unitId, pdu));
    });
  }

  /** Drops incoming bytes until none arrived for quietMs (at most 10 × quietMs). */
  async settle(quietMs: number): Promise<void> {
    await this.quiet.settle(quietMs);
    this.resetReaders();
  }

  private resetReaders(): void {
    this.rtu.reset();
    this.mbap = new MbapFrameReader();
  }

  private onData(chunk: Buffer): void {
    const p = this.pending;
    if (this.quiet.drops(p !== undefined) || !p) {
      this.counts.discardedBytes += chunk.length;
      return;
    }
    p.bytes += chunk.length;
    if (this.framing === 'tcp') this.onTcp(p, chunk);
    else this.onRtu(p, chunk);
  }

  private onTcp(p: Pending, chunk: Buffer): void {
    for (const item of this.mbap.push(chunk)) {
      if ('error' in item) return this.fail(badFrame(item.error));
      if (item.transactionId !== p.tid) {
        this.counts.stray++;
        p.bytes = 0;
        continue;
      }
      if (item.unitId !== p.unitId) return this.fail(badFrame(`unit ${item.unitId} answered for unit ${p.unitId}`));
      return this.answer(p, item.pdu);
    }
  }

  private onRtu(p: Pending, chunk: Buffer): void {
    if (p.garbled) return this.garbled(p, chunk);
    for (let i = 0; i < chunk.length && p.head.length < 260; i++) p.head.push(chunk[i] as number);
    const [unit, fc, count] = p.head;
    let why: string | undefined;
    if (unit !== undefined && unit !== p.unitId) why = `unit ${unit} answered for unit ${p.unitId}`;
    else if (fc !== undefined && fc !== p.req.fc && fc !== (p.req.fc | 0x80)) why = `function code ${fc} answers ${p.req.fc}`;
    else if (count !== undefined && fc === p.req.fc) {
      const want = p.req.fc <= 2 ? Math.ceil(p.req.quantity / 8) : 2 * p.req.quantity;
      if (count !== want) why = `${count} data bytes for ${p.req.quantity} ${p.req.fc <= 2 ? 'bits' : 'registers'}, expected ${want}`;
    }
    if (why) {
      p.garbled = { why };
      return this.garbled(p);
    }
    for (const item of this.rtu.push(chunk)) {
      if ('error' in item) return this.fail(item.error === 'crc' ? new FieldError('crc', 'crc error') : badFrame());
      return this.answer(p, item.pdu);
    }
  }

  /**
   * An RTU answer that does not fit the request: collect it until the line is quiet (20 ms), then
   * a wrong CRC means the bytes were damaged on the line (crc error), a right one that a device
   * sent something else (bad frame).
   */
  private garbled(p: Pending, chunk?: Buffer): void {
    if (chunk) for (let i = 0; i < chunk.length && p.head.length < 260; i++) p.head.push(chunk[i] as number);
    clearTimeout(p.garbled!.timer);
    p.garbled!.timer = setTimeout(() => {
      if (this.pending !== p) return;
      const h = p.head;
      const ok = h.length >= 4 && crc16(h, 0, h.length - 2) === ((h[h.length - 2] as number) | ((h[h.length - 1] as number) << 8));
      this.fail(ok ? badFrame(p.garbled!.why) : new FieldError('crc', 'crc error'));
    }, 20);
  }

  private answer(p: Pending, pdu: Buffer): void {
    const r = decodeResponse(pdu, p.req);
    if ('error' in r) return this.fail(badFrame(r.error));
    if ('exception' in r) return this.fail(new FieldError('exception', exceptionReason(r.exception)));
    this.finish();
    if ('registers' in r) p.resolve({ registers: r.registers });
    else if ('bits' in r) p.resolve({ bits: r.bits });
  }

  private finish(): Pending | undefined {
    const p = this.pending;
    if (p) clearTimeout(p.timer);
    if (p?.garbled) clearTimeout(p.garbled.timer);
    this.pending = undefined;
    return p;
  }

  private fail(e: FieldError): void {
    this.finish()?.reject(e);
  }
}
