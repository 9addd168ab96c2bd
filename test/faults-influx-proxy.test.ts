/**
 * InfluxDB slow, failing and half-failing, through test/harness/fault-proxy.ts in front of the
 * real influxd: write requests meet, in a fixed cycle, a pass, a 500 "engine: error syncing wal"
 * (nothing stored), a 500 after the points WERE stored, a 503, a dropped connection before and
 * after forwarding, a slow answer, and a partial write (a bad line added: influxd answers 400 and
 * stores the rest). Devices publish all the while; every acknowledged reading is stored once.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { FaultProxy, type Fault } from './harness/fault-proxy.ts';
import { readingStream, TestPlatform, waitFor } from './harness/platform.ts';

const CYCLE: Fault[] = [
  { kind: 'status', status: 500, error: 'engine: error syncing wal' },
  { kind: 'pass' },
  { kind: 'status-after', status: 500, error: 'engine: error syncing wal' },
  { kind: 'drop' },
  { kind: 'delay', ms: 400 },
  { kind: 'status', status: 503, error: 'service unavailable' },
  { kind: 'drop-after' },
  { kind: 'bad-line' },
  { kind: 'pass' },
];

let p: TestPlatform;
let proxy: FaultProxy;
beforeAll(async () => {
  proxy = new FaultProxy({ target: inject('influxUrl'), schedule: (n) => CYCLE[n % CYCLE.length]! });
  await proxy.start();
  p = await new TestPlatform({ ingestEnv: { INFLUX_URL: proxy.url, INGEST_RETRY_MIN_MS: '20', INGEST_RETRY_MAX_MS: '200' } }).start();
});
afterAll(async () => {
  await p?.stop();
  await proxy?.close();
});

const DEVICES = ['wm-mill-1', 'wm-press-1', 'dj-press-1', 'xb-loom-1', 'xb-loom-2', 'wm-spray-1'];

it('stores every acknowledged reading exactly once through 5xx, drops, delays and partial writes', async () => {
  const base = Date.now() - 3_600_000;
  const streams = await Promise.all(DEVICES.map(async (id) => ({ id, s: readingStream(await p.connect(id), p.model.devices.get(id)!, { base, metric: 'power' }) })));
  const total = () => streams.reduce((a, x) => a + x.s.acked, 0);
  // run until every fault of the cycle has been met several times
  await waitFor('five fault cycles', () => proxy.writeRequests >= CYCLE.length * 5 && total() > 5000, 60_000, 50);
  for (const x of streams) x.s.running = false;
  await Promise.all(streams.map((x) => x.s.done));
  for (const { id, s } of streams) {
    await waitFor(`all of ${id} stored`, async () => (await p.seqStats(id)).count >= s.acked, 30_000, 200);
  }
  await waitFor('spool drained', async () => (await p.ingestStat('ingest_spool_pending_bytes', NaN)) === 0, 30_000, 100);
  for (const { id, s } of streams) {
    expect({ id, ...(await p.seqStats(id)) }).toEqual({ id, count: s.acked, min: 0, max: s.acked - 1 });
  }
  for (const kind of ['status', 'status-after', 'drop', 'drop-after', 'delay', 'bad-line'] as const) {
    expect(proxy.applied[kind], kind).toBeGreaterThanOrEqual(5);
  }
  const stats = (await p.ingestStats())!;
  // every fault but 'pass', 'delay' and 'bad-line' makes the writer retry the same batch
  const retryable = proxy.applied.status + proxy.applied['status-after'] + proxy.applied.drop + proxy.applied['drop-after'];
  expect(Number(stats.ingest_write_retries_total)).toBe(retryable);
  // a partial write is not retried: the bad lines (only ours) are counted and dead-lettered
  expect(Number(stats.ingest_db_rejected_batches_total)).toBe(proxy.applied['bad-line']);
  expect(total()).toBeGreaterThan(5000);
  expect(Number(stats.ingest_dead_letters_published_total)).toBeGreaterThanOrEqual(proxy.applied['bad-line']);
}, 120_000);
