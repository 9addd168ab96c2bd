/**
 * Several brokers on one Redis: each keeps the subscriptions of persistent sessions in a trie that
 * aedes-persistence-redis loads at start and updates from `$SYS/sub/add` and `$SYS/sub/rm` messages
 * on the broker's own emitter. Without a shared emitter (no mqemitter-redis here) a subscription
 * made on another broker would stay unknown, and messages published here would not be queued for
 * it. This relays those two messages through a Redis channel. Only subscriptions travel: live
 * delivery across brokers is not in scope (docs/aedes-patches.md).
 */
import type { Aedes } from 'aedes';
import { verifyPatch, type Patch, type VersionOf } from '../../core/dependency-patch.ts';

export const SUBSCRIPTION_SYNC_PATCH: Patch = {
  file: 'broker/aedes/redis-subscription-sync.ts',
  what: "subscription changes relayed between brokers sharing one Redis",
  targets: [
    { pkg: 'aedes-persistence', version: '11.0.0', files: { 'broadcastPersistence.js': '05591efe24cf9796' } },
    { pkg: 'aedes-persistence-redis', version: '12.0.0', files: { 'asyncPersistence.js': 'aab2883e175dca86' } },
  ],
};

export const SUBSCRIPTION_CHANNEL = 'sp:subs';
const TOPICS = new Set(['$SYS/sub/add', '$SYS/sub/rm']);

export interface SubscriptionBus {
  publish(channel: string, message: string): Promise<unknown>;
  /** A connection in subscriber mode (ioredis duplicate()). */
  subscriber: { subscribe(channel: string): Promise<unknown>; on(ev: 'message', fn: (channel: string, message: string) => void): unknown };
}

interface Relayed { from: string; topic: string; payload: string }

/** Call right after createBroker; resolves once this broker listens to the others. */
export async function syncSubscriptions(aedes: Aedes, bus: SubscriptionBus, onError: (err: Error) => void, versionOf?: VersionOf): Promise<void> {
  verifyPatch(SUBSCRIPTION_SYNC_PATCH, versionOf);
  bus.subscriber.on('message', (channel, message) => {
    if (channel !== SUBSCRIPTION_CHANNEL) return;
    let m: Relayed;
    try {
      m = JSON.parse(message) as Relayed;
    } catch {
      return;
    }
    if (m.from === aedes.id || !TOPICS.has(m.topic)) return;
    // brokerId: the origin, so that `forward` below does not send it back
    const packet = { cmd: 'publish' as const, topic: m.topic, payload: Buffer.from(m.payload), qos: 0 as const, retain: false, dup: false, brokerId: m.from };
    aedes.publish(packet as never, (err) => { if (err) onError(err); });
  });
  await bus.subscriber.subscribe(SUBSCRIPTION_CHANNEL);
  const forward = (packet: { topic: string; payload: Buffer | string; brokerId?: string }, cb: () => void) => {
    cb();
    if (!TOPICS.has(packet.topic) || packet.brokerId !== aedes.id) return;
    const m: Relayed = { from: aedes.id, topic: packet.topic, payload: packet.payload.toString() };
    bus.publish(SUBSCRIPTION_CHANNEL, JSON.stringify(m)).catch(onError);
  };
  await new Promise<void>((resolve) => aedes.subscribe('$SYS/sub/+', forward as never, () => resolve()));
}
