/**
 * Fix for QoS 1/2 message loss when a persistent session (clean=false) reconnects while
 * publishers keep sending. Targets aedes 1.2.0 with its default in-memory persistence
 * (aedes-persistence 11.0.0) — applySessionReplayFix — and, with the same rules and a durable
 * copy of every queued packet in Redis, aedes-persistence-redis 12.0.0 — applyRedisSessionQueue
 * (see REDIS below). Also here: holdDeliveriesUntilConnack (PUBLISH before CONNACK, both).
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
 * - Only the built-in memory persistence (applySessionReplayFix) and aedes-persistence-redis
 *   (applyRedisSessionQueue) are supported; the functions refuse others.
 *
 * REDIS (aedes-persistence-redis 12.0.0)
 * Its queue does not have the loss above: it is a list of `packet:<brokerId>:<counter>` keys and
 * a PUBACK is mapped to a key through an in-memory id -> key cache per client id that the last
 * send overwrites, so the new connection's PUBACK clears the new message (0 lost in the load test
 * of test/aedes-session-replay.test.ts with AEDES_SESSION_FIX=off). But:
 *   - a PUBACK for an id this connection was never sent clears whatever the client id last had
 *     under that id (the queue-rule test fails without our queue);
 *   - a delivery dropped without an id (duplicate, not authorized) stays queued (a duplicate later);
 *   - a reconnect replays only the first maxSessionDelivery + 1 = 1001 queued messages (the rest
 *     wait for the next reconnect), one Redis GET and one SET per message, in turn: a backlog of
 *     130,000 took ~210 s to replay (even with maxSessionDelivery -1); ours replays 100,000 in ~14 s;
 *   - every send rewrites the shared `packet:` record with this subscriber's id.
 * applyRedisSessionQueue therefore installs the queue above in Redis mode: the same in-memory
 * index and rules, plus one hash per session in Redis (`sp:outq:<clientId>`, field
 * `<start epoch>:<counter>` = the packet), written before the enqueue resolves and deleted when
 * acknowledged. Packet ids are not stored: after a restart every connection is new and entries
 * are replayed with fresh, unique ids (stored PUBRELs keep theirs). In memory it keeps ~500 B of
 * index per queued message and no payload; a replay reads payloads back 256 at a time.
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
import { finished, Readable } from 'node:stream';
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

/** A stored message: this broker's counter, or `${brokerId}\u0000${brokerCounter}` for another broker's. */
type MessageKey = number | string;
const EMPTY = Buffer.alloc(0);

interface Entry {
  packet: QueuedPacket;
  /** The stored message (MessageKey), null for bare PUBREL. */
  key: MessageKey | null;
  /** Serial of the connection that last wrote this entry (0 = never written). */
  sentOn: number;
  /** Durable (Redis) mode: the hash field that holds this entry; null = held in memory only. */
  field: string | null;
  /** Durable mode: the payload is not held in memory (packet is a stub); read it back to replay. */
  stub: boolean;
}

class SessionQueue {
  readonly entries = new Set<Entry>(); // insertion order = delivery order
  readonly byKey = new Map<MessageKey, Entry[]>();
  readonly byMid = new Map<number, Entry>(); // invariant: one entry per packet id
  /** message key -> connection serial that acked it (bounded), for live/replay overlap. */
  readonly recentlyAcked = new Map<MessageKey, number>();
  cursor = 1;
  /** Durable mode: pending load of the stored entries; null once loaded. */
  ready: Promise<void> | null = null;
}

const MAX_PACKET_ID = 65535;
const RECENT_ACKS = 4096;
const REPLAY_BATCH = 256;

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
 * Where a durable session queue keeps its entries (one record per queued packet, in order).
 * The index (which connection sent what under which id) stays in memory: after a restart every
 * connection is new and every entry is replayed with a fresh, unique id.
 */
interface DurableQueue {
  /** A new record name; names sort in enqueue order, across restarts too. */
  newField(): string;
  /** The stored records of a session in order; publish packets come back without payload (stubs). */
  load(clientId: string): Promise<{ field: string; packet: QueuedPacket; stub: boolean }[]>;
  write(items: { clientId: string; field: string; packet: QueuedPacket }[]): Promise<void>;
  remove(clientId: string, field: string): Promise<void>;
  /** Full packets of these records (null: record gone). */
  fetch(clientId: string, fields: string[]): Promise<(QueuedPacket | null)[]>;
}

