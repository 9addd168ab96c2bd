/**
 * An aedes persistence (the documented async interface of aedes-persistence 11) whose outgoing
 * queue is ours (session-queue.ts) and whose subscriptions, retained messages, wills and incoming
 * QoS 2 state are an inner persistence's: aedes-persistence's AsyncMemory (memory profile) or
 * aedes-persistence-redis's async instance (Redis profile). Passed to `Aedes.createBroker`.
 */
import { Readable } from 'node:stream';
import type { Aedes, Client } from 'aedes';
import type { Patch } from '../../core/dependency-patch.ts';
import { SessionQueues, type DurableQueue, type QueuedPacket } from './session-queue.ts';

type Sub = { clientId: string };
type Obj = Record<string, unknown>;

/** The async persistence interface aedes 1.2.0 calls (every method promise-style). */
export interface AsyncPersistence {
  setup(broker: unknown): Promise<void>;
  storeRetained(packet: Obj): Promise<void>;
  createRetainedStream(pattern: string): Readable | AsyncIterable<Obj>;
  createRetainedStreamCombi(patterns: string[]): Readable | AsyncIterable<Obj>;
  addSubscriptions(client: { id: string }, subs: Obj[]): Promise<unknown>;
  removeSubscriptions(client: { id: string }, subs: string[]): Promise<unknown>;
  subscriptionsByClient(client: { id: string }): Promise<Obj[] | null>;
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
  subscriptionsByTopic(topic: string): Promise<Obj[]>;
  cleanSubscriptions(client: { id: string }): Promise<unknown>;
  outgoingEnqueue(sub: Sub, packet: QueuedPacket): Promise<void>;
  outgoingEnqueueCombi(subs: Sub[], packet: QueuedPacket): Promise<void>;
  outgoingUpdate(client: Client, packet: QueuedPacket): Promise<void>;
  outgoingClearMessageId(client: Client, packet: QueuedPacket): Promise<QueuedPacket | undefined>;
  outgoingStream(client: Client): Readable | AsyncIterable<QueuedPacket>;
  incomingStorePacket(client: { id: string }, packet: Obj): Promise<void>;
  incomingGetPacket(client: { id: string }, packet: Obj): Promise<Obj>;
  incomingDelPacket(client: { id: string }, packet: Obj): Promise<void>;
  cleanIncoming?(client: { id: string }): Promise<void>;
  putWill(client: { id: string }, packet: Obj): Promise<unknown>;
  getWill(client: { id: string }): Promise<Obj | undefined>;
  delWill(client: { id: string; brokerId?: string }): Promise<Obj | undefined>;
  streamWill(brokers?: Record<string, unknown>): Readable | AsyncIterable<Obj>;
  getClientList(topic: string): Readable | AsyncIterable<string>;
  destroy(): Promise<void>;
}

export const OUTGOING_QUEUE_PATCH: Patch = {
  file: 'broker/aedes/outgoing-persistence.ts',
  what: 'our outgoing session queue (packet ids unique per session, acks matched per connection)',
  targets: [
    // the calls it answers: deliverQoS / drop without id (client.js), the replay (connect.js), PUBACK and PUBREC
    { pkg: 'aedes', version: '1.2.0', files: { 'lib/client.js': '7a9961477a92db79', 'lib/handlers/connect.js': 'c522097e13a72a63', 'lib/handlers/puback.js': 'cdcebc4443ef0d93', 'lib/handlers/pubrec.js': 'aa90cbab69081776' } },
    { pkg: 'aedes-persistence', version: '11.0.0', files: { 'asyncPersistence.js': '6a79bb17cd2548f2' } },
  ],
};

export class OutgoingQueuePersistence implements AsyncPersistence {
  private queue: SessionQueues | undefined;
  private brokerRef: { id: string } | undefined;

  /**
   * `durable`: the store of the queue (Redis); without it the queue lives in memory.
   * `upstreamQueue`: leave the outgoing queue to the inner persistence too (to reproduce upstream).
   */
  constructor(private readonly inner: AsyncPersistence, private readonly durable?: DurableQueue, private readonly upstreamQueue = false) {
    if (typeof inner.cleanIncoming !== 'function') this.cleanIncoming = undefined;
  }

  /** The broker this persistence serves (aedes-persistence's abstract tests read it). */
  get broker(): unknown {
    return this.brokerRef;
  }

