/**
 * aedes-persistence's own abstract test suite (node:test) against our persistence
 * (broker/aedes/outgoing-persistence.ts) in one profile. Run by test/aedes-persistence-abstract.test.ts:
 *   node --import tsx --test test/abstract/aedes-persistence.ts            memory
 *   SP_ABSTRACT_REDIS_URL=redis://127.0.0.1:PORT/0 node --import tsx --test test/abstract/aedes-persistence.ts
 * Redis: the database is flushed before each instance (each test gets a fresh store).
 */
import { createRequire } from 'node:module';
import { after, test } from 'node:test';
import { openPersistence } from '../../broker/persistence.ts';

const require = createRequire(import.meta.url);
const abstractSuite = require('aedes-persistence/abstract.js') as (o: { test: typeof test; persistence: () => Promise<unknown>; testAsync: boolean }) => void;
const redisUrl = process.env.SP_ABSTRACT_REDIS_URL ?? '';

async function flush(url: string): Promise<void> {
  const { Redis } = require('ioredis') as { Redis: new (url: string) => { flushdb(): Promise<string>; quit(): Promise<string> } };
  const conn = new Redis(url);
  await conn.flushdb();
  await conn.quit();
}

// a few of the suite's tests do not destroy their instance: close what is left, or Redis connections keep the process alive
const open = new Set<{ close(): Promise<void> }>();
after(async () => {
  for (const p of open) await p.close();
});

abstractSuite({
  test,
  testAsync: true,
  persistence: async () => {
    if (redisUrl) await flush(redisUrl);
    const p = await openPersistence(redisUrl);
    open.add(p);
    // the suite calls destroy(); the subscriber connection of the Redis profile goes with it
    const destroy = p.persistence.destroy.bind(p.persistence);
    p.persistence.destroy = async () => {
      await destroy();
      open.delete(p);
      await p.close();
    };
    return p.persistence;
  },
});
