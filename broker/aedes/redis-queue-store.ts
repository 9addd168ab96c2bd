/**
 * The durable store of the session queue (broker/aedes/session-queue.ts) in Redis: one hash per
 * persistent session, `sp:outq:<clientId>`, one field per queued packet. A field is named after the
 * message (`<brokerId>:<brokerCounter>`, `#<n>` for a second copy in the same session), so any broker
 * sharing the Redis finds and clears the entry another broker wrote; the record carries an enqueue
 * stamp that orders the replay. Packet ids are not stored (stored PUBRELs keep theirs).
 */
import type { Patch } from '../../core/dependency-patch.ts';
import type { DurableQueue, QueuedPacket } from './session-queue.ts';

export const REDIS_QUEUE_PATCH: Patch = {
  file: 'broker/aedes/redis-queue-store.ts',
  what: "our session queue in Redis instead of aedes-persistence-redis's",
  targets: [{ pkg: 'aedes-persistence-redis', version: '12.0.0', files: { 'asyncPersistence.js': 'aab2883e175dca86' } }],
};

/** The part of an ioredis connection the store uses. */
export interface RedisLike {
  hset(key: string, field: string, value: Buffer): Promise<number>;
  hdel(key: string, field: string): Promise<number>;
  hmgetBuffer(key: string, ...fields: string[]): Promise<(Buffer | null)[]>;
  hscanBuffer(key: string, cursor: string, count: 'COUNT', n: number): Promise<[Buffer, Buffer[]]>;
  pipeline(commands: (string | Buffer)[][]): { exec(): Promise<[Error | null, unknown][] | null> };
}

/** Prefix of the Redis hashes holding the session queues: `${prefix}${encodeURIComponent(clientId)}`. */
export const REDIS_QUEUE_PREFIX = 'sp:outq:';

/**
 * A record: 4-byte header length, JSON of every field but the payload (+ `$p`: 1 payload bytes,
 * 2 payload text, 0 none; `$t` the enqueue stamp), the payload bytes.
 */
export function encodePacket(p: QueuedPacket, stamp: string): Buffer {
  const { payload, ...rest } = p;
  const hasPayload = payload !== undefined && payload !== null;
  const head = Buffer.from(JSON.stringify({ ...rest, $p: hasPayload ? (typeof payload === 'string' ? 2 : 1) : 0, $t: stamp }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  const body = !hasPayload ? Buffer.alloc(0) : Buffer.isBuffer(payload) ? payload : Buffer.from(payload instanceof Uint8Array ? payload : String(payload));
  return Buffer.concat([len, head, body]);
}

export function decodePacket(buf: Buffer, withPayload: boolean): { packet: QueuedPacket; stamp: string } {
  const n = buf.readUInt32BE(0);
  const { $p, $t, ...packet } = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as QueuedPacket & { $p: number; $t?: string };
  if ($p && withPayload) packet.payload = $p === 2 ? buf.toString('utf8', 4 + n) : Buffer.from(buf.subarray(4 + n));
  return { packet, stamp: $t ?? '' };
}

/**
 * Enqueue stamps: start time and a counter of this process, fixed width so they sort as text.
 * Within one broker they follow enqueue order; across brokers, the order of their clocks.
 */
function stamper(): () => string {
  let last = 0;
  let seq = 0;
  return () => {
    const now = Date.now();
    if (now !== last) {
      last = now;
      seq = 0;
    }
    return `${now.toString(36).padStart(9, '0')}.${(seq++).toString(36).padStart(6, '0')}`;
  };
}

export function redisQueueStore(conn: RedisLike): DurableQueue {
  const hashKey = (clientId: string) => `${REDIS_QUEUE_PREFIX}${encodeURIComponent(clientId)}`;
  const stamp = stamper();
  return {
    recordName: (p, copy) => `${String(p.brokerId)}:${String(p.brokerCounter)}${copy > 1 ? `#${copy}` : ''}`,
    async load(clientId) {
      const rows = new Map<string, { field: string; packet: QueuedPacket; stub: boolean; stamp: string }>();
      let cursor = '0';
      do {
        const [next, kv] = await conn.hscanBuffer(hashKey(clientId), cursor, 'COUNT', 1000);
        cursor = next.toString();
        for (let i = 0; i + 1 < kv.length; i += 2) {
          const field = kv[i]!.toString();
          const head = decodePacket(kv[i + 1]!, false);
          // publish records: the payload stays in Redis; others (PUBREL) are held whole
          const stub = (head.packet.cmd ?? 'publish') === 'publish';
          rows.set(field, { field, packet: stub ? head.packet : decodePacket(kv[i + 1]!, true).packet, stub, stamp: head.stamp });
        }
      } while (cursor !== '0');
      const order = (a: { stamp: string; field: string }, b: { stamp: string; field: string }) =>
        a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.field < b.field ? -1 : a.field > b.field ? 1 : 0;
      return [...rows.values()].sort(order);
    },
    async write(items) {
      if (items.length === 1) {
        const it = items[0]!;
        await conn.hset(hashKey(it.clientId), it.field, encodePacket(it.packet, stamp()));
        return;
      }
      const res = await conn.pipeline(items.map((it) => ['hset', hashKey(it.clientId), it.field, encodePacket(it.packet, stamp())])).exec();
      const err = res?.find(([e]) => e)?.[0];
      if (err) throw err;
    },
    async remove(clientId, field) {
      await conn.hdel(hashKey(clientId), field);
    },
    async take(clientId, field) {
      const res = await conn.pipeline([['hgetBuffer', hashKey(clientId), field], ['hdel', hashKey(clientId), field]]).exec();
      const err = res?.find(([e]) => e)?.[0];
      if (err) throw err;
      const buf = res?.[0]?.[1] as Buffer | null | undefined;
      return buf ? decodePacket(buf, true).packet : null;
    },
    async fetch(clientId, fields) {
      const bufs = await conn.hmgetBuffer(hashKey(clientId), ...fields);
      return bufs.map((b) => (b ? decodePacket(b, true).packet : null));
    },
  };
}
