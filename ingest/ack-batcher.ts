/**
 * Group commit for ingest: the spool records of all messages handled in one event-loop turn
 * are appended with ONE write(2), and their PUBACKs leave in ONE socket write after it.
 *
 * mqtt.js (5.x) handles inbound publishes one at a time and sends a QoS 1 PUBACK from inside the
 * `handleMessage` callback; it parses the next packet only after that callback (test: "mqtt.js
 * gates" in test/ingest-ack-batcher.test.ts). Holding the callback until a group write would give
 * groups of one. So ingest calls the callback at once, and the PUBACKs mqtt.js then produces are
 * taken off its send path (ingest/mqtt-puback.ts, version-checked) and held here until the group
 * holding their records is in the spool file.
 *
 * THE INVARIANT (what makes a `kill -9` lose nothing): a PUBACK leaves only after the records
 * of its message went to the spool file with write(2). It holds because
 *   - ingest adds a message's records (`add`) BEFORE calling mqtt.js's callback, and mqtt.js
 *     produces the PUBACK synchronously in that callback, so every PUBACK held was produced
 *     after its records were added;
 *   - `flush` first writes everything added so far, and only then sends the PUBACKs held;
 *   - if the write throws, the held PUBACKs are dropped and nothing is ever sent again
 *     (the broker redelivers them to the next ingest process).
 * PUBACKs held across a reconnect are dropped, not sent on the new connection: their packet
 * ids belong to the old one (the broker redelivers those messages; the spool has them already,
 * and a reading written twice is stored once).
 *
 * Flushes happen on `setImmediate` after the first PUBACK or record of a group (mqtt.js hands
 * over the packets of one socket read in successive process.nextTick turns, all before
 * that), when the group passes `maxGroupBytes`, and whenever the caller asks (`flush()`,
 * e.g. before holding an acknowledgement for back-pressure, or before stopping).
 */
import type { MqttClient } from 'mqtt';
import { tapPubacks, type PubackTap } from './mqtt-puback.ts';

export interface AckBatcherOptions {
  /**
   * Makes the records durable: appends them to the spool with one synchronous write(2).
   * Throws when it cannot; then no PUBACK is sent again.
   */
  write: (records: string) => void;
  /** The write threw: ingest must stop (nothing will be acknowledged any more). */
  onFatal: (err: Error) => void;
  /** Flush without waiting for the end of the turn once the group holds this many characters. */
  maxGroupBytes?: number;
}

interface Held { messageId: number; stream: unknown }

export class AckBatcher {
  private group: string[] = [];
  private groupBytes = 0;
  private held: Held[] = [];
  private scheduled = false;
  private dead = false;
  private maxGroupBytes: number;
  private readonly tap: PubackTap;
  /** Counters: groups written, messages' PUBACKs sent, PUBACKs dropped (reconnect or failure). */
  readonly stats = { groups: 0, acks: 0, dropped: 0 };

  constructor(client: MqttClient, private readonly o: AckBatcherOptions) {
    this.maxGroupBytes = o.maxGroupBytes ?? 1024 * 1024;
    this.tap = tapPubacks(client, (messageId, stream) => {
      // held until the records before it are written; mqtt.js may take the next packet now
      if (this.dead) return;
      this.held.push({ messageId, stream });
      this.schedule();
    });
  }

  /** Adds the spool records of one message (before its PUBACK is produced). */
  add(records: string): void {
    if (this.dead) throw new Error('AckBatcher: the spool could not be written; nothing more is accepted');
    if (records.length === 0) return;
    this.group.push(records);
    this.groupBytes += records.length;
    if (this.groupBytes >= this.maxGroupBytes) this.flush();
    else this.schedule();
  }

  /** Characters waiting in the current group (not yet in the spool). */
  get pendingChars(): number {
    return this.groupBytes;
  }

  /**
   * Writes the group with one write(2), then sends every PUBACK held (in one socket write).
   * False when the write failed (then nothing is sent, now or later).
   */
  flush(): boolean {
    if (this.dead) return false;
    if (this.group.length > 0) {
      const records = this.group.length === 1 ? this.group[0]! : this.group.join('');
      this.group = [];
      this.groupBytes = 0;
      try {
        this.o.write(records);
      } catch (e) {
        this.dead = true;
        this.stats.dropped += this.held.length;
        this.held = [];
        this.o.onFatal(e as Error);
        return false;
      }
      this.stats.groups++;
    }
    if (this.held.length > 0) this.release();
    return true;
  }

  /** Sends the held PUBACKs of the current connection as one buffer; drops those of an old one. */
  private release(): void {
    const held = this.held;
    this.held = [];
    const stream = this.tap.stream();
    const live = held.filter((h) => h.stream === stream);
    if (live.length === 0) {
      this.stats.dropped += held.length;
      return;
    }
    // PUBACK: fixed header 0x40, remaining length 2, packet id (MQTT 3.1.1 §3.4; in MQTT 5 the
    // same 4 bytes mean reason code 0, success)
    const buf = Buffer.allocUnsafe(4 * live.length);
    for (let i = 0, o = 0; i < live.length; i++, o += 4) {
      const id = live[i]!.messageId;
      buf[o] = 0x40;
      buf[o + 1] = 2;
      buf[o + 2] = id >> 8;
      buf[o + 3] = id & 0xff;
    }
    if (!this.tap.write(stream, buf)) {
      this.stats.dropped += held.length;
      return;
    }
    this.stats.dropped += held.length - live.length;
    this.stats.acks += live.length;
  }

  private readonly onTimer = () => {
    this.scheduled = false;
    this.flush();
  };

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.onTimer);
  }

  /**
   * Writes what is waiting and puts mqtt.js's own PUBACK sending back; records added after
   * this are written at once (before the caller lets mqtt.js acknowledge them).
   */
  close(): void {
    this.flush();
    this.maxGroupBytes = 0;
    this.tap.restore();
  }
}
