/**
 * mqemitter 7.1.0 holds the deliveries beyond its `concurrency` (100) in two Arrays drained with
 * `Array#shift()`, O(n) per message: with ingest behind, tens of thousands wait and the shifts took
 * a third of the broker's CPU. This swaps them for an O(1) FIFO with the same `push`, `shift` and
 * `length` (all mqemitter uses of them).
 */
import type { Aedes } from 'aedes';
import { patchError, verifyPatch, type Patch, type VersionOf } from '../../core/dependency-patch.ts';

export const MQ_FIFO_PATCH: Patch = {
  file: 'broker/aedes/mq-fifo.ts',
  what: "O(1) FIFO for mqemitter's waiting deliveries",
  targets: [{ pkg: 'mqemitter', version: '7.1.0', files: { 'mqemitter.js': 'e74a40fd8fab6cfe' } }],
};

/** First in, first out; amortised O(1) push and shift. */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): number {
    this.items.push(item);
    return this.length;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head); // compact once half is consumed
      this.head = 0;
    }
    return item;
  }
}

interface MqInternals { _messageQueue: unknown; _messageCallbacks: unknown }

/** Call right after createBroker, before any client connects. Throws if mqemitter's internals changed. */
export function useFifoInMqEmitter(aedes: Aedes, versionOf?: VersionOf): void {
  verifyPatch(MQ_FIFO_PATCH, versionOf);
  const mq = (aedes as unknown as { mq?: MqInternals }).mq;
  const ok = (q: unknown) => Array.isArray(q) && q.length === 0;
  if (!mq || !ok(mq._messageQueue) || !ok(mq._messageCallbacks)) {
    throw patchError(MQ_FIFO_PATCH, 'aedes.mq is not an idle mqemitter 7.x (its _messageQueue / _messageCallbacks arrays)');
  }
  mq._messageQueue = new Fifo();
  mq._messageCallbacks = new Fifo();
}
