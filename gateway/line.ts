/**
 * The poll schedule of one field connection (an RS-485 line behind a device server, or a PLC's
 * Modbus TCP port). Invariants, each enforced here:
 *   - one request in flight per connection: jobs run one after the other from one FIFO, and a
 *     job's requests one after the other, with `interRequestDelayMs` between two requests;
 *   - the queue is bounded: a poll still queued or running when its next tick comes is not
 *     queued again (counted `overrun`), so the queue never holds more than one entry per job;
 *   - a poll that read nothing (timeout, exception, CRC, bad frame) backs off exponentially
 *     (backoff.baseMs doubled per failure, at most backoff.maxMs); its ticks are skipped meanwhile
 *     (`backoff`), and while the device is offline each probe is one attempt, not 1 + retries — so
 *     a dead device costs the line one timeout per back-off period, and the others keep their interval;
 *   - a device is online while any of its poll groups reads something (the info names what
 *     failed, `partial: …`), offline with the reason when none does;
 *   - while the connection is down every tick is skipped (`disconnected`); devices go offline
 *     with the connection's reason and are polled again at their next tick once it is back.
 * Ticks of a job are at start + phase + k × interval (no drift); phases spread a line's jobs
 * over their interval.
 */
import type { MetricValue } from '../core/contract.ts';
import type { Registry } from '../core/metrics.ts';
import { FieldError } from './field-error.ts';
import type { FieldSocket } from './field-socket.ts';

export interface PollOutcome {
  /** When the first answer arrived: the reading's ts. */
  ts?: number;
  metrics: Record<string, MetricValue>;
  /** Requests that failed (the device's state follows the first when nothing was read). */
  failures: FieldError[];
  /** Points whose value could not be used (decoded but refused), with why. */
  pointErrors: string[];
}

/** Runs one request with the line's pacing, retries and accounting. */
export type Exchange = <T>(send: () => Promise<T>) => Promise<T>;

export interface LineJob {
  device: string;
  group: string;
  intervalMs: number;
  run: (exchange: Exchange) => Promise<PollOutcome>;
}

export interface LineEvents {
  /** `intervalMs`: the poll group's. */
  reading: (device: string, ts: number, metrics: Record<string, MetricValue>, intervalMs: number) => void;
  status: (device: string, state: 'online' | 'offline', info: string) => void;
  pointErrors?: (device: string, errors: string[]) => void;
}

export interface LineOptions {
  id: string;
  socket: FieldSocket;
  /** Drop what arrives until the line is quiet (the protocol client's settle). */
  settle: (quietMs: number) => Promise<void>;
  timeoutMs: number;
  retries: number;
  interRequestDelayMs: number;
  backoff: { readonly baseMs: number; readonly maxMs: number };
  metrics: Registry;
  events: LineEvents;
}

interface DeviceState {
  state: 'unknown' | 'online' | 'offline';
  info: string;
  /** Per poll group: whether its last poll read anything, and what failed in it ('' = nothing). */
  groups: Map<string, { read: boolean; failure: string }>;
}

interface JobState extends LineJob {
  nextDue: number;
  queued: boolean;
  failures: number;
  backoffUntil: number;
}

const RETRYABLE = new Set(['timeout', 'crc', 'bad-frame']);

export class Line {
  private readonly jobs: JobState[] = [];
  private readonly devices = new Map<string, DeviceState>();
  private readonly queue: JobState[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = true;
  private lastRequestEnd = 0;
  private readonly labels: { connection: string };
  private current: DeviceState | undefined;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly o: LineOptions) {
    this.labels = { connection: o.id };
    o.socket.on('down', (reason) => this.connectionDown(reason));
    o.socket.on('up', () => this.schedule());
  }

  add(job: LineJob): void {
    this.jobs.push({ ...job, nextDue: 0, queued: false, failures: 0, backoffUntil: 0 });
    if (!this.devices.has(job.device)) this.devices.set(job.device, { state: 'unknown', info: '', groups: new Map() });
  }

  start(): void {
    this.stopped = false;
    const now = Date.now();
    this.jobs.forEach((j, i) => {
      j.nextDue = now + Math.floor((i / this.jobs.length) * Math.min(j.intervalMs, 1000));
    });
    this.o.socket.start();
    this.schedule();
  }

