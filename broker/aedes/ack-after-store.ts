/**
 * PUBACK only after store: aedes 1.2.0 writes a QoS 1 PUBACK before it runs broker.publish
 * (store retained, enqueue for persistent sessions, route). This runs the publish inside
 * authorizePublish — the last stage of the chain, which aedes awaits before the PUBACK — and makes
 * aedes' own later broker.publish of that same packet object a no-op. PUBACKs keep the order of
 * the PUBLISHes [MQTT-4.6.0-2]; a failed store closes the publisher's connection without a PUBACK.
 */
import type { Aedes, Client, PublishPacket } from 'aedes';
import type { PublishStage } from './authorize-chain.ts';
import { patchError, verifyPatch, type Patch, type VersionOf } from '../../core/dependency-patch.ts';

export const ACK_AFTER_STORE_PATCH: Patch = {
  file: 'broker/aedes/ack-after-store.ts',
  what: 'QoS 1 PUBACK only after the message is stored',
  targets: [{ pkg: 'aedes', version: '1.2.0', files: { 'lib/handlers/publish.js': '7cd015f9cc71c88e', 'aedes.js': '5b4b483b749c0eb5' } }],
};

type Done = (err?: Error | null) => void;
type PublishFn = (packet: PublishPacket, client: Client | null | Done, done?: Done) => void;

export interface AckAfterStore {
  /** The last stage of the authorizePublish chain. */
  stage: PublishStage;
  /** Call right after createBroker, before clients connect. */
  install(aedes: Aedes): void;
}

export function ackAfterStore(versionOf?: VersionOf): AckAfterStore {
  verifyPatch(ACK_AFTER_STORE_PATCH, versionOf);
  let publish: PublishFn | undefined;
  /** Packet objects already published from authorizePublish: aedes' own publish of them is skipped. */
  const early = new WeakSet<object>();
  /** Per connection, acknowledgements waiting for earlier ones (PUBACK order = PUBLISH order). */
  const pending = new WeakMap<object, { ready: boolean; err: Error | null; cb: Done }[]>();
  return {
    stage: (client, packet, next) => {
      if (!client || packet.qos !== 1) return next(null);
      if (!publish) return next(new Error('ackAfterStore: not installed'));
      let queue = pending.get(client);
      if (!queue) pending.set(client, (queue = []));
      const slot = { ready: false, err: null as Error | null, cb: next as Done };
      queue.push(slot);
      const q = queue;
      publish(packet, client, (perr) => {
        if (!perr) early.add(packet);
        slot.ready = true;
        slot.err = perr ?? null;
        while (q.length > 0 && q[0]!.ready) {
          const s = q.shift()!;
          s.cb(s.err);
        }
      });
    },
    install(aedes) {
      const broker = aedes as unknown as { publish: PublishFn };
      if (typeof broker.publish !== 'function' || Object.hasOwn(broker, 'publish')) {
        throw patchError(ACK_AFTER_STORE_PATCH, 'aedes.publish is not the prototype method it replaces (installed twice?)');
      }
      const original = broker.publish.bind(aedes) as PublishFn;
      publish = original;
      broker.publish = (packet, client, done) => {
        if (typeof client === 'function') {
          done = client;
          client = null;
        }
        if (early.has(packet)) {
          early.delete(packet);
          if (done) process.nextTick(done, null);
          return;
        }
        original(packet, client, done);
      };
    },
  };
}
