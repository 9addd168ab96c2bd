/**
 * One TCP connection to a field device (a PLC, or a serial device server in front of an RS-485
 * line), reopened forever with exponential back-off (base, doubled per failure, at most max,
 * ±20 % jitter): polling must never stop after a long outage. The back-off restarts from the
 * base once the device has answered on the new connection.
 */
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';

export interface FieldSocketOptions {
  host: string;
  port: number;
  backoff: { readonly baseMs: number; readonly maxMs: number };
  connectTimeoutMs: number;
}

export interface FieldSocketEvents {
  up: [];
  /** The connection is gone (or could not be made); reason as shown in a device's status. */
  down: [reason: string];
  data: [chunk: Buffer];
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused', ECONNRESET: 'connection reset', ETIMEDOUT: 'connect timeout',
  EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable', ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found', EPIPE: 'connection closed',
};

export function socketReason(err: Error | undefined): string {
  if (!err) return 'connection closed';
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return REASONS[code] ?? (code ? `connection error ${code.toLowerCase()}` : err.message.slice(0, 80));
}

export class FieldSocket extends EventEmitter<FieldSocketEvents> {
  private socket: Socket | undefined;
  private open = false;
  private stopped = true;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly counts = { connects: 0, connectFailures: 0, drops: 0 };

  constructor(private readonly o: FieldSocketOptions) {
    super();
  }

  get connected(): boolean {
    return this.open;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const s = new Socket();
    this.socket = s;
    let err: Error | undefined;
    let wasOpen = false;
    s.setNoDelay(true);
    s.setTimeout(this.o.connectTimeoutMs, () => {
      if (!wasOpen) s.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    });
    s.on('connect', () => {
      wasOpen = true;
      this.open = true;
      s.setTimeout(0);
      s.setKeepAlive(true, 10_000);
      this.counts.connects++;
      this.emit('up');
    });
    s.on('data', (chunk: Buffer) => {
      this.failures = 0;
      this.emit('data', chunk);
    });
    s.on('error', (e) => {
      err = e;
    });
    s.on('close', () => {
      if (this.socket !== s) return;
      this.socket = undefined;
      this.open = false;
      if (wasOpen) this.counts.drops++;
      else this.counts.connectFailures++;
      this.failures++;
      this.emit('down', socketReason(err));
      this.schedule();
    });
    s.connect(this.o.port, this.o.host);
  }

  private schedule(): void {
    if (this.stopped) return;
    const base = Math.min(this.o.backoff.maxMs, this.o.backoff.baseMs * 2 ** Math.max(0, this.failures - 1));
    const wait = Math.round(base * (0.8 + 0.4 * Math.random()));
    this.timer = setTimeout(() => this.connect(), wait);
  }

  write(buf: Buffer): boolean {
    if (!this.open || !this.socket) return false;
    this.socket.write(buf);
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const s = this.socket;
    this.socket = undefined;
    this.open = false;
    s?.destroy();
  }
}
