/**
 * One persistent session's outgoing queue and its indexes (by message, by packet id), and the
 * shapes the queue stores: the building blocks of session-queue.ts.
 */
import type { Client } from 'aedes';

/** The packets aedes stores in, and passes to, the outgoing queue. */
export interface QueuedPacket {
  cmd?: string;
  qos?: number;
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  [field: string]: unknown;
}

/** Where a durable queue keeps one record per queued packet. */
export interface DurableQueue {
  /** Record name of an entry: derived from the message (brokerId, brokerCounter), so any broker finds it. */
  recordName(packet: QueuedPacket, copy: number): string;
  /** A session's records in enqueue order; publish packets come back without payload (stubs). */
  load(clientId: string): Promise<{ field: string; packet: QueuedPacket; stub: boolean }[]>;
  write(items: { clientId: string; field: string; packet: QueuedPacket }[]): Promise<void>;
  remove(clientId: string, field: string): Promise<void>;
  /** Removes a record and hands back its full packet (null: record gone). */
  take(clientId: string, field: string): Promise<QueuedPacket | null>;
  /** Full packets of these records (null: record gone). */
  fetch(clientId: string, fields: string[]): Promise<(QueuedPacket | null)[]>;
}

/** A stored message: this broker's counter, or `${brokerId}\u0000${brokerCounter}` for another broker's. */
export type MessageKey = number | string;

export interface Entry {
  packet: QueuedPacket;
  /** The stored message, null for a bare PUBREL. */
  key: MessageKey | null;
  /** Serial of the connection that last wrote this entry (0 = never written). */
  sentOn: number;
  /** Durable: the record holding this entry; null = in memory only. */
  field: string | null;
  /** Durable: the payload is not held in memory; read it back to replay. */
  stub: boolean;
}

export class Session {
  readonly entries = new Set<Entry>(); // insertion order = delivery order
  readonly byKey = new Map<MessageKey, Entry[]>();
  readonly byMid = new Map<number, Entry>(); // one entry per packet id
  /** message key -> serial of the connection that acked it (bounded), for live/replay overlap. */
  readonly recentlyAcked = new Map<MessageKey, number>();
  cursor = 1;
  /** Durable: pending load of the stored records; null once loaded. */
  ready: Promise<void> | null = null;

  index(e: Entry): void {
    this.entries.add(e);
    tag(e.packet, e);
    if (e.key) this.indexKey(e);
    if (e.packet.messageId !== undefined) this.byMid.set(e.packet.messageId, e);
  }
  indexKey(e: Entry): void {
    const list = this.byKey.get(e.key!);
    if (list) list.push(e);
    else this.byKey.set(e.key!, [e]);
  }
  unindexKey(e: Entry): void {
    if (!e.key) return;
    const list = this.byKey.get(e.key);
    if (!list) return;
    const i = list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(e.key);
  }
  remove(e: Entry): void {
    this.entries.delete(e);
    this.unindexKey(e);
    const id = e.packet.messageId;
    if (id !== undefined && this.byMid.get(id) === e) this.byMid.delete(id);
  }
  setId(e: Entry, id: number): void {
    const old = e.packet.messageId;
    if (old !== undefined && this.byMid.get(old) === e) this.byMid.delete(old);
    e.packet.messageId = id;
    this.byMid.set(id, e);
  }
  /** A packet id not held by any queued entry of this session. */
  freeId(): number {
    for (let n = 0; n < MAX_PACKET_ID; n++) {
      const id = this.cursor;
      this.cursor = id >= MAX_PACKET_ID ? 1 : id + 1;
      if (!this.byMid.has(id)) return id;
    }
    throw new Error('no free packet identifier: 65535 messages in flight for this session');
  }
  /** `wanted` if free (or already ours), otherwise a free id. */
  claimId(e: Entry, wanted: number | undefined): number {
    const holder = wanted === undefined ? undefined : this.byMid.get(wanted);
    const id = wanted !== undefined && (holder === undefined || holder === e) ? wanted : this.freeId();
    this.setId(e, id);
    return id;
  }
}

const EMPTY = Buffer.alloc(0);
const MAX_PACKET_ID = 65535;
export const RECENT_ACKS = 4096;
export const REPLAY_BATCH = 256;

// Hot path (three calls per message per persistent subscriber): a stored packet's entry and a
// connection's serial live in symbol properties (cheaper than WeakMaps to read and to collect).
const ENTRY = Symbol('sp.sessionQueue.entry');
export const SERIAL = Symbol('sp.sessionQueue.connection');
export type Tagged = { [ENTRY]?: Entry; [SERIAL]?: number };
export const entryOf = (p: object): Entry | undefined => (p as Tagged)[ENTRY];
// not enumerable: a spread copy of a stored packet must not pass for it
export const tag = (p: object, e: Entry): void => {
  Object.defineProperty(p, ENTRY, { value: e, writable: true, configurable: true, enumerable: false });
};
export const isConnection = (client: Client): boolean => typeof client.conn === 'object' && client.conn !== null;
export const isPublish = (p: QueuedPacket): boolean => (p.cmd ?? 'publish') === 'publish';

/** Stored copy shaped like aedes-packet's Packet; QoS>0 publishes lose their wire id. */
export function storedCopy(p: QueuedPacket, keepId: boolean): QueuedPacket {
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
}

