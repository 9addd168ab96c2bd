/**
 * Where the broker keeps its sessions: the persistence profile (MQTT_PERSISTENCE_URL).
 *
 *   ''                       memory (default): aedes-persistence's in-memory store with our
 *                            outgoing session queue (broker/aedes/). Sessions survive client
 *                            reconnects, not a broker restart.
 *   redis://[user:pass@]host[:port][/db]   (rediss:// for TLS)
 *                            durable: aedes-persistence-redis (subscriptions, retained messages,
 *                            wills, QoS 2 state) with our session queue in Redis; QoS 1 PUBACKs
 *                            only once the message is stored. Several brokers may share one Redis.
 */
import { createRequire } from 'node:module';
import { PlatformError } from '../core/errors.ts';
import { OutgoingQueuePersistence, redisQueueStore, type AsyncPersistence, type RedisLike, type SubscriptionBus } from './aedes/index.ts';

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
  /** What to give Aedes (broker/aedes/index.ts, createPatchedBroker). */
  persistence: AsyncPersistence;
  /** Messages in a session's queue known to this broker; undefined with upstream's queue (sessionFix off). */
  queued(clientId: string): number | undefined;
  /** Redis: where subscription changes travel between the brokers sharing it. */
  subscriptionBus?: SubscriptionBus;
  /** After aedes.close(): releases the connections. */
  close(): Promise<void>;
}

export interface PersistenceOpenOptions {
  onWarning?: (msg: string) => void;
  /** Give up reaching Redis at start after this long (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Our session queue (default on). Off only to reproduce upstream's behaviour in
   * test/aedes-session-replay.test.ts (AEDES_SESSION_FIX=off).
   */
  sessionFix?: boolean;
}

interface IoRedis extends RedisLike {
  connect(): Promise<void>;
  ping(): Promise<string>;
  config(op: 'GET', key: string): Promise<string[]>;
  publish(channel: string, message: string): Promise<number>;
  subscribe(channel: string): Promise<unknown>;
  duplicate(): IoRedis;
  disconnect(): void;
  on(ev: 'error', fn: (e: Error) => void): unknown;
  on(ev: 'message', fn: (channel: string, message: string) => void): unknown;
  status: string;
}

const require = createRequire(import.meta.url);

function withQueue(inner: AsyncPersistence, fix: boolean, conn?: RedisLike): Pick<OpenPersistence, 'persistence' | 'queued'> {
  const persistence = new OutgoingQueuePersistence(inner, conn && fix ? redisQueueStore(conn) : undefined, !fix);
  return { persistence, queued: (id) => persistence.queued(id) };
}

/** Opens the persistence a profile names: memory at once, Redis after a successful PING. */
export async function openPersistence(url: string, opts: PersistenceOpenOptions = {}): Promise<OpenPersistence> {
  const profile = parsePersistenceUrl(url);
  const fix = opts.sessionFix !== false;
  if (profile.kind === 'memory') {
    const AsyncMemory = require('aedes-persistence/asyncPersistence.js') as new () => AsyncPersistence;
    return { kind: 'memory', durable: false, describe: 'memory', ...withQueue(new AsyncMemory(), fix), close: async () => {} };
  }
  const { Redis } = require('ioredis') as { Redis: new (o: Record<string, unknown>) => IoRedis };
  const AsyncRedis = require('aedes-persistence-redis/asyncPersistence.js') as new (o: Record<string, unknown>) => AsyncPersistence;
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
  // subscription changes between brokers on this Redis travel on a second connection (subscriber mode)
  const subscriber = conn.duplicate();
  subscriber.on('error', () => {});
  // maxSessionDelivery -1: upstream's queue (only with sessionFix off) replays all, not the first 1001
  const inner = new AsyncRedis({ conn, maxSessionDelivery: -1 });
  return {
    kind: 'redis', durable: true, describe: profile.display, ...withQueue(inner, fix, conn),
    subscriptionBus: { publish: (channel, message) => conn.publish(channel, message), subscriber },
    close: async () => {
      await inner.destroy().catch(() => {});
      if (conn.status !== 'end') conn.disconnect();
      subscriber.disconnect();
    },
  };
}