function checkBroker(broker: Aedes, fn: string, persistenceName: string, what: string): PatchablePersistence {
  const internals = broker as unknown as { persistence?: PatchablePersistence; version?: string };
  const persistence = internals.persistence;
  if (!persistence || persistence.asyncPersistence?.constructor?.name !== persistenceName) {
    throw new Error(`${fn}: only ${what} is supported (call it after createBroker)`);
  }
  if (broker.connectedClients > 0) {
    throw new Error(`${fn}: must be applied before any client connects`);
  }
  if (internals.version !== SESSION_FIX_TARGET_AEDES_VERSION) {
    process.emitWarning(
      `${fn} targets aedes ${SESSION_FIX_TARGET_AEDES_VERSION}, running ${String(internals.version)}; ` +
        're-run test/repro/aedes-session-loss.ts without --fix to see whether it is still needed',
    );
  }
  return persistence;
}

/**
 * Replaces the outgoing session queue of `broker`'s built-in memory persistence with one that
 * cannot confuse packet ids across connections, closing the QoS 1/2 loss described above.
 *
 * Call it right after `await Aedes.createBroker(...)` and before the broker accepts
 * connections. Throws if a different persistence is configured or clients are connected.
 */
export function applySessionReplayFix(broker: Aedes): void {
  installSessionQueue(checkBroker(broker, 'applySessionReplayFix', 'MemoryPersistence', 'the built-in aedes memory persistence'), broker.id);
}

type Deliver = (packet: unknown, cb: () => void) => void;
interface ClientInternals { connackSent: boolean; closed: boolean; conn: NodeJS.ReadableStream; deliverQoS: Deliver; deliver0: Deliver }

/**
 * aedes 1.2.0 restores a resumed session's subscriptions (connect.js restoreSubs) BEFORE it
 * stores the will, registers the client and writes the CONNACK, so a live message can reach the
 * client before its CONNACK, against [MQTT-3.2.0-1]. mqtt.js then stalls: it cannot send the
 * PUBACK while not connected and reads nothing further, so it never sees the CONNACK and gives up
 * at its connect timeout (30 s). With the memory persistence the window is a few microtasks and
 * rarely hit; with Redis it spans several round trips and is hit on every reconnect under load.
 * This holds a connection's deliveries until its CONNACK has been written (or it closes), then
 * releases them in order. Wraps broker.handle: call before connections are handed to it.
 */
export function holdDeliveriesUntilConnack(broker: Aedes): void {
  const b = broker as unknown as { handle: (conn: unknown, req: unknown) => ClientInternals };
  const handle = b.handle;
  const waiting = new WeakMap<object, (() => void)[]>();
  const release = (client: object) => {
    const queue = waiting.get(client);
    if (!queue) return;
    waiting.delete(client);
    for (const send of queue) send();
  };
  broker.on('connackSent', (_packet, client) => release(client));
  b.handle = function (this: unknown, conn: unknown, req: unknown) {
    const client = handle.call(this, conn, req);
    for (const name of ['deliverQoS', 'deliver0'] as const) {
      const deliver = client[name];
      client[name] = (packet, cb) => {
        if (client.connackSent || client.closed) return deliver(packet, cb);
        let queue = waiting.get(client);
        if (!queue) {
          waiting.set(client, (queue = []));
          // a connection that ends before its CONNACK: let aedes fail the deliveries (it knows how)
          finished(client.conn, () => release(client));
        }
        queue.push(() => deliver(packet, cb));
      };
    }
    return client;
  };
}

/** Minimal view of the ioredis connection the durable queue uses. */
export interface RedisLike {
  hset(key: string, field: string, value: Buffer): Promise<number>;
  hdel(key: string, field: string): Promise<number>;
  hmgetBuffer(key: string, ...fields: string[]): Promise<(Buffer | null)[]>;
  hscanBuffer(key: string, cursor: string, count: 'COUNT', n: number): Promise<[Buffer, Buffer[]]>;
  pipeline(commands: (string | Buffer)[][]): { exec(): Promise<[Error | null, unknown][] | null> };
}

