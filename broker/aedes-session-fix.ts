/**
 * Fix for QoS 1/2 message loss when a persistent session (clean=false) reconnects while
 * publishers keep sending. Targets aedes 1.2.0 with its default in-memory persistence
 * (aedes-persistence 11.0.0).
 *
 * ROOT CAUSE
 * The outgoing queue of a session is a list of packets. PUBACK/PUBCOMP remove an entry by
 * packet id alone, taking the FIRST entry with that id
 * (aedes-persistence/asyncPersistence.js outgoingClearMessageId, l.258-269, called from
 * aedes/lib/handlers/puback.js l.7). Packet ids come from a counter owned by the Client
 * object, which starts at a random value for every connection (aedes/lib/client.js l.41,
 * used in lib/qos-packet.js). Nothing checks that a new id is free in the session queue.
 *
 * When the subscriber drops, its unacked messages stay queued with the ids the OLD
 * connection gave them. On reconnect, restoreSubs (lib/handlers/connect.js l.203) turns
 * live delivery back on BEFORE emptyQueue (l.248-270) replays the queue. Live messages
 * get ids from the NEW counter (client.js deliverQoS l.128-152, then asyncPersistence.js
 * outgoingUpdate l.231-256). Those ids can match ids still held by stale entries that have not been
 * replayed yet. The chance is high: aedes has no inflight window, so thousands of ids
 * can be outstanding. The client then PUBACKs id X for the live message, and
 * outgoingClearMessageId removes the stale entry with id X, which was never delivered.
 * If that PUBACK arrives before emptyQueue takes its snapshot, the message disappears
 * silently. If it arrives later, the replay reaches the entry and outgoingUpdate throws
 * "no such packet": emptyQueue emits a client error (the connection is dropped) and skips
 * the message. Either way the live message keeps its entry and is sent again later (a
 * duplicate). This is the loss + "no such packet" + duplicates pattern measured by
 * test/repro/aedes-session-loss.ts. Tracing confirmed that every lost message had been
 * removed by a PUBACK from a connection that never received it.
 * Related: when aedes decides not to forward a delivery (duplicate, not authorized,
 * no-local), client.js l.153-155 calls outgoingClearMessageId with NO packet id. The memory
 * persistence then removes the first entry without an id, which can be any not-yet-sent
 * message (see moscajs/aedes#543, overlapping subscriptions).
 *
 * THE FIX
 * applySessionReplayFix() replaces only the five outgoing-queue methods of the broker's
 * memory persistence (enqueue, enqueueCombi, update, clearMessageId, stream) with our own
 * indexed queue. That queue:
 *   1. keeps packet ids unique within a session. If the id aedes picked is held by another
 *      queued entry (a stale one), outgoingUpdate gives the packet a free id. It receives
 *      the exact object that aedes writes next, so changing the id there is safe. Stale
 *      entries keep their original ids on replay, as [MQTT-4.4.0-1] requires.
 *   2. records which connection (Client object) last sent each entry. A PUBACK/PUBCOMP
 *      from a connection clears only an entry sent on that connection with that id. An ack
 *      for an id this connection was never sent is ignored: at worst a redelivery, never
 *      a loss.
 *   3. handles an entry sent by both the live path and the replay on one connection. It
 *      reuses the id, and if the entry was already acked it re-queues a tracked duplicate.
 *      Throwing "no such packet" would drop the connection.
 *   4. reads the replay snapshot lazily and skips entries that are already acked, or that
 *      were already sent on the connection being resumed.
 *   5. on a clear without an id, removes an unsent copy of THAT message only.
 * Everything else (subscriptions, retained, wills, incoming QoS 2) stays in the original
 * persistence. With the patch installed, aedes 1.2.0's own test files (test/*.js) and
 * aedes-persistence's abstract suite still pass.
 *
 * NOT COVERED
 * - The queue lives in memory, as upstream's does: a broker restart loses everything
 *   queued. A broker crash after PUBACKing a publisher and before delivery loses it too.
 * - Uniqueness needs fewer than 65535 unacked messages per session. aedes has no inflight
 *   window and gives an id to every queued message it replays. Above that limit, delivery
 *   fails with an error and a reconnect (the message stays queued). Upstream reuses ids
 *   silently in that case.
 * - aedes does not queue retained messages sent on SUBSCRIBE to clean=false clients, so
 *   their ids are not tracked. The same goes for an id acked twice, from a live + replay
 *   double send. In rare cases either can clear a queued entry that has been written
 *   but not yet acked. That entry is lost only if the connection also drops before it
 *   arrives.
 * - QoS 2 needs the subscriber to keep its own incoming state across restarts too. An
 *   mqtt.js client that restarts with the default in-memory store loses messages for
 *   which it had already sent PUBREC. That loss is on the client side.
 * - Only the built-in memory persistence is supported; the function refuses others.
 *
 * WHEN TO DROP THIS
 * No upstream issue for this race was found. The nearest is moscajs/aedes#543 (open,
 * undefined-id clear). Older "no such packet" reports are #24, #83 and #87. After an
 * aedes or aedes-persistence upgrade (applySessionReplayFix warns if the aedes version is
 * not 1.2.0), run
 *   AEDES_SESSION_FIX=off npx vitest run test/aedes-session-replay.test.ts
 *   node --import tsx test/repro/aedes-session-loss.ts --inproc --trials 5 --pubs 10 \
 *     --window 100 --kill-every-ms 150 --kills 100 --stall-ms 100 --down-ms 0
 * If both show no loss, upstream has fixed it and this file can go. Upstream code would
 * then clear outgoing entries by connection + id rather than by id alone, or pick new ids
 * that avoid those still queued.
 */
