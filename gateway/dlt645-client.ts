/**
 * DL/T 645-2007 reads (control 0x11) over a TCP connection to a serial device server, one at a
 * time, with core/fieldbus/dlt645.ts's frames. An answer from another address or for another
 * data identifier is a late answer to an abandoned request and is skipped; a wrong checksum is
 * a checksum error, an abnormal answer (0xD1) an exception with the meanings of its error word.
 */
import { QuietLine } from './quiet-line.ts';
import { decodeReadResponse, Dlt645FrameReader, encodeReadRequest } from '../core/fieldbus/dlt645.ts';
import { badFrame, FieldError, timeoutError } from './field-error.ts';
import type { FieldSocket } from './field-socket.ts';

interface Pending {
  address: string;
  di: string;
  timer: NodeJS.Timeout;
  /** Bytes received for this request (a timeout after some is a bad frame: it answered, unreadably). */
  bytes: number;
  resolve: (v: number) => void;
  reject: (e: FieldError) => void;
}

export class Dlt645Client {
  private pending: Pending | undefined;
  private reader = new Dlt645FrameReader();
  private readonly quiet = new QuietLine();
  readonly counts = { stray: 0, discardedBytes: 0 };

  constructor(private readonly socket: FieldSocket) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('down', (reason) => this.fail(new FieldError('connection', reason)));
  }

  /** Reads one data identifier of the meter at `address` (12 digits); the value as the DI's format scales it. */
  read(address: string, di: string, timeoutMs: number): Promise<number> {
    if (this.pending) return Promise.reject(new Error('a request is already in flight on this connection'));
    if (!this.socket.connected) return Promise.reject(new FieldError('connection', 'not connected'));
    this.reader.reset();
    this.quiet.reset();
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(this.pending!.bytes > 0 ? badFrame('incomplete or unreadable answer') : timeoutError()), timeoutMs);
      this.pending = { address, di: di.toUpperCase(), timer, bytes: 0, resolve, reject };
      this.socket.write(encodeReadRequest(address, di));
    });
  }

  /** Drops incoming bytes until none arrived for quietMs (at most 10 × quietMs). */
  async settle(quietMs: number): Promise<void> {
    await this.quiet.settle(quietMs);
    this.reader = new Dlt645FrameReader();
  }

  private onData(chunk: Buffer): void {
    const p = this.pending;
    if (this.quiet.drops(p !== undefined) || !p) {
      this.counts.discardedBytes += chunk.length;
      return;
    }
    p.bytes += chunk.length;
    for (const item of this.reader.push(chunk)) {
      if ('error' in item) return this.fail(new FieldError('crc', 'checksum error'));
      const f = item.frame;
      if (f.address !== p.address || (f.control & 0x80) === 0) {
        this.counts.stray++;
        p.bytes = 0;
        continue;
      }
      const a = decodeReadResponse(f);
      if ('error' in a) return this.fail(badFrame(a.error));
      if ('exception' in a) return this.fail(new FieldError('exception', `exception ${a.meanings.join(', ') || `error word ${a.errorWord}`}`));
      if (a.di !== p.di) {
        this.counts.stray++;
        p.bytes = 0;
        continue;
      }
      this.finish();
      return p.resolve(a.value);
    }
  }

  private finish(): Pending | undefined {
    const p = this.pending;
    if (p) clearTimeout(p.timer);
    this.pending = undefined;
    return p;
  }

  private fail(e: FieldError): void {
    this.finish()?.reject(e);
  }
}