/** Prefix of the Redis hashes holding the session queues: `${prefix}${encodeURIComponent(clientId)}`. */
export const REDIS_QUEUE_PREFIX = 'sp:outq:';

/** Header length (4 bytes) + JSON of every field but the payload + the payload bytes. */
function encodePacket(p: QueuedPacket): Buffer {
  const { payload, ...rest } = p;
  const hasPayload = payload !== undefined && payload !== null;
  const head = Buffer.from(JSON.stringify({ ...rest, $p: hasPayload ? 1 : 0 }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  const body = !hasPayload ? Buffer.alloc(0) : Buffer.isBuffer(payload) ? payload : Buffer.from(payload instanceof Uint8Array ? payload : String(payload));
  return Buffer.concat([len, head, body]);
}
function decodePacket(buf: Buffer, withPayload: boolean): QueuedPacket {
  const n = buf.readUInt32BE(0);
  const { $p, ...packet } = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as QueuedPacket & { $p: number };
  if ($p && withPayload) packet.payload = Buffer.from(buf.subarray(4 + n));
  return packet;
}

/**
 * The same queue for aedes-persistence-redis, durable: every queued packet is a field of the Redis
 * hash `sp:outq:<clientId>` (written before the enqueue resolves, deleted when acknowledged), so a
 * broker restart loses nothing that was queued; packet ids and the per-connection bookkeeping stay
 * in memory, payloads are read back from Redis only to replay them. `epoch` must grow with every
 * start (an INCR in Redis): record names are `<epoch>:<counter>` and sort in enqueue order.
 *
 * Replaces only the five outgoing-queue methods; subscriptions, retained messages, wills and the
 * incoming QoS 2 store stay aedes-persistence-redis'. Its own outgoing keys (`outgoing:*`,
 * `packet:*`) are then never written.
 */
export function applyRedisSessionQueue(broker: Aedes, conn: RedisLike, opts: { epoch: number }): void {
  const persistence = checkBroker(broker, 'applyRedisSessionQueue', 'AsyncRedisPersistence', 'aedes-persistence-redis');
  const hashKey = (clientId: string) => `${REDIS_QUEUE_PREFIX}${encodeURIComponent(clientId)}`;
  const epoch = opts.epoch.toString(36).padStart(8, '0');
  let counter = 0;
  installSessionQueue(persistence, broker.id, {
    newField: () => `${epoch}:${(++counter).toString(36).padStart(10, '0')}`,
    async load(clientId) {
      const rows = new Map<string, { field: string; packet: QueuedPacket; stub: boolean }>();
      let cursor = '0';
      do {
        const [next, kv] = await conn.hscanBuffer(hashKey(clientId), cursor, 'COUNT', 1000);
        cursor = next.toString();
        for (let i = 0; i + 1 < kv.length; i += 2) {
          const field = kv[i]!.toString();
          const head = decodePacket(kv[i + 1]!, false);
          // publish records: payload stays in Redis; others (PUBREL) are held whole
          const stub = (head.cmd ?? 'publish') === 'publish';
          rows.set(field, { field, packet: stub ? head : decodePacket(kv[i + 1]!, true), stub });
        }
      } while (cursor !== '0');
      return [...rows.values()].sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
    },
    async write(items) {
      if (items.length === 1) {
        const it = items[0]!;
        await conn.hset(hashKey(it.clientId), it.field, encodePacket(it.packet));
        return;
      }
      const res = await conn.pipeline(items.map((it) => ['hset', hashKey(it.clientId), it.field, encodePacket(it.packet)])).exec();
      const err = res?.find(([e]) => e)?.[0];
      if (err) throw err;
    },
    async remove(clientId, field) {
      await conn.hdel(hashKey(clientId), field);
    },
    async fetch(clientId, fields) {
      const bufs = await conn.hmgetBuffer(hashKey(clientId), ...fields);
      return bufs.map((b) => (b ? decodePacket(b, true) : null));
    },
  });
}

/** Messages in a session's queue (queued while away, or sent and not yet acknowledged); undefined without our queue. */
export function queuedFor(broker: Aedes, clientId: string): number | undefined {
  const q = (broker as unknown as { persistence: { spQueued?: (id: string) => number } }).persistence.spQueued;
  return q?.(clientId);
}

/**
 * Hot path (three calls per message per persistent subscriber): the entry of a stored packet and
 * the serial of a connection live in symbol properties (not WeakMaps: cheaper to read and to
 * collect), messages of this broker are keyed by their counter (a number), and a call answered
 * synchronously completes on process.nextTick without a Promise.
 */
const ENTRY = Symbol('sp.sessionQueue.entry');
const SERIAL = Symbol('sp.sessionQueue.connection');
type Tagged = { [ENTRY]?: Entry; [SERIAL]?: number };

function installSessionQueue(persistence: PatchablePersistence, localBrokerId: string, durable?: DurableQueue): void {
  const sessions = new Map<string, SessionQueue>();
  (persistence as unknown as { spQueued: (id: string) => number }).spQueued = (id) => sessions.get(id)?.entries.size ?? 0;
  // stored packet object -> its entry (symbol property, see above)
  const entryOfStored = {
    get: (p: object): Entry | undefined => (p as Tagged)[ENTRY],
    // not enumerable: a spread copy of a stored packet must not pass for it
    set: (p: object, e: Entry): void => { Object.defineProperty(p, ENTRY, { value: e, writable: true, configurable: true, enumerable: false }); },
  };
  let nextSerial = 1;

  const serialOf = (client: Client): number => {
    const c = client as unknown as Tagged;
    let s = c[SERIAL];
    if (s === undefined) c[SERIAL] = s = nextSerial++;
    return s;
  };
  const isConnection = (client: Client): boolean => typeof client.conn === 'object' && client.conn !== null;
  const session = (clientId: string): SessionQueue => {
    let s = sessions.get(clientId);
    if (!s) {
      const created = new SessionQueue();
      sessions.set(clientId, (s = created));
      if (durable) {
        created.ready = durable.load(clientId).then((rows) => {
          for (const r of rows) index(created, { packet: r.packet, key: keyOf(r.packet), sentOn: 0, field: r.field, stub: r.stub });
          created.ready = null;
        }, (err: Error) => {
          sessions.delete(clientId); // the next operation tries again
          throw err;
        });
      }
    }
    return s;
  };
  /** Runs fn on the session once its stored entries are loaded (at once when they are). */
  const withSession = <T>(clientId: string, fn: (s: SessionQueue) => T | Promise<T>): T | Promise<T> => {
    const s = session(clientId);
    return s.ready ? s.ready.then(() => fn(s)) : fn(s);
  };
  const keyOf = (p: QueuedPacket): MessageKey | null =>
    p.brokerId === localBrokerId && typeof p.brokerCounter === 'number'
      ? p.brokerCounter // this broker's messages: the counter alone (a number, cheap to hash)
      : p.brokerId !== undefined && p.brokerId !== null && p.brokerCounter !== undefined
        ? `${p.brokerId}\u0000${p.brokerCounter}`
        : null;

  /** Stored copy shaped like aedes-packet's Packet; QoS>0 publishes lose their wire id. */
  const storedCopy = (p: QueuedPacket, keepId: boolean): QueuedPacket => {
    const copy: QueuedPacket = {
      cmd: p.cmd ?? 'publish', brokerId: p.brokerId, brokerCounter: p.brokerCounter, topic: p.topic,
      payload: p.payload ?? EMPTY, qos: p.qos ?? 0, retain: p.retain ?? false, dup: p.dup ?? false,
      messageId: keepId ? p.messageId : undefined,
    };
    if (p.clientId !== undefined) copy.clientId = p.clientId;
    if (p.nl !== undefined) copy.nl = p.nl;
    if (p.properties !== undefined) copy.properties = p.properties;
    if (p.messageExpiry !== undefined) copy.messageExpiry = p.messageExpiry;
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

  /** Adds the packet to each session's queue; durable: resolves once every record is stored. */
  const enqueue = (clientIds: string[], packet: QueuedPacket): void | Promise<void> => {
    const keepId = !((packet.qos ?? 0) > 0 || (packet.cmd ?? 'publish') !== 'publish');
    const added: { clientId: string; field: string; packet: QueuedPacket; entry: Entry }[] = [];
    const add = (clientId: string) => (s: SessionQueue): void => {
      const stored = storedCopy(packet, keepId);
      const field = durable ? durable.newField() : null;
      const entry: Entry = { packet: stored, key: keyOf(stored), sentOn: 0, field, stub: false };
      index(s, entry);
      if (field) added.push({ clientId, field, packet: stored, entry });
    };
    const pending = clientIds.map((id) => withSession(id, add(id))).filter((r): r is Promise<void> => r instanceof Promise);
    if (!durable) return;
    const store = async () => {
      await Promise.all(pending);
      if (added.length === 0) return;
      await durable.write(added);
      for (const { entry, packet: stored } of added) {
        // stored: keep only a stub in memory (the payload is read back from Redis to replay)
        if (entry.packet !== stored || (stored.cmd ?? 'publish') !== 'publish') continue;
        // what the queue logic reads (ids, message key) and aedes' 'ack' event gets; ~500 B a message
        const stub: QueuedPacket = {
          cmd: stored.cmd, topic: stored.topic, qos: stored.qos, brokerId: stored.brokerId, brokerCounter: stored.brokerCounter,
          messageId: stored.messageId,
        };
        entry.packet = stub;
        entry.stub = true;
        entryOfStored.set(stub, entry);
      }
    };
    return store();
  };

  const update = (client: Client, packet: QueuedPacket): void | Promise<void> => withSession<void>(client.id, (s) => {
    const conn = serialOf(client);
    const key = keyOf(packet);
    const candidates = key ? s.byKey.get(key) : undefined;
    let e: Entry | undefined;
    if (candidates && candidates.length > 0) {
      if (packet.messageId !== undefined) for (const c of candidates) if (c.packet.messageId === packet.messageId) { e = c; break; }
      if (!e) for (const c of candidates) if (c.sentOn !== conn) { e = c; break; }
      e ??= candidates[0];
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
      byId.stub = false;
      byId.key = keyOf(packet);
      entryOfStored.set(packet, byId);
      if (byId.key) {
        const list = s.byKey.get(byId.key);
        if (list) list.push(byId);
        else s.byKey.set(byId.key, [byId]);
      }
      byId.sentOn = conn;
      // durable: the record now holds the PUBREL (with its id), so a restart resends PUBREL
      if (durable && byId.field) return durable.write([{ clientId: client.id, field: byId.field, packet }]);
      return;
    }
    if (key && s.recentlyAcked.get(key) === conn) {
      // Already delivered and acked on this connection, now sent again by the other path
      // (live vs replay). Track the duplicate rather than failing the whole connection.
      // (Durable mode: in memory only; after a restart this already-acked copy is not resent.)
      const revived: Entry = { packet: storedCopy(packet, false), key, sentOn: conn, field: null, stub: false };
      index(s, revived);
      packet.messageId = claimId(s, revived, packet.messageId);
      return;
    }
    throw new Error('no such packet');
  });

  const clear = (client: Client, packet: QueuedPacket): QueuedPacket | undefined | Promise<QueuedPacket | undefined> => withSession<QueuedPacket | undefined>(client.id, (s) => {
    const done = (e: Entry): QueuedPacket | Promise<QueuedPacket> => {
      remove(s, e);
      return durable && e.field ? durable.remove(client.id, e.field).then(() => e.packet) : e.packet;
    };
    // emptyOutgoingQueue() hands back the stored objects from outgoingStream(): exact match.
    const direct = entryOfStored.get(packet);
    if (direct && s.entries.has(direct)) return done(direct);
    if (packet.messageId === undefined || packet.messageId === null) {
      // aedes drops a delivery it will not forward (duplicate, not authorized, no-local): remove an
      // unsent copy of THAT message only (upstream removes the first unsent entry of any message).
      const key = keyOf(packet);
      const list = key ? s.byKey.get(key) : undefined;
      for (let i = (list?.length ?? 0) - 1; i >= 0; i--) {
        const c = list?.[i];
        if (c && c.packet.messageId === undefined) return done(c);
      }
      return undefined;
    }
    const e = s.byMid.get(packet.messageId);
    // An ack from a connection only counts for an id that connection was sent. (Direct API calls
    // with a bare { id } object, as in aedes' own tests, keep the upstream behaviour.)
    if (!e || (isConnection(client) && e.sentOn !== serialOf(client))) return undefined;
    if (e.key && (packet.cmd === 'puback' || packet.cmd === 'pubcomp')) {
      s.recentlyAcked.delete(e.key);
      s.recentlyAcked.set(e.key, e.sentOn);
      if (s.recentlyAcked.size > RECENT_ACKS) {
        const oldest = s.recentlyAcked.keys().next();
        if (!oldest.done) s.recentlyAcked.delete(oldest.value);
      }
    }
    return done(e);
  });

  const stream = (client: Client): Readable => {
    const s = durable ? session(client.id) : sessions.get(client.id);
    if (!s) return Readable.from([]);
    const conn = serialOf(client);
    // aedes' CONNECT replay (emptyQueue) runs while `connecting` is still set; emptyOutgoingQueue()
    // on an established connection must still see every entry
    const resuming = client.connecting === true && client.connected === false;
    const snapshot = s.ready ? undefined : [...s.entries];
    const pendingNow = (e: Entry) => s.entries.has(e) && !(resuming && e.sentOn === conn);
    if (!durable) {
      function* pending(): Generator<QueuedPacket> {
        for (const e of snapshot!) {
          if (!s!.entries.has(e)) continue; // acked meanwhile
          if (resuming && e.sentOn === conn) continue; // already sent on this connection
          yield e.packet;
        }
      }
      // highWaterMark 1: decide per entry as late as possible
      return Readable.from(pending(), { objectMode: true, highWaterMark: 1 });
    }
    const store = durable;
    async function* pendingDurable(): AsyncGenerator<QueuedPacket> {
      if (s!.ready) await s!.ready;
      const list = snapshot ?? [...s!.entries];
      for (let i = 0; i < list.length; i += REPLAY_BATCH) {
        const batch = list.slice(i, i + REPLAY_BATCH).filter(pendingNow);
        const stubs = batch.filter((e) => e.stub);
        const full = new Map<Entry, QueuedPacket>();
        if (stubs.length > 0) {
          const got = await store.fetch(client.id, stubs.map((e) => e.field!));
          stubs.forEach((e, k) => { const p = got[k]; if (p) full.set(e, p); });
        }
        for (const e of batch) {
          if (!pendingNow(e)) continue; // acked meanwhile, or sent on this connection meanwhile
          if (!e.stub) {
            yield e.packet;
            continue;
          }
          const p = full.get(e);
          if (!p) {
            remove(s!, e); // its record is gone (deleted from Redis by hand?): nothing to send
            continue;
          }
          // the id this entry was last sent with (if any): [MQTT-4.4.0-1]
          if (e.packet.messageId === undefined) delete p.messageId;
          else p.messageId = e.packet.messageId;
          entryOfStored.set(p, e);
          yield p;
        }
      }
    }
    return Readable.from(pendingDurable(), { objectMode: true, highWaterMark: 1 });
  };

  const settle = <T>(cb: Cb, fn: () => T | Promise<T>, cbArgs: (r: T) => unknown[]): Promise<T> | undefined => {
    if (!cb) return new Promise<T>((resolve) => resolve(fn()));
    let r: T | Promise<T>;
    try {
      r = fn();
    } catch (err) {
      process.nextTick(cb, err as Error);
      return undefined;
    }
    if (r instanceof Promise) r.then((v) => process.nextTick(() => cb(null, ...cbArgs(v))), (err: Error) => cb(err));
    else process.nextTick(() => cb(null, ...cbArgs(r as T)));
    return undefined;
  };

  Object.assign(persistence, {
    outgoingEnqueue: (sub: { clientId: string }, packet: QueuedPacket, cb?: Cb) =>
      settle(cb, () => enqueue([sub.clientId], packet), () => [packet]),
    outgoingEnqueueCombi: (subs: { clientId: string }[], packet: QueuedPacket, cb?: Cb) =>
      settle(cb, () => enqueue(subs.map((sub) => sub.clientId), packet), () => [packet]),
    outgoingUpdate: (client: Client, packet: QueuedPacket, cb?: Cb) =>
      settle(cb, () => update(client, packet), () => [client, packet]),
    outgoingClearMessageId: (client: Client, packet: QueuedPacket, cb?: Cb) =>
      settle(cb, () => clear(client, packet), (r) => [r]),
    outgoingStream: (client: Client) => stream(client),
  });
}