import { Readable } from 'node:stream';
import type { Aedes, Client } from 'aedes';

export const SESSION_FIX_TARGET_AEDES_VERSION = '1.2.0';

/** Shape of the packets aedes stores in / passes to the outgoing queue. */
interface QueuedPacket {
  cmd?: string;
  qos?: number;
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  [field: string]: unknown;
}

interface Entry {
  packet: QueuedPacket;
  /** `${brokerId}\u0000${brokerCounter}` of the stored message, null for bare PUBREL. */
  key: string | null;
  /** Serial of the connection that last wrote this entry (0 = never written). */
  sentOn: number;
}

class SessionQueue {
  readonly entries = new Set<Entry>(); // insertion order = delivery order
  readonly byKey = new Map<string, Entry[]>();
  readonly byMid = new Map<number, Entry>(); // invariant: one entry per packet id
  /** message key -> connection serial that acked it (bounded), for live/replay overlap. */
  readonly recentlyAcked = new Map<string, number>();
  cursor = 1;
}

const MAX_PACKET_ID = 65535;
const RECENT_ACKS = 4096;

type Cb = ((err: Error | null, ...rest: unknown[]) => void) | undefined;

/** Minimal view of the persistence object aedes 1.2.0 installs as `broker.persistence`. */
interface PatchablePersistence {
  asyncPersistence?: { constructor?: { name?: string } };
  outgoingEnqueue: unknown;
  outgoingEnqueueCombi: unknown;
  outgoingUpdate: unknown;
  outgoingClearMessageId: unknown;
  outgoingStream: unknown;
}

/**
 * Replaces the outgoing session queue of `broker`'s built-in memory persistence with one that
 * cannot confuse packet ids across connections, closing the QoS 1/2 loss described above.
 *
 * Call it right after `await Aedes.createBroker(...)` and before the broker accepts
 * connections. Throws if a different persistence is configured or clients are connected.
 */