  async setup(broker: unknown): Promise<void> {
    const b = broker as { id: string; on?: Aedes['on'] };
    this.brokerRef = b;
    this.queue = new SessionQueues(b.id, this.durable);
    await this.inner.setup(broker);
    // durable: a session's index is held only while its client is connected here
    if (this.durable && typeof b.on === 'function') b.on('clientDisconnect', (client: Client) => this.queue!.detach(client.id));
  }

  /** Messages in a session's queue known to this broker (queued while away, or sent and not acknowledged). */
  queued(clientId: string): number | undefined {
    return this.upstreamQueue ? undefined : this.queue?.queued(clientId) ?? 0;
  }

  private get q(): SessionQueues {
    if (!this.queue) throw new Error('OutgoingQueuePersistence: setup() has not run');
    return this.queue;
  }

  // outgoing queue: ours
  outgoingEnqueue(sub: Sub, packet: QueuedPacket): Promise<void> {
    if (this.upstreamQueue) return this.inner.outgoingEnqueue(sub, packet);
    return new Promise((resolve) => resolve(this.q.enqueue([sub.clientId], packet)));
  }
  outgoingEnqueueCombi(subs: Sub[], packet: QueuedPacket): Promise<void> {
    if (this.upstreamQueue) return this.inner.outgoingEnqueueCombi(subs, packet);
    return new Promise((resolve) => resolve(this.q.enqueue(subs.map((s) => s.clientId), packet)));
  }
  outgoingUpdate(client: Client, packet: QueuedPacket): Promise<void> {
    if (this.upstreamQueue) return this.inner.outgoingUpdate(client, packet);
    return new Promise((resolve) => resolve(this.q.update(client, packet)));
  }
  outgoingClearMessageId(client: Client, packet: QueuedPacket): Promise<QueuedPacket | undefined> {
    if (this.upstreamQueue) return this.inner.outgoingClearMessageId(client, packet);
    return new Promise((resolve) => resolve(this.q.clear(client, packet)));
  }
  outgoingStream(client: Client): Readable {
    return this.upstreamQueue ? Readable.from(this.inner.outgoingStream(client)) : this.q.stream(client);
  }

  // the rest: the inner persistence's
  storeRetained(packet: Obj) { return this.inner.storeRetained(packet); }
  // streams: aedes pipes them, and the Redis persistence hands back async generators
  createRetainedStream(pattern: string) { return Readable.from(this.inner.createRetainedStream(pattern)); }
  createRetainedStreamCombi(patterns: string[]) { return Readable.from(this.inner.createRetainedStreamCombi(patterns)); }
  addSubscriptions(client: { id: string }, subs: Obj[]) { return this.inner.addSubscriptions(client, subs); }
  removeSubscriptions(client: { id: string }, subs: string[]) { return this.inner.removeSubscriptions(client, subs); }
  subscriptionsByClient(client: { id: string }) {
    // aedes asks at each CONNECT of a persistent session: (re)load its queue from the store now
    this.queue?.attach(client.id);
    return this.inner.subscriptionsByClient(client);
  }
  countOffline() { return this.inner.countOffline(); }
  subscriptionsByTopic(topic: string) { return this.inner.subscriptionsByTopic(topic); }
  cleanSubscriptions(client: { id: string }) { return this.inner.cleanSubscriptions(client); }
  incomingStorePacket(client: { id: string }, packet: Obj) { return this.inner.incomingStorePacket(client, packet); }
  incomingGetPacket(client: { id: string }, packet: Obj) { return this.inner.incomingGetPacket(client, packet); }
  incomingDelPacket(client: { id: string }, packet: Obj) { return this.inner.incomingDelPacket(client, packet); }
  cleanIncoming: AsyncPersistence['cleanIncoming'] = (client) => this.inner.cleanIncoming!(client);
  putWill(client: { id: string }, packet: Obj) { return this.inner.putWill(client, packet); }
  getWill(client: { id: string }) { return this.inner.getWill(client); }
  delWill(client: { id: string; brokerId?: string }) { return this.inner.delWill(client); }
  streamWill(brokers?: Record<string, unknown>) { return Readable.from(this.inner.streamWill(brokers)); }
  getClientList(topic: string) { return Readable.from(this.inner.getClientList(topic)); }
  destroy() { return this.inner.destroy(); }
}