  /** Stops ticking; resolves when the job in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.queue.length = 0;
    await this.idle;
    this.o.socket.stop();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped || this.jobs.length === 0) return;
    const next = Math.min(...this.jobs.map((j) => j.nextDue));
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - Date.now()));
  }

  private tick(): void {
    const now = Date.now();
    for (const j of this.jobs) {
      if (j.nextDue > now) continue;
      const late = Math.floor((now - j.nextDue) / j.intervalMs);
      j.nextDue += (late + 1) * j.intervalMs;
      if (late > 0) this.o.metrics.inc('gateway_polls_skipped_total', { ...this.labels, reason: 'overrun' }, late);
      const dev = this.devices.get(j.device)!;
      if (!this.o.socket.connected) this.skip('disconnected');
      else if (j.backoffUntil > now) this.skip('backoff');
      else if (j.queued) this.skip('overrun');
      else {
        j.queued = true;
        this.queue.push(j);
      }
    }
    this.o.metrics.set('gateway_queue_length', this.queue.length, this.labels);
    this.work();
    this.schedule();
  }

  private skip(reason: string): void {
    this.o.metrics.inc('gateway_polls_skipped_total', { ...this.labels, reason });
  }

  private work(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.idle = (async () => {
      while (!this.stopped && this.queue.length > 0) {
        const j = this.queue.shift()!;
        try {
          await this.runJob(j);
        } finally {
          j.queued = false;
        }
      }
      this.running = false;
    })();
  }

  private async runJob(j: JobState): Promise<void> {
    const dev = this.devices.get(j.device)!;
    if (!this.o.socket.connected) return;
    this.current = dev;
    this.o.metrics.inc('gateway_polls_total', this.labels);
    let out: PollOutcome;
    try {
      out = await j.run(this.exchange);
    } finally {
      this.current = undefined;
    }
    if (out.pointErrors.length > 0) {
      this.o.metrics.inc('gateway_points_refused_total', this.labels, out.pointErrors.length);
      this.o.events.pointErrors?.(j.device, out.pointErrors);
    }
    const names = Object.keys(out.metrics);
    const first = out.failures[0];
    if (names.length > 0 && out.ts !== undefined) {
      this.o.metrics.inc('gateway_points_read_total', this.labels, names.length);
      this.o.events.reading(j.device, out.ts, out.metrics, j.intervalMs);
      j.failures = 0;
      j.backoffUntil = 0;
      dev.groups.set(j.group, { read: true, failure: first?.reason ?? '' });
    } else {
      if (!first || first.kind === 'connection') return; // nothing to read; or connectionDown() has said so
      j.failures++;
      j.backoffUntil = Date.now() + Math.min(this.o.backoff.maxMs, this.o.backoff.baseMs * 2 ** (j.failures - 1));
      dev.groups.set(j.group, { read: false, failure: first.reason });
      // a device that does not answer is down for all its groups, not only this one
      if (first.kind === 'timeout') for (const g of dev.groups.values()) g.read = false;
    }
    // Online while any poll group of the device reads something; the info names a failure if any.
    const groups = [...dev.groups.values()];
    const failing = groups.find((g) => g.failure);
    if (groups.some((g) => g.read)) this.setState(j.device, dev, 'online', failing ? `partial: ${failing.failure}` : '');
    else this.setState(j.device, dev, 'offline', first?.reason ?? groups[0]!.failure);
  }

  /** One request: waits out the inter-request delay, retries what a retry can cure, counts. */
  private readonly exchange: Exchange = async <T>(send: () => Promise<T>): Promise<T> => {
    const attempts = this.current?.state === 'offline' ? 1 : 1 + this.o.retries;
    for (let attempt = 1; ; attempt++) {
      const wait = this.lastRequestEnd + this.o.interRequestDelayMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.o.metrics.inc('gateway_requests_total', this.labels);
      try {
        return await send();
      } catch (e) {
        const err = e instanceof FieldError ? e : new FieldError('bad-frame', (e as Error).message);
        this.o.metrics.inc('gateway_request_errors_total', { ...this.labels, kind: err.kind });
        if (err.kind === 'timeout') this.o.metrics.inc('gateway_request_timeouts_total', this.labels);
        if (err.kind !== 'connection' && err.kind !== 'exception') await this.o.settle(Math.max(20, this.o.interRequestDelayMs));
        if (!RETRYABLE.has(err.kind) || attempt >= attempts || this.stopped) throw err;
        this.o.metrics.inc('gateway_request_retries_total', this.labels);
      } finally {
        this.lastRequestEnd = Date.now();
      }
    }
  };

  private connectionDown(reason: string): void {
    for (const j of this.jobs) {
      j.failures = 0;
      j.backoffUntil = 0;
    }
    for (const [id, dev] of this.devices) {
      dev.groups.clear();
      this.setState(id, dev, 'offline', reason);
    }
  }

  private setState(id: string, dev: DeviceState, state: 'online' | 'offline', info: string): void {
    if (dev.state === state && dev.info === info) return;
    dev.state = state;
    dev.info = info;
    this.o.events.status(id, state, info);
  }
}