export function applySessionReplayFix(broker: Aedes): void {
  const internals = broker as unknown as { persistence?: PatchablePersistence; version?: string };
  const persistence = internals.persistence;
  if (!persistence || persistence.asyncPersistence?.constructor?.name !== 'MemoryPersistence') {
    throw new Error('applySessionReplayFix: only the built-in aedes memory persistence is supported (call it after createBroker)');
  }
  if (broker.connectedClients > 0) {
    throw new Error('applySessionReplayFix: must be applied before any client connects');
  }
  if (internals.version !== SESSION_FIX_TARGET_AEDES_VERSION) {
    process.emitWarning(
      `applySessionReplayFix targets aedes ${SESSION_FIX_TARGET_AEDES_VERSION}, running ${String(internals.version)}; ` +
        're-run test/repro/aedes-session-loss.ts without --fix to see whether it is still needed',
    );
  }

  const sessions = new Map<string, SessionQueue>();
  const entryOfStored = new WeakMap<object, Entry>(); // stored packet object -> its entry
  const connSerial = new WeakMap<object, number>(); // Client object -> connection serial
  let nextSerial = 1;

  const serialOf = (client: Client): number => {
    let s = connSerial.get(client);
    if (s === undefined) connSerial.set(client, (s = nextSerial++));
    return s;
  };
  const isConnection = (client: Client): boolean => typeof client.conn === 'object' && client.conn !== null;
  const session = (clientId: string): SessionQueue => {
    let s = sessions.get(clientId);
    if (!s) sessions.set(clientId, (s = new SessionQueue()));
    return s;
  };
  const keyOf = (p: QueuedPacket): string | null =>
    p.brokerId !== undefined && p.brokerId !== null && p.brokerCounter !== undefined
      ? `${p.brokerId}\u0000${p.brokerCounter}`
      : null;

  /** Stored copy shaped like aedes-packet's Packet; QoS>0 publishes lose their wire id. */
  const storedCopy = (p: QueuedPacket, keepId: boolean): QueuedPacket => {
    const copy: QueuedPacket = {};
    for (const f of ['clientId', 'nl', 'properties', 'messageExpiry']) {
      if (Object.prototype.hasOwnProperty.call(p, f)) copy[f] = p[f];
    }
    Object.assign(copy, {
      cmd: p.cmd ?? 'publish', brokerId: p.brokerId, brokerCounter: p.brokerCounter, topic: p.topic,
      payload: p.payload ?? Buffer.alloc(0), qos: p.qos ?? 0, retain: p.retain ?? false, dup: p.dup ?? false,
      messageId: keepId ? p.messageId : undefined,
    });
    return copy;
  };

  const index = (s: SessionQueue, e: Entry): void => {
    s.entries.add(e);
    entryOfStored.set(e.packet, e);
    if (e.key) {
      const list = s.byKey.get(e.key);
      if (list) list.push(e);
      else s.byKey.set(e.key, [e]);
    }
    if (e.packet.messageId !== undefined) s.byMid.set(e.packet.messageId, e);
  };
  const unindexKey = (s: SessionQueue, e: Entry): void => {
    if (!e.key) return;
    const list = s.byKey.get(e.key);
    if (!list) return;
    const i = list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) s.byKey.delete(e.key);
  };
  const remove = (s: SessionQueue, e: Entry): void => {
    s.entries.delete(e);
    unindexKey(s, e);
    const id = e.packet.messageId;
    if (id !== undefined && s.byMid.get(id) === e) s.byMid.delete(id);
  };
  const setId = (s: SessionQueue, e: Entry, id: number): void => {
    const old = e.packet.messageId;
    if (old !== undefined && s.byMid.get(old) === e) s.byMid.delete(old);
    e.packet.messageId = id;
    s.byMid.set(id, e);
  };
  /** A packet id not held by any queued entry of this session. */
  const freeId = (s: SessionQueue): number => {
    for (let n = 0; n < MAX_PACKET_ID; n++) {
      const id = s.cursor;
      s.cursor = id >= MAX_PACKET_ID ? 1 : id + 1;
      if (!s.byMid.has(id)) return id;
    }
    throw new Error('no free packet identifier: 65535 messages in flight for this session');
  };
  /** `wanted` if free (or already ours), otherwise a free id. */
  const claimId = (s: SessionQueue, e: Entry, wanted: number | undefined): number => {
    const holder = wanted === undefined ? undefined : s.byMid.get(wanted);
    const id = wanted !== undefined && (holder === undefined || holder === e) ? wanted : freeId(s);
    setId(s, e, id);
    return id;
  };

  const enqueue = (clientId: string, packet: QueuedPacket): void => {
    const stored = storedCopy(packet, !((packet.qos ?? 0) > 0 || (packet.cmd ?? 'publish') !== 'publish'));
    index(session(clientId), { packet: stored, key: keyOf(stored), sentOn: 0 });
  };

  const update = (client: Client, packet: QueuedPacket): void => {
    const s = session(client.id);
    const conn = serialOf(client);
    const key = keyOf(packet);
    const candidates = key ? s.byKey.get(key) : undefined;
    let e: Entry | undefined;
    if (candidates && candidates.length > 0) {
      e =
        candidates.find((c) => packet.messageId !== undefined && c.packet.messageId === packet.messageId) ??
        candidates.find((c) => c.sentOn !== conn) ??
        candidates[0];
    }
    if (e) {
      if (e.sentOn === conn && e.packet.messageId !== undefined) {
        // Sent again on the same connection (live + replay): reuse the id the client already has.
        packet.messageId = e.packet.messageId;
      } else {
        packet.messageId = claimId(s, e, packet.messageId);
      }
      e.sentOn = conn;
      return;
    }
    // Upstream's second rule: a packet from another origin with the same id replaces the entry
    // (PUBREL after PUBREC, and replay of a stored PUBREL).
    const byId = packet.messageId !== undefined ? s.byMid.get(packet.messageId) : undefined;
    if (byId && byId.packet.brokerId !== packet.brokerId) {
      // A PUBREC may only act on a message this very connection delivered.
      if (packet.brokerId === undefined && byId.sentOn !== conn) throw new Error('no such packet');
      unindexKey(s, byId);
      byId.packet = packet;
      byId.key = keyOf(packet);
      entryOfStored.set(packet, byId);
      if (byId.key) {
        const list = s.byKey.get(byId.key);
        if (list) list.push(byId);
        else s.byKey.set(byId.key, [byId]);
      }
      byId.sentOn = conn;
      return;
    }
    if (key && s.recentlyAcked.get(key) === conn) {
      // Already delivered and acked on this connection, now sent again by the other path
      // (live vs replay). Track the duplicate rather than failing the whole connection.
      const revived: Entry = { packet: storedCopy(packet, false), key, sentOn: conn };
      index(s, revived);
      packet.messageId = claimId(s, revived, packet.messageId);
      return;
    }
    throw new Error('no such packet');
  };

  const clear = (client: Client, packet: QueuedPacket): QueuedPacket | undefined => {
    const s = sessions.get(client.id);
    if (!s) return undefined;
    // emptyOutgoingQueue() hands back the stored objects from outgoingStream(): exact match.
    const direct = entryOfStored.get(packet);
    if (direct && s.entries.has(direct)) {
      remove(s, direct);
      return direct.packet;
    }
    if (packet.messageId === undefined || packet.messageId === null) {
      // aedes drops a delivery it will not forward (duplicate, not authorized, no-local): remove an
      // unsent copy of THAT message only (upstream removes the first unsent entry of any message).
      const key = keyOf(packet);
      const list = key ? s.byKey.get(key) : undefined;
      for (let i = (list?.length ?? 0) - 1; i >= 0; i--) {
        const c = list?.[i];
        if (c && c.packet.messageId === undefined) {
          remove(s, c);
          return c.packet;
        }
      }
      return undefined;
    }
    const e = s.byMid.get(packet.messageId);
    // An ack from a connection only counts for an id that connection was sent. (Direct API calls
    // with a bare { id } object, as in aedes' own tests, keep the upstream behaviour.)
    if (!e || (isConnection(client) && e.sentOn !== serialOf(client))) return undefined;
    remove(s, e);
    if (e.key && (packet.cmd === 'puback' || packet.cmd === 'pubcomp')) {
      s.recentlyAcked.delete(e.key);
      s.recentlyAcked.set(e.key, e.sentOn);
      if (s.recentlyAcked.size > RECENT_ACKS) {
        const oldest = s.recentlyAcked.keys().next();
        if (!oldest.done) s.recentlyAcked.delete(oldest.value);
      }
    }
    return e.packet;
  };

  const stream = (client: Client): Readable => {
    const s = sessions.get(client.id);
    if (!s) return Readable.from([]);
    const snapshot = [...s.entries];
    const conn = serialOf(client);
    // aedes' CONNECT replay (emptyQueue) runs while `connecting` is still set; emptyOutgoingQueue()
    // on an established connection must still see every entry
    const resuming = client.connecting === true && client.connected === false;
    function* pending(): Generator<QueuedPacket> {
      for (const e of snapshot) {
        if (!s!.entries.has(e)) continue; // acked meanwhile
        if (resuming && e.sentOn === conn) continue; // already sent on this connection
        yield e.packet;
      }
    }
    // highWaterMark 1: decide per entry as late as possible
    return Readable.from(pending(), { objectMode: true, highWaterMark: 1 });
  };

  const settle = <T>(cb: Cb, fn: () => T, cbArgs: (r: T) => unknown[]): Promise<T> | undefined => {
    const p = new Promise<T>((resolve) => resolve(fn()));
    if (!cb) return p;
    p.then((r) => process.nextTick(() => cb(null, ...cbArgs(r))), (err: Error) => cb(err));
    return undefined;
  };

  Object.assign(persistence, {
    outgoingEnqueue: (sub: { clientId: string }, packet: QueuedPacket, cb?: Cb) =>
      settle(cb, () => enqueue(sub.clientId, packet), () => [packet]),
    outgoingEnqueueCombi: (subs: { clientId: string }[], packet: QueuedPacket, cb?: Cb) =>
      settle(cb, () => subs.forEach((sub) => enqueue(sub.clientId, packet)), () => [packet]),
    outgoingUpdate: (client: Client, packet: QueuedPacket, cb?: Cb) =>
      settle(cb, () => update(client, packet), () => [client, packet]),
    outgoingClearMessageId: (client: Client, packet: QueuedPacket, cb?: Cb) =>
      settle(cb, () => clear(client, packet), (r) => [r]),
    outgoingStream: (client: Client) => stream(client),
  });
}
