/**
 * Back-pressure from the durable consumers (service accounts with a persistent session: ingest)
 * to the devices, so that a consumer that cannot keep up — InfluxDB down, ingest's spool at its
 * limit, ingest restarting — slows the devices down instead of growing the broker's memory:
 *
 * 1. A durable consumer is never cut for a socket that does not drain (Aedes' drainTimeout is for
 *    devices and the API's live feed). While its socket is full, Aedes holds each publish that
 *    routes to it until the socket drains (aedes/lib/write.js → client.waitForDrain), so the
 *    publishing device gets no PUBACK and Aedes reads nothing more from it: TCP back-pressure
 *    all the way to the device.
 * 2. A durable consumer's session queue (messages queued while it is away, or sent and not yet
 *    acknowledged: broker/aedes-session-fix.ts) is capped: above `maxQueued`, device publishes
 *    wait in authorizePublish (no PUBACK, nothing more read from that device) until the queue is
 *    back under the cap. Service accounts are never held (ingest's dead letters and alarms).
 */
import type { Aedes, AedesOptions, Client } from 'aedes';
import type { Principal } from './acl.ts';
import { queuedFor } from './aedes-session-fix.ts';

export interface BackpressureOptions {
  /** Queue length of a durable consumer above which device publishes wait; 0 = no cap. */
  maxQueued: number;
  /** How often a held publish looks at the queue again. */
  pollMs?: number;
  principalOf(client: Client): Principal | undefined;
  onHold?: (clientId: string) => void;
}

export interface Backpressure {
  /** Wraps authorizePublish: device publishes wait while a durable consumer's queue is over the cap. */
  wrap(authorize: AuthorizePublishHandler): AuthorizePublishHandler;
  /** Client ids of the durable consumers seen since start. */
  readonly consumers: ReadonlySet<string>;
  /** Publishes waiting right now, and held in total. */
  held(): { now: number; total: number };
}

type AuthorizePublishHandler = NonNullable<AedesOptions['authorizePublish']>;

interface Drainable { conn: NodeJS.WritableStream & { once(ev: string, fn: () => void): unknown }; waitForDrain(cb: (err: Error | null) => void): void; clean?: boolean }

export function installBackpressure(aedes: Aedes, o: BackpressureOptions): Backpressure {
  const consumers = new Set<string>();
  let total = 0;
  aedes.on('client', (client) => {
    const p = o.principalOf(client);
    const c = client as unknown as Drainable;
    if (p?.kind !== 'service' || c.clean !== false) return;
    consumers.add(client.id);
    // wait for 'drain' however long it takes; a socket that closes releases its waiting writes
    // (they stay in the session queue and are redelivered on the next connection)
    let pending: ((err: Error | null) => void)[] = [];
    const release = () => {
      const cbs = pending;
      pending = [];
      for (const cb of cbs) setImmediate(cb, null);
    };
    c.conn.once('close', release);
    c.waitForDrain = (cb) => {
      pending.push(cb);
      if (pending.length === 1) c.conn.once('drain', release);
    };
  });

  const over = (): boolean => {
    if (o.maxQueued <= 0) return false;
    for (const id of consumers) if ((queuedFor(aedes, id) ?? 0) > o.maxQueued) return true;
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
      if (!blocked || (h.client as unknown as { closed: boolean }).closed) {
        held.splice(i, 1);
        h.release();
      } else i++;
    }
    timer = held.length > 0 ? setTimeout(check, o.pollMs ?? 20) : undefined;
  };

  return {
    consumers,
    held: () => ({ now: held.length, total }),
    wrap: (authorize) => (client, packet, callback) => {
      authorize(client, packet, (err) => {
        if (err || !client || o.principalOf(client)?.kind === 'service' || !over()) return callback(err);
        total++;
        o.onHold?.(client.id);
        held.push({ client, release: () => callback(null) });
        timer ??= setTimeout(check, o.pollMs ?? 20);
      });
    },
  };
}
