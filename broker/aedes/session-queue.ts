/**
 * The outgoing queue of persistent sessions (clean=false), with the rules that close aedes 1.2.0's
 * session-replay loss (docs/aedes-patches.md, "Session replay confuses packet ids"):
 *   1. packet ids are unique within a session (a stale entry's id is never given to a new message);
 *   2. an acknowledgement clears only an entry sent on that connection under that id;
 *   3. an entry sent by both the live path and the replay on one connection keeps its id;
 *   4. the replay skips what is acknowledged meanwhile or already sent on the resumed connection;
 *   5. a clear without an id removes an unsent copy of that message only.
 * With a durable store (Redis) every entry is also a record there; a session's index is held only
 * while its client is connected to this broker and is loaded from the store at each CONNECT, so
 * several brokers can share one store. Without one (memory) the index is the queue.
 */
import { Readable } from 'node:stream';
import type { Client } from 'aedes';

import {
  entryOf, isConnection, isPublish, RECENT_ACKS, REPLAY_BATCH, SERIAL, Session, storedCopy, tag,
  type DurableQueue, type Entry, type MessageKey, type QueuedPacket, type Tagged,
} from './session.ts';

export type { DurableQueue, QueuedPacket } from './session.ts';

export class SessionQueues {
  private readonly sessions = new Map<string, Session>();
  /** Durable: entries queued here for a session not held in memory (what `queued` reports for it). */
  private readonly away = new Map<string, number>();
  /** Durable: record -> packet id it was last sent with, of sessions not held here (reused if they come back). */
  private readonly sentIds = new Map<string, Map<string, number>>();
  /**
   * Durable: per client, the completion of the last enqueue that had to wait for a load. Later
   * enqueues for that client complete after it, so aedes routes its messages in counter order (its
   * per-connection duplicate filter drops a message that arrives after a later one).
   */
  private readonly tails = new Map<string, Promise<void>>();
  private nextSerial = 1;

  constructor(private readonly localBrokerId: string, private readonly durable?: DurableQueue) {}

  /** Messages in a session's queue known to this broker (queued while away, or sent and not acknowledged). */
  queued(clientId: string): number {
    return this.sessions.get(clientId)?.entries.size ?? this.away.get(clientId) ?? 0;
  }

  /** Durable: (re)loads a session's index from the store (its client is connecting here). */
  attach(clientId: string): void {
    if (!this.durable) return;
    this.sessions.delete(clientId);
    this.session(clientId);
  }

  /** Durable: drops a session's index (its client left this broker); its records stay in the store. */
  detach(clientId: string): void {
    if (!this.durable) return;
    const s = this.sessions.get(clientId);
    if (!s) return;
    this.sessions.delete(clientId);
    this.away.set(clientId, s.entries.size);
    const ids = new Map<string, number>();
    for (const e of s.entries) if (e.field && e.sentOn !== 0 && e.packet.messageId !== undefined) ids.set(e.field, e.packet.messageId);
    if (ids.size > 0) this.sentIds.set(clientId, ids);
  }

  private serialOf(client: Client): number {
    const c = client as unknown as Tagged;
    let s = c[SERIAL];
    if (s === undefined) c[SERIAL] = s = this.nextSerial++;
    return s;
  }

  private session(clientId: string): Session {
    let s = this.sessions.get(clientId);
    if (s) return s;
    const created = new Session();
    this.sessions.set(clientId, (s = created));
    this.away.delete(clientId);
    if (this.durable) {
      const sentIds = this.sentIds.get(clientId);
      this.sentIds.delete(clientId);
      created.ready = this.durable.load(clientId).then((rows) => {
        for (const r of rows) {
          const e: Entry = { packet: r.packet, key: this.keyOf(r.packet), sentOn: 0, field: r.field, stub: r.stub };
          created.index(e);
          // a message this broker sent before the client left keeps its id [MQTT-4.4.0-1]
          const id = sentIds?.get(r.field);
          if (id !== undefined && r.packet.messageId === undefined) created.claimId(e, id);
        }
        created.ready = null;
      }, (err: Error) => {
        if (this.sessions.get(clientId) === created) this.sessions.delete(clientId); // the next operation tries again
        throw err;
      });
    }
    return s;
  }

