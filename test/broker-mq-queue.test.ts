/** The O(1) FIFO that replaces mqemitter's Array queues (broker/aedes/mq-fifo.ts), and its installation on a real Aedes. */
import { Aedes } from 'aedes';
import { expect, it } from 'vitest';
import { Fifo, useFifoInMqEmitter } from '../broker/aedes/mq-fifo.ts';

it('keeps first-in-first-out order across compactions, with the length mqemitter reads', () => {
  const q = new Fifo<number>();
  const model: number[] = [];
  let next = 0;
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let step = 0; step < 200_000; step++) {
    if (rnd() < 0.55) {
      expect(q.push(next)).toBe(model.push(next));
      next++;
    } else {
      expect(q.shift()).toBe(model.shift());
    }
    if (step % 997 === 0) expect(q.length).toBe(model.length);
  }
  while (model.length) expect(q.shift()).toBe(model.shift());
  expect(q.shift()).toBeUndefined();
  expect(q.length).toBe(0);
});

it('is installed on an idle broker, and messages beyond the concurrency still arrive in order', async () => {
  const aedes = await Aedes.createBroker({ concurrency: 2 });
  useFifoInMqEmitter(aedes);
  const mq = (aedes as unknown as { mq: { emit(m: object, cb: () => void): void; on(t: string, f: (m: { n: number }, cb: () => void) => void): void } }).mq;
  const got: number[] = [];
  const held: (() => void)[] = [];
  mq.on('t', (m, cb) => { got.push(m.n); held.push(cb); });
  await new Promise((r) => setImmediate(r));
  const done: number[] = [];
  for (let n = 0; n < 50; n++) mq.emit({ topic: 't', n }, () => done.push(n));
  expect(got).toEqual([0, 1]); // concurrency 2: the rest wait in the FIFO
  while (held.length) held.shift()!();
  expect(got).toEqual(Array.from({ length: 50 }, (_, n) => n));
  expect(done).toEqual(Array.from({ length: 50 }, (_, n) => n));
  await new Promise<void>((r) => aedes.close(() => r()));
  expect(() => useFifoInMqEmitter({} as Aedes)).toThrow(/not an idle mqemitter/);
});
