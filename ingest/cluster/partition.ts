/**
 * One partition's consumer, run by the worker that holds its lease (leases.ts). On taking a
 * partition over, the new owner deletes every consumer of that partition left by earlier owners
 * and creates its own durable pull consumer (explicit ack, bounded max_ack_pending). The stream
 * has work-queue retention, so what an earlier owner acknowledged is gone from it and what it did
 * not is still there: the new consumer, delivering "all", starts with exactly those messages, in
 * stream order — at once, not after an AckWait. Deleting the old consumer also fences a stalled
 * former owner off: its pulls and acknowledgements no longer reach the stream (and its lease renewal
 * fails, so it stops).
 */
import { AckPolicy, DeliverPolicy, nanos, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from 'nats';
import { partitionFilter, TELE_STREAM } from '../../cluster/subjects.ts';

export interface PartitionOptions {
  partition: number;
  workerId: string;
  ackWaitMs: number;
  maxAckPending: number;
  onMessage: (msg: JsMsg) => void;
  onStopped?: (err?: Error) => void;
}

export class PartitionConsumer {
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  name = '';

  constructor(private readonly jsm: JetStreamManager, private readonly js: JetStreamClient, private readonly o: PartitionOptions) {}

  async start(): Promise<void> {
    const filter = partitionFilter(this.o.partition);
    for await (const ci of this.jsm.consumers.list(TELE_STREAM)) {
      if (ci.config.filter_subject === filter) await this.jsm.consumers.delete(TELE_STREAM, ci.name).catch(() => {});
    }
    if (this.stopped) return;
    this.name = `p${this.o.partition}_${this.o.workerId}_${Date.now().toString(36)}`;
    await this.jsm.consumers.add(TELE_STREAM, {
      durable_name: this.name, filter_subject: filter, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.o.ackWaitMs), max_ack_pending: this.o.maxAckPending, max_deliver: -1,
    });
    if (this.stopped) return;
    const consumer = await this.js.consumers.get(TELE_STREAM, this.name);
    this.messages = await consumer.consume({
      // a consumer briefly missing (its RAFT leader moving) is waited for, not fatal; fencing is the lease's job
      max_messages: Math.min(this.o.maxAckPending, 1000), callback: this.o.onMessage,
      // Pulls expire every 5 s, so the server's idle heartbeat comes every 2.5 s and nats.js notices
      // two missed ones (a pull lost when the consumer's RAFT leader moved, after a NATS server
      // died) within 5 s and pulls again. Its default (30 s, heartbeat 15 s) left a partition
      // unread for over 30 s after a failover (test/cluster-failover.test.ts).
      expires: 5000,
    });
    void this.messages.closed().then((err) => {
      if (!this.stopped) this.o.onStopped?.(err instanceof Error ? err : undefined);
    });
  }

  /** Stops pulling (messages delivered and not acknowledged stay pending for the next owner). */
  stop(): void {
    this.stopped = true;
    this.messages?.stop();
  }

  /** Removes the consumer (a clean release: everything was acknowledged first). */
  async remove(): Promise<void> {
    this.stop();
    if (this.name) await this.jsm.consumers.delete(TELE_STREAM, this.name).catch(() => {});
  }
}