  /** Runs fn on the session once its records are loaded (at once when they are); on the current one if it was reloaded meanwhile. */
  private withSession<T>(clientId: string, fn: (s: Session) => T | Promise<T>): T | Promise<T> {
    const s = this.session(clientId);
    return s.ready ? s.ready.then(() => this.withSession(clientId, fn)) : fn(s);
  }

  private keyOf(p: QueuedPacket): MessageKey | null {
    if (p.brokerId === this.localBrokerId && typeof p.brokerCounter === 'number') return p.brokerCounter;
    return p.brokerId !== undefined && p.brokerId !== null && p.brokerCounter !== undefined ? `${p.brokerId}\u0000${p.brokerCounter}` : null;
  }

  /** Adds the packet to each session's queue; durable: resolves once every record is stored. */
  enqueue(clientIds: string[], packet: QueuedPacket): void | Promise<void> {
    const keepId = !((packet.qos ?? 0) > 0 || !isPublish(packet));
    const durable = this.durable;
    if (!durable) {
      for (const id of clientIds) {
        const stored = storedCopy(packet, keepId);
        this.session(id).index({ packet: stored, key: this.keyOf(stored), sentOn: 0, field: null, stub: false });
      }
      return;
    }
    // Durable: a session not held here gets its record only, written at once, so that a load
    // started after this call (its client connecting) finds it.
    const copies = new Map<string, number>();
    const away: { clientId: string; field: string; packet: QueuedPacket }[] = [];
    const added: { clientId: string; field: string; packet: QueuedPacket; entry: Entry }[] = [];
    const pending: Promise<void>[] = [];
    for (const clientId of clientIds) {
      const copy = (copies.get(clientId) ?? 0) + 1;
      copies.set(clientId, copy);
      const stored = storedCopy(packet, keepId);
      const field = durable.recordName(stored, copy);
      const s = this.sessions.get(clientId);
      if (!s) {
        away.push({ clientId, field, packet: stored });
        this.away.set(clientId, (this.away.get(clientId) ?? 0) + 1);
        continue;
      }
      const add = (into: Session) => {
        const entry: Entry = { packet: stored, key: this.keyOf(stored), sentOn: 0, field, stub: false };
        into.index(entry);
        added.push({ clientId, field, packet: stored, entry });
      };
      // loading: add it once loaded, to the session held then (reloaded meanwhile: the new one)
      const addWhenLoaded = (at: Session): Promise<void> | void => {
        if (at.ready) return at.ready.then(() => {
          const now = this.sessions.get(clientId);
          if (now) return addWhenLoaded(now);
          this.away.set(clientId, (this.away.get(clientId) ?? 0) + 1);
          added.push({ clientId, field, packet: stored, entry: { packet: stored, key: null, sentOn: 0, field, stub: false } });
        });
        add(at);
      };
      if (s.ready) pending.push(addWhenLoaded(s) as Promise<void>);
      else add(s);
    }
    const writes: Promise<void>[] = [];
    if (away.length > 0) writes.push(durable.write(away));
    if (added.length > 0 && pending.length === 0) writes.push(this.storeAdded(added));
    else if (pending.length > 0) writes.push(Promise.all(pending).then(() => (added.length > 0 ? this.storeAdded(added) : undefined)));
    let tailed = false;
    for (const id of copies.keys()) {
      const tail = this.tails.get(id);
      if (tail) {
        writes.push(tail);
        tailed = true;
      }
    }
    const done = writes.length === 1 ? writes[0]! : Promise.all(writes).then(() => undefined);
    if (pending.length > 0 || tailed) {
      for (const id of copies.keys()) {
        this.tails.set(id, done);
        const clear = () => { if (this.tails.get(id) === done) this.tails.delete(id); };
        done.then(clear, clear);
      }
    }
    return done;
  }

