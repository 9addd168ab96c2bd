/**
 * Buffer -> broker. Reads what the buffer holds in order, groups a chunk's readings by device
 * into `{"readings":[…]}` batches within the contract's limits, publishes them at QoS 1 with at
 * most `maxInflight` unacknowledged, and commits a chunk in the buffer only once every publish
 * of it and of every chunk before it has its PUBACK. Nothing is read while the broker is away or
 * while the in-flight window is full: readings wait on disk, not in memory.
 * mqtt.js resends unacknowledged QoS 1 publishes after a reconnect; if it ever fails one (the
 * client is ended), the forwarder waits for the others to settle and reads again from the
 * checkpoint (duplicates are harmless: a reading is keyed by device and ts).
 */
import { deviceTopic, type ContractLimits, type DevicePlace } from '../core/contract.ts';
import type { Chunk, ReadingBuffer } from './buffer.ts';

export type PublishFn = (topic: string, payload: string, done: (err?: Error) => void) => void;

export interface ForwarderOptions {
  buffer: ReadingBuffer;
  devices: ReadonlyMap<string, DevicePlace>;
  publish: PublishFn;
  connected: () => boolean;
  maxInflight: number;
  chunkBytes: number;
  limits: Pick<ContractLimits, 'maxBatch' | 'maxPayloadBytes' | 'maxPastMs'>;
  /** Readings older than limits.maxPastMs minus this are not sent. */
  expiryMarginMs: number;
  now?: () => number;
}

interface Outgoing { topic: string; payload: string; readings: number; chunk: ChunkState }
interface ChunkState { chunk: Chunk; outstanding: number; records: number }

/** A buffer record: `<device id> <reading JSON>`; the reading JSON starts with `{"ts":<ms>,`. */
export function encodeRecord(device: string, ts: number, metrics: Record<string, unknown>, seq?: number): string {
  return `${device} {"ts":${ts},${seq === undefined ? '' : `"seq":${seq},`}"metrics":${JSON.stringify(metrics)}}`;
}

export function recordTs(json: string): number {
  return Number(json.slice(6, json.indexOf(',', 6)));
}

export class Forwarder {
  readonly counts = { sent: 0, acked: 0, publishes: 0, expired: 0, unknown: 0, oversized: 0, rewinds: 0 };
  inflight = 0;
  private readonly chunks: ChunkState[] = [];
  private queue: Outgoing[] = [];
  private failed = false;
  private stopped = false;
  private pumping = false;
  private readonly now: () => number;

  constructor(private readonly o: ForwarderOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Publishes what the window allows; call on new records, on connect, and after each PUBACK. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.stopped && !this.failed && this.o.connected() && this.inflight < this.o.maxInflight) {
        if (this.queue.length === 0 && !this.fill()) break;
        const out = this.queue.shift()!;
        this.send(out);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Reads the next chunk into the queue; false when the buffer has nothing more. */
  private fill(): boolean {
    const chunk = this.o.buffer.next(this.o.chunkBytes);
    if (!chunk) return false;
    const st: ChunkState = { chunk, outstanding: 0, records: chunk.lines.length };
    this.chunks.push(st);
    const byDevice = new Map<string, string[]>();
    const oldest = this.now() - this.o.limits.maxPastMs + this.o.expiryMarginMs;
    for (const line of chunk.lines) {
      const sp = line.indexOf(' ');
      const id = line.slice(0, sp);
      const json = line.slice(sp + 1);
      if (!this.o.devices.has(id)) {
        this.counts.unknown++; // a device no longer in the configuration
        continue;
      }
      if (recordTs(json) < oldest) {
        this.counts.expired++; // ingest would refuse it (SP_ERR_TS_PAST), and the batch with it
        continue;
      }
      let list = byDevice.get(id);
      if (!list) byDevice.set(id, (list = []));
      list.push(json);
    }
    for (const [id, readings] of byDevice) this.batch(deviceTopic(this.o.devices.get(id)!, 'telemetry'), readings, st);
    if (st.outstanding === 0) this.settle();
    return true;
  }

  private batch(topic: string, readings: string[], st: ChunkState): void {
    const max = this.o.limits.maxPayloadBytes;
    let part: string[] = [];
    let bytes = 16; // {"readings":[ ]}
    const flush = () => {
      if (part.length === 0) return;
      const payload = part.length === 1 ? part[0]! : `{"readings":[${part.join(',')}]}`;
      this.queue.push({ topic, payload, readings: part.length, chunk: st });
      st.outstanding++;
      part = [];
      bytes = 16;
    };
    for (const r of readings) {
      const n = Buffer.byteLength(r) + 1;
      if (n + 16 > max) {
        this.counts.oversized++; // cannot happen with the contract's limits and a validated register map
        continue;
      }
      if (part.length >= this.o.limits.maxBatch || bytes + n > max) flush();
      part.push(r);
      bytes += n;
    }
    flush();
  }

  private send(out: Outgoing): void {
    this.inflight++;
    this.counts.publishes++;
    this.counts.sent += out.readings;
    this.o.publish(out.topic, out.payload, (err) => {
      this.inflight--;
      if (err) {
        this.failed = true;
      } else {
        this.counts.acked += out.readings;
        out.chunk.outstanding--;
        if (out.chunk.outstanding === 0) this.settle();
      }
      if (this.failed && this.inflight === 0) this.restart();
      else this.pump();
    });
  }

  /** Commits the chunks at the head that are wholly acknowledged (one checkpoint write). */
  private settle(): void {
    let last: ChunkState | undefined;
    let records = 0;
    while (this.chunks.length > 0 && this.chunks[0]!.outstanding === 0) {
      last = this.chunks.shift()!;
      records += last.records;
    }
    if (last) this.o.buffer.ack(last.chunk.end, records);
  }

  /** After a failed publish: forget what is queued and read again from the checkpoint. */
  private restart(): void {
    if (this.stopped) return;
    this.counts.rewinds++;
    this.queue = [];
    this.chunks.length = 0;
    this.o.buffer.rewind();
    this.failed = false;
    setTimeout(() => this.pump(), 200).unref();
  }

  stop(): void {
    this.stopped = true;
  }
}
