/**
 * Partition ownership for the ingest workers, on a NATS KV bucket (a replicated JetStream stream)
 * whose entries expire `ttlMs` after their last write:
 *
 *   worker.<id>   written by each live worker every tick       → how many workers share the partitions
 *   part.<n>      the owner of partition n: created with create() (fails if anyone holds it),
 *                 renewed with update(revision) (fails if it changed hands), deleted on release
 *
 * NATS 2.9 has no exclusive ("pinned") pull consumer, so this is the exclusion: a worker consumes a
 * partition only while it holds the lease, and gives a partition up by itself once it has failed to
 * renew for 0.8 × ttl (before anyone else can create it). A worker that dies stops renewing; after
 * the TTL the key is gone and another worker creates it. The consumer of a partition is recreated by
 * each new owner (partition.ts), which fences a stalled former owner off the stream. Each worker
 * aims at ceil(partitions / live workers) and releases what it holds beyond that.
 */
import type { KV } from 'nats';

export interface LeaseEvents {
  /** Won partition n (create succeeded). */
  acquired(n: number): Promise<void>;
  /** Lost partition n (renewal failed or too late): stop consuming it now. */
  lost(n: number): void;
  /** Asked to give n up (over the fair share): drain it, then resolve; the lease is deleted after. */
  release(n: number): Promise<void>;
  onError?(err: Error): void;
}

export class LeaseTable {
  /** Partition → revision of our lease entry, time of its last successful write, and whether it is being given up. */
  private readonly owned = new Map<number, { rev: number; at: number; releasing: boolean }>();
  /** Leases given up for lateness (NATS unreachable), with their last revision: taken back if nobody wrote them since. */
  private readonly suspended = new Map<number, { rev: number; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private running = false;
  private ticking: Promise<void> = Promise.resolve();
  liveWorkers = 1;

  constructor(
    private readonly kv: KV,
    private readonly workerId: string,
    private readonly partitions: number,
    private readonly ttlMs: number,
    private readonly ev: LeaseEvents,
  ) {}

  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  start(): void {
    this.running = true;
    // independent of the rounds (whose requests can hang while NATS fails over): a lease not
    // renewed for 0.8 × ttl is given up before anyone else can take it
    this.watchdog = setInterval(() => this.giveUpLate(), Math.max(50, Math.floor(this.ttlMs / 10)));
    const loop = () => {
      if (!this.running) return;
      this.ticking = this.tick().catch((e: Error) => this.ev.onError?.(e)).finally(() => {
        if (this.running) this.timer = setTimeout(loop, Math.max(100, Math.floor(this.ttlMs / 3)));
      });
    };
    loop();
  }

  /** Stops renewing; with `release`, deletes the leases held (the caller has drained them). */
  async stop(release: boolean): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    await this.ticking;
    if (release) {
      for (const [n, l] of this.owned) await this.kv.delete(`part.${n}`, { previousSeq: l.rev }).catch(() => {});
      await this.kv.delete(`worker.${this.workerId}`).catch(() => {});
    }
    this.owned.clear();
  }

  private value(): string {
    return JSON.stringify({ worker: this.workerId, at: Date.now() });
  }

  private giveUpLate(): void {
    const now = Date.now();
    for (const [n, l] of [...this.owned]) {
      if (now - l.at > this.ttlMs * 0.8) {
        this.owned.delete(n);
        if (!l.releasing) this.suspended.set(n, { rev: l.rev, at: l.at });
        this.ev.lost(n);
      }
    }
  }

  /** One round: heartbeat, renew, then give up or take partitions towards the fair share. Acquiring and draining run in the background. */
  async tick(): Promise<void> {
    const beat = this.kv.put(`worker.${this.workerId}`, this.value()).catch((e: Error) => this.ev.onError?.(e));
    await Promise.all([...this.owned].map(async ([n, l]) => {
      try {
        const rev = await this.kv.update(`part.${n}`, this.value(), l.rev);
        if (this.owned.get(n) === l) {
          l.rev = rev;
          l.at = Date.now();
        }
      } catch (e) {
        if (/wrong last sequence/i.test((e as Error).message) && this.owned.get(n) === l) { // another worker holds it now
          this.owned.delete(n);
          this.ev.lost(n);
        }
      }
    }));
    await beat;
    this.giveUpLate();
    // a lease given up only because it could not be renewed in time is ours again if its entry is still
    // the one we wrote (nobody took it meanwhile): no waiting for it to expire after a NATS failover
    for (const [n, l] of [...this.suspended]) {
      if (Date.now() - l.at > this.ttlMs * 2) {
        this.suspended.delete(n);
        continue;
      }
      try {
        const rev = await this.kv.update(`part.${n}`, this.value(), l.rev);
        this.suspended.delete(n);
        this.take(n, rev);
      } catch (e) {
        if (/wrong last sequence/i.test((e as Error).message)) this.suspended.delete(n);
      }
    }
    let workers = 0;
    for await (const _k of await this.kv.keys('worker.*')) workers++;
    this.liveWorkers = Math.max(1, workers);
    const target = Math.ceil(this.partitions / this.liveWorkers);
    const active = this.ownedPartitions().filter((n) => !this.owned.get(n)!.releasing);
    if (active.length > target) {
      for (const n of active.slice(target)) {
        const l = this.owned.get(n)!;
        l.releasing = true; // still renewed while it drains: nobody else may start on it yet
        void this.ev.release(n).catch((e: Error) => this.ev.onError?.(e)).then(async () => {
          if (this.owned.get(n) !== l) return;
          this.owned.delete(n);
          await this.kv.delete(`part.${n}`, { previousSeq: l.rev }).catch(() => {}); // if that fails, it expires
        });
      }
      return;
    }
    // take free partitions up to the share, starting at a place of our own (fewer collisions)
    const start = [...this.workerId].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % this.partitions;
    let have = active.length;
    for (let k = 0; k < this.partitions && have < target && this.running; k++) {
      const n = (start + k) % this.partitions;
      if (this.owned.has(n) || this.suspended.has(n)) continue;
      let rev: number;
      try {
        rev = await this.kv.create(`part.${n}`, this.value());
      } catch {
        continue; // held by another worker
      }
      this.take(n, rev);
      have++;
    }
  }

  private take(n: number, rev: number): void {
    const l = { rev, at: Date.now(), releasing: false };
    this.owned.set(n, l);
    void this.ev.acquired(n).catch(async (e: Error) => {
      this.ev.onError?.(e);
      if (this.owned.get(n) !== l) return;
      this.owned.delete(n);
      this.ev.lost(n);
      await this.kv.delete(`part.${n}`, { previousSeq: l.rev }).catch(() => {});
    });
  }
}