  /** Writes the records of entries held here, then keeps only a stub of each in memory (~500 B). */
  private async storeAdded(added: { clientId: string; field: string; packet: QueuedPacket; entry: Entry }[]): Promise<void> {
    await this.durable!.write(added);
    for (const { entry, packet: stored } of added) {
      if (entry.packet !== stored || !isPublish(stored)) continue;
      // what the queue logic reads (ids, message key) and aedes' 'ack' event gets
      const stub: QueuedPacket = {
        cmd: stored.cmd, topic: stored.topic, qos: stored.qos, brokerId: stored.brokerId, brokerCounter: stored.brokerCounter,
        messageId: stored.messageId,
      };
      entry.packet = stub;
      entry.stub = true;
      tag(stub, entry);
    }
  }

  /** aedes is about to write `packet` to `client`: gives it a session-unique id, records the connection. */
  update(client: Client, packet: QueuedPacket): void | Promise<void> {
    return this.withSession<void>(client.id, (s) => this.updateIn(s, client, packet));
  }

  private updateIn(s: Session, client: Client, packet: QueuedPacket): void | Promise<void> {
    const conn = this.serialOf(client);
    const key = this.keyOf(packet);
    const candidates = key ? s.byKey.get(key) : undefined;
    let e: Entry | undefined;
    if (candidates && candidates.length > 0) {
      if (packet.messageId !== undefined) for (const c of candidates) if (c.packet.messageId === packet.messageId) { e = c; break; }
      if (!e) for (const c of candidates) if (c.sentOn !== conn) { e = c; break; }
      e ??= candidates[0];
    }
    if (e) {
      // sent again on the same connection (live + replay): reuse the id the client already has
      if (e.sentOn === conn && e.packet.messageId !== undefined) packet.messageId = e.packet.messageId;
      else packet.messageId = s.claimId(e, packet.messageId);
      e.sentOn = conn;
      return;
    }
    // A packet from another origin with the same id replaces the entry (PUBREL after PUBREC, and
    // replay of a stored PUBREL).
    const byId = packet.messageId !== undefined ? s.byMid.get(packet.messageId) : undefined;
    if (byId && byId.packet.brokerId !== packet.brokerId) {
      // a PUBREC may only act on a message this very connection delivered
      if (packet.brokerId === undefined && byId.sentOn !== conn) throw new Error('no such packet');
      s.unindexKey(byId);
      byId.packet = packet;
      byId.stub = false;
      byId.key = this.keyOf(packet);
      tag(packet, byId);
      if (byId.key) s.indexKey(byId);
      byId.sentOn = conn;
      // durable: the record now holds the PUBREL (with its id), so a restart resends PUBREL
      if (this.durable && byId.field) return this.durable.write([{ clientId: client.id, field: byId.field, packet }]);
      return;
    }
    if (key && s.recentlyAcked.get(key) === conn) {
      // Already delivered and acked on this connection, now sent again by the other path (live vs
      // replay): track the duplicate (in memory only) rather than failing the connection.
      const revived: Entry = { packet: storedCopy(packet, false), key, sentOn: conn, field: null, stub: false };
      s.index(revived);
      packet.messageId = s.claimId(revived, packet.messageId);
      return;
    }
    throw new Error('no such packet');
  }

  /** A PUBACK/PUBCOMP, or a delivery aedes drops: removes the entry it stands for (if any). */
  clear(client: Client, packet: QueuedPacket): QueuedPacket | undefined | Promise<QueuedPacket | undefined> {
    return this.withSession<QueuedPacket | undefined>(client.id, (s) => this.clearIn(s, client, packet));
  }

