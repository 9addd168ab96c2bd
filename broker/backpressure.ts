/**
 * Back-pressure from the durable consumers (service accounts with a persistent session: ingest)
 * to the devices, so that a consumer that cannot keep up — InfluxDB down, ingest's spool at its
 * limit, ingest restarting — slows the devices down instead of growing the broker's memory:
 *
 * 1. A durable consumer is never cut for a socket that does not drain (Aedes' drainTimeout is for
 *    devices and the API's live feed: broker/aedes/drain-wait.ts). While its socket is full, each
 *    publish that routes to it waits until the socket drains, so the publishing device gets no
 *    PUBACK and Aedes reads nothing more from it: TCP back-pressure all the way to the device.
 * 2. A durable consumer's session queue (messages queued while it is away, or sent and not yet
 *    acknowledged) is capped: above `maxQueued`, device publishes wait in the authorizePublish
 *    chain (no PUBACK, nothing more read from that device) until the queue is back under the cap.
 *    Service accounts are never held (ingest's dead letters and alarms).
 */
import type { Aedes, Client } from 'aedes';
import type { Principal } from './acl.ts';
import { isClosed, isPersistentSession, waitForDrainUnbounded, type PublishStage } from './aedes/index.ts';

export interface BackpressureOptions {
  /** Queue length of a durable consumer above which device publishes wait; 0 = no cap. */
  maxQueued: number;
  /** How often a held publish looks at the queue again. */
  pollMs?: number;
  principalOf(client: Client): Principal | undefined;
  /** Messages in a session's queue (the persistence's count; undefined when it has none). */
  queued(clientId: string): number | undefined;
  onHold?: (clientId: string) => void;
}

export interface Backpressure {
  /** Stage of the authorizePublish chain (after authorization): device publishes wait while a durable consumer's queue is over the cap. */
  stage: PublishStage;
  /** Call right after createBroker: durable consumers then wait for drain without a timeout. */
  attach(aedes: Aedes): void;
  /** Client ids of the durable consumers seen since start. */
  readonly consumers: ReadonlySet<string>;
  /** Publishes waiting right now, and held in total. */
  held(): { now: number; total: number };
}

export function createBackpressure(o: BackpressureOptions): Backpressure {
  const consumers = new Set<string>();
  let total = 0;

  const over = (): boolean => {
    if (o.maxQueued <= 0) return false;
    for (const id of consumers) if ((o.queued(id) ?? 0) > o.maxQueued) return true;
    return false;
  };

  // Held publishes wait together: one timer looks at the queues and releases them all, in order,
  // once no consumer is over the cap (a closing client's publish is released at once).
  const held: { client: Client; release: () => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const blocked = over();
    for (let i = 0; i < held.length;) {
      const h = held[i]!;
      if (!blocked || isClosed(h.client)) {
        held.splice(i, 1);
        h.release();
      } else i++;
    }
    timer = held.length > 0 ? setTimeout(check, o.pollMs ?? 20) : undefined;
  };

  return {
    consumers,
    held: () => ({ now: held.length, total }),
    attach(aedes) {
      aedes.on('client', (client) => {
        if (o.principalOf(client)?.kind !== 'service' || !isPersistentSession(client)) return;
        consumers.add(client.id);
        waitForDrainUnbounded(client);
      });
    },
    stage: (client, _packet, next) => {
      if (!client || o.principalOf(client)?.kind === 'service' || !over()) return next(null);
      total++;
      o.onHold?.(client.id);
      held.push({ client, release: () => next(null) });
      timer ??= setTimeout(check, o.pollMs ?? 20);
    },
  };
}
