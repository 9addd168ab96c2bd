/**
 * Where the broker keeps its sessions: the persistence profile (MQTT_PERSISTENCE_URL).
 *
 *   ''                       memory (default): aedes' built-in in-memory persistence with our
 *                            session-replay fix (broker/aedes-session-fix.ts). Sessions survive
 *                            client reconnects, not a broker restart.
 *   redis://[user:pass@]host[:port][/db]   (rediss:// for TLS)
 *                            durable: aedes-persistence-redis (subscriptions, retained messages,
 *                            wills, QoS 2 state) with our outgoing session queue in Redis (see
 *                            broker/aedes-session-fix.ts, applyRedisSessionQueue), and QoS 1
 *                            PUBACKs sent only once the message is stored (ackAfterStore below).
 *
 * WHY ackAfterStore
 * aedes 1.2.0 writes the PUBACK of a QoS 1 PUBLISH first and only then runs broker.publish
 * (storeRetained -> enqueueOffline -> emit): lib/handlers/publish.js, enqueuePublish, case 1.
 * A broker killed between the two has acknowledged a message it never stored, whatever the
 * persistence. ackAfterStore runs the whole publish inside authorizePublish (which aedes awaits
 * before it writes the PUBACK) and turns the later broker.publish of that same packet object into
 * a no-op, so the PUBACK leaves only after the message is in every persistent session's queue
 * (and, with Redis `appendfsync always`, on Redis' disk). PUBACKs keep the order of the PUBLISHes
 * [MQTT-4.6.0-2]. A failed store closes the publisher's connection without a PUBACK: it resends.
 */
import { createRequire } from 'node:module';
import type { Aedes, AedesOptions, Client, PublishPacket } from 'aedes';
import { PlatformError } from '../core/errors.ts';
import { applyRedisSessionQueue, applySessionReplayFix, holdDeliveriesUntilConnack, type RedisLike } from './aedes-session-fix.ts';

export const PERSISTENCE_ENV = 'MQTT_PERSISTENCE_URL';

export type PersistenceProfile =
  | { kind: 'memory' }
  | { kind: 'redis'; host: string; port: number; db: number; username?: string; password?: string; tls: boolean; display: string };

const EXPECTED = 'expected empty (memory, the default) or redis://[user:password@]host[:port][/db] (rediss:// for TLS)';

/** Parses and validates MQTT_PERSISTENCE_URL; throws SP_ERR_CONFIG naming key, value and expectation. */
export function parsePersistenceUrl(raw: string): PersistenceProfile {
  if (raw === '' || raw === 'memory') return { kind: 'memory' };
  const bad = (why: string): never => {
    throw new PlatformError('SP_ERR_CONFIG', `${PERSISTENCE_ENV}=${JSON.stringify(redact(raw))}: ${why}; ${EXPECTED}`);
  };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return bad('not a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') bad(`unsupported scheme ${u.protocol}`);
  if (!u.hostname) bad('no host');
  const port = u.port === '' ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) bad(`port ${u.port} out of range 1-65535`);
  const path = u.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isInteger(db) || db < 0 || db > 100_000) bad(`database "${path}" is not a number`);
  if (u.search || u.hash) bad('query and fragment are not supported');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    kind: 'redis', host, port, db, tls: u.protocol === 'rediss:',
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    display: `${u.protocol}//${u.hostname}:${port}/${db}`,
  };
}