  private clearIn(s: Session, client: Client, packet: QueuedPacket): QueuedPacket | undefined | Promise<QueuedPacket> {
    // what was removed, whole: aedes emits it as 'ack'; a stub's payload is read back as the record goes
    const done = (e: Entry, whole: QueuedPacket = e.packet): QueuedPacket | Promise<QueuedPacket> => {
      s.remove(e);
      const durable = this.durable;
      if (!durable || !e.field) return whole;
      if (!e.stub || whole !== e.packet) return durable.remove(client.id, e.field).then(() => whole);
      return durable.take(client.id, e.field).then((p) => {
        if (!p) return e.packet;
        p.messageId = e.packet.messageId;
        return p;
      });
    };
    // the replay (emptyQueue) hands back the very objects outgoingStream gave it
    const direct = entryOf(packet);
    if (direct && s.entries.has(direct)) return done(direct, packet);
    if (packet.messageId === undefined || packet.messageId === null) {
      // a delivery aedes will not forward (duplicate, not authorized, no-local): an unsent copy of THAT message
      const key = this.keyOf(packet);
      const list = key ? s.byKey.get(key) : undefined;
      for (let i = (list?.length ?? 0) - 1; i >= 0; i--) {
        const c = list?.[i];
        if (c && c.packet.messageId === undefined) return done(c);
      }
      return undefined;
    }
    const e = s.byMid.get(packet.messageId);
    // an ack from a connection counts only for an id that connection was sent (direct calls with a
    // bare { id } client, as in aedes' own tests, keep the upstream behaviour)
    if (!e || (isConnection(client) && e.sentOn !== this.serialOf(client))) return undefined;
    if (e.key && (packet.cmd === 'puback' || packet.cmd === 'pubcomp')) {
      s.recentlyAcked.delete(e.key);
      s.recentlyAcked.set(e.key, e.sentOn);
      if (s.recentlyAcked.size > RECENT_ACKS) {
        const oldest = s.recentlyAcked.keys().next();
        if (!oldest.done) s.recentlyAcked.delete(oldest.value);
      }
    }
    return done(e);
  }

  /** What to (re)send to `client`, in order, decided per entry as late as possible. */
  stream(client: Client): Readable {
    const durable = this.durable;
    const s = durable ? this.session(client.id) : this.sessions.get(client.id);
    if (!s) return Readable.from([]);
    const conn = this.serialOf(client);
    // aedes' CONNECT replay runs while `connecting` is still set; emptyOutgoingQueue() on an
    // established connection must still see every entry
    const resuming = client.connecting === true && client.connected === false;
    const snapshot = s.ready ? undefined : [...s.entries];
    const pendingNow = (e: Entry) => s.entries.has(e) && !(resuming && e.sentOn === conn);
    if (!durable) {
      function* pending(): Generator<QueuedPacket> {
        for (const e of snapshot!) if (pendingNow(e)) yield e.packet;
      }
      return Readable.from(pending(), { objectMode: true, highWaterMark: 1 });
    }
    const session = s;
    const remove = (e: Entry) => session.remove(e);
    async function* pendingDurable(): AsyncGenerator<QueuedPacket> {
      if (session.ready) await session.ready;
      const list = snapshot ?? [...session.entries];
      for (let i = 0; i < list.length; i += REPLAY_BATCH) {
        const batch = list.slice(i, i + REPLAY_BATCH).filter(pendingNow);
        const stubs = batch.filter((e) => e.stub);
        const full = new Map<Entry, QueuedPacket>();
        if (stubs.length > 0) {
          const got = await durable!.fetch(client.id, stubs.map((e) => e.field!));
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
            remove(e); // its record is gone (acked through another broker, or deleted by hand)
            continue;
          }
          // the id this entry was last sent with (if any): [MQTT-4.4.0-1]
          p.messageId = e.packet.messageId;
          tag(p, e);
          yield p;
        }
      }
    }
    return Readable.from(pendingDurable(), { objectMode: true, highWaterMark: 1 });
  }
}