/** The URL with its password replaced by *** (for messages and logs). */
export function redact(raw: string): string {
  return raw.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

export interface OpenPersistence {
  kind: 'memory' | 'redis';
  /** Survives a broker restart. */
  durable: boolean;
  /** Printable, without credentials. */
  describe: string;
  /** What to pass to Aedes.createBroker. */
  aedesOptions: Partial<AedesOptions>;
  /** To call (and await) right after createBroker, before listening. */
  install(aedes: Aedes): void | Promise<void>;
  /** After aedes.close(): releases the connection. */
  close(): Promise<void>;
}

export interface PersistenceOpenOptions {
  onWarning?: (msg: string) => void;
  /** Give up reaching Redis at start after this long (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Our session queue fixes (default on). Off only to reproduce upstream's behaviour in
   * test/aedes-session-replay.test.ts (AEDES_SESSION_FIX=off).
   */
  sessionFix?: boolean;
}

/** Counter in Redis, incremented at every broker start (orders the session queue's records). */
const EPOCH_KEY = 'sp:outq-epoch';

interface IoRedis extends RedisLike {
  incr(key: string): Promise<number>;
  connect(): Promise<void>;
  ping(): Promise<string>;
  config(op: 'GET', key: string): Promise<string[]>;
  quit(): Promise<string>;
  disconnect(): void;
  on(ev: 'error', fn: (e: Error) => void): unknown;
  status: string;
}

/** Opens the persistence a profile names: memory at once, Redis after a successful PING. */
export async function openPersistence(url: string, opts: PersistenceOpenOptions = {}): Promise<OpenPersistence> {
  const profile = parsePersistenceUrl(url);
  if (profile.kind === 'memory') {
    return {
      kind: 'memory', durable: false, describe: 'memory', aedesOptions: {},
      // Aedes 1.2.0 loses QoS 1 messages when a persistent session resumes under load (a stale
      // queue entry cleared by the PUBACK of a new message with the same id): aedes-session-fix.ts.
      install: (aedes) => {
        if (opts.sessionFix !== false) applySessionReplayFix(aedes);
        holdDeliveriesUntilConnack(aedes);
      },
      close: async () => {},
    };
  }
  const require = createRequire(import.meta.url);
  const { Redis } = require('ioredis') as { Redis: new (o: Record<string, unknown>) => IoRedis };
  const redisPersistence = require('aedes-persistence-redis') as (o: Record<string, unknown>) => { destroy(): Promise<void> };
  let lastError = '';
  const conn = new Redis({
    host: profile.host, port: profile.port, db: profile.db, username: profile.username, password: profile.password,
    ...(profile.tls ? { tls: {} } : {}),
    lazyConnect: true, connectionName: 'smartpark-broker',
    // While Redis is unreachable, hold commands (and so PUBACKs) rather than fail them: devices
    // slow down, nothing is acknowledged that is not stored.
    maxRetriesPerRequest: null, enableOfflineQueue: true,
    retryStrategy: (n: number) => Math.min(50 * n, 1000),
  });
  conn.on('error', (e: Error) => { lastError = e.message; });
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const ready = conn.connect().then(() => conn.ping());
  ready.catch(() => {}); // the race below reports it
  try {
    await Promise.race([
      ready,
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
  } catch (e) {
    conn.disconnect();
    throw new PlatformError('SP_ERR_CONFIG', `${PERSISTENCE_ENV}=${JSON.stringify(redact(url))}: cannot reach Redis (${lastError || (e as Error).message})`);
  } finally {
    clearTimeout(timer);
  }
  // Durability is Redis' job: say so when it is not configured for it (managed Redis may refuse CONFIG).
  try {
    const [, aof] = await conn.config('GET', 'appendonly');
    const [, fsync] = await conn.config('GET', 'appendfsync');
    if (aof !== 'yes') opts.onWarning?.(`Redis at ${profile.display} has appendonly=${aof}: a Redis restart loses queued messages (set appendonly yes, appendfsync always)`);
    else if (fsync !== 'always') opts.onWarning?.(`Redis at ${profile.display} has appendfsync=${fsync}: a power cut or OS crash can lose the last second of queued messages (a Redis crash alone loses nothing)`);
  } catch { /* CONFIG not allowed: trust the operator */ }
  // Record names of our session queue sort by start epoch, then by enqueue order.
  const epoch = await conn.incr(EPOCH_KEY);
  // maxSessionDelivery -1: upstream's queue (only with sessionFix off) replays all, not the first 1001
  const persistence = redisPersistence({ conn, maxSessionDelivery: -1 });
  return {
    kind: 'redis', durable: true, describe: profile.display, aedesOptions: { persistence },
    install: (aedes) => {
      if (opts.sessionFix !== false) applyRedisSessionQueue(aedes, conn, { epoch });
      holdDeliveriesUntilConnack(aedes);
      ackAfterStore(aedes);
      return publishOrphanWills(aedes);
    },
    close: async () => {
      await persistence.destroy().catch(() => {});
      if (conn.status !== 'end') conn.disconnect();
    },
  };
}

/**
 * Last wills stored by a broker that is gone — this one, before it was killed — are published now,
 * before any device can reconnect. Left to aedes, its will sweep (every 4 heartbeats, ~4 min)
 * would publish them after the devices are back: aedes' storeWill removes an earlier will with
 * delWill(client), which aedes-persistence-redis looks up under the Client's `brokerId`, which a
 * Client does not have. A retained "offline" will would then mark online devices offline.
 * Published now, it is followed by each device's reconnect (and our "online" status).
 */
async function publishOrphanWills(aedes: Aedes): Promise<void> {
  const persistence = (aedes as unknown as {
    persistence: {
      streamWill(alive: Record<string, number>): AsyncIterable<PublishPacket & { clientId: string; brokerId: string }>;
      delWill(c: { id: string; brokerId: string }): Promise<unknown>;
    };
  }).persistence;
  for await (const will of persistence.streamWill({ [aedes.id]: Date.now() })) {
    await new Promise<void>((resolve, reject) => aedes.publish(will, (err) => (err ? reject(err) : resolve())));
    await persistence.delWill({ id: will.clientId, brokerId: will.brokerId });
  }
}

type Done = (err?: Error | null) => void;
type PublishFn = (packet: PublishPacket, client: Client | null | Done, done?: Done) => void;

/**
 * Sends the PUBACK of a client's QoS 1 PUBLISH only after aedes has stored and routed it (see the
 * file comment). Call after createBroker, before clients connect.
 */
export function ackAfterStore(aedes: Aedes): void {
  const broker = aedes as unknown as { publish: PublishFn; authorizePublish: NonNullable<AedesOptions['authorizePublish']> };
  const publish = broker.publish.bind(aedes) as PublishFn;
  const authorize = broker.authorizePublish;
  /** Packet objects already published from authorizePublish: aedes' own publish of them is skipped. */
  const early = new WeakSet<object>();
  /** Per connection, acknowledgements waiting for earlier ones (PUBACK order = PUBLISH order). */
  const pending = new WeakMap<object, { ready: boolean; err: Error | null; cb: Done }[]>();

  broker.authorizePublish = (client, packet, cb) => {
    authorize.call(aedes, client, packet, (err?: Error | null) => {
      if (err || !client || packet.qos !== 1) return cb(err ?? null);
      let queue = pending.get(client);
      if (!queue) pending.set(client, (queue = []));
      const slot = { ready: false, err: null as Error | null, cb: cb as Done };
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
    });
  };
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
    publish(packet, client, done);
  };
}
