/**
 * InfluxDB killed in the middle of a stream and started again on its data a while later, with
 * a small spool limit (INGEST_MAX_SPOOL_BYTES = 1 MiB): ingest warns before the limit, holds its
 * acknowledgements at the limit (the spool stops growing, ingest takes no more messages, the
 * broker and then the devices wait), and releases them when InfluxDB is back. Every reading a
 * device got a PUBACK for is stored exactly once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort, startInfluxd, type RunningInfluxd } from '../scripts/influxd.ts';
import { readingStream, TestPlatform, waitFor } from './harness/platform.ts';

const MAX_SPOOL = 1024 * 1024;
const DEVICES = ['wm-mill-1', 'wm-press-1', 'dj-press-1', 'xb-loom-1'];
let p: TestPlatform | undefined;
let influxd: RunningInfluxd | undefined;
const dir = mkdtempSync(join(tmpdir(), 'stop-influx-'));
afterAll(async () => {
  await p?.killIngest('SIGKILL'); // a graceful stop could wait on a held acknowledgement if the test failed
  await p?.stop();
  await influxd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const num = (key: string) => p!.ingestStat(key);
/** True when `f` gives the same value twice, `ms` apart (something that flows would move). */
const still = async (f: () => number | Promise<number>, ms = 1500) => {
  const a = await f();
  await new Promise((r) => setTimeout(r, ms));
  return (await f()) === a;
};

it('holds acknowledgements at the spool limit while InfluxDB is down, then stores everything once', async () => {
  const port = await freePort();
  influxd = await startInfluxd({ dataDir: dir, port });
  p = new TestPlatform({
    influxUrl: influxd.url,
    ingestEnv: { INGEST_MAX_SPOOL_BYTES: String(MAX_SPOOL), INGEST_RETRY_MIN_MS: '50', INGEST_RETRY_MAX_MS: '300' },
  });
  await p.start();
  const base = Date.now() - 3_600_000;
  // batches of 20 readings (~3 KB a message): the limit is reached in a few hundred messages
  const streams = await Promise.all(DEVICES.map(async (id) => ({
    id, s: readingStream(await p!.connect(id), p!.model.devices.get(id)!, { base, metric: 'power', batch: 20, inflight: 10 }),
  })));
  const total = () => streams.reduce((a, x) => a + x.s.acked, 0);
  await waitFor('a stream under way and stored', async () => total() > 2000 && (await num('ingest_points_written_total')) > 1000, 30_000);

  influxd.process.kill('SIGKILL');
  await new Promise((r) => influxd!.process.once('exit', r));
  const atStop = total();

  // the spool fills to the limit; ingest warns before it and then holds its acknowledgements
  await waitFor('back-pressure engaged', async () => (await num('ingest_backpressure_waits_total')) >= 1, 60_000, 100);
  await waitFor('ingest takes no more messages', () => still(() => num('ingest_messages_received_total')), 30_000, 10);
  const pending = await num('ingest_spool_pending_bytes');
  expect(pending).toBeGreaterThan(MAX_SPOOL);
  expect(pending).toBeLessThan(MAX_SPOOL + 10_000); // at most one message past the limit
  expect(readFileSync(join(p.dir, 'ingest.log'), 'utf8')).toMatch(/spool is filling up/);
  // the broker's queue to ingest fills, then the devices stop getting PUBACKs
  const window = DEVICES.length * 10 * 20; // 10 messages of 20 readings per device
  const sent = () => streams.reduce((a, x) => a + x.s.sent, 0);
  await waitFor('devices held: every window full, no PUBACK moving', async () => sent() - total() === window && await still(total), 60_000, 10);
  expect(total()).toBeGreaterThan(atStop);
  expect(await num('ingest_spool_pending_bytes')).toBe(pending); // nothing more was taken meanwhile

  influxd = await startInfluxd({ dataDir: dir, port });
  const atRestart = total();
  await waitFor('devices released', () => total() > atRestart + 2000, 60_000);
  for (const x of streams) x.s.running = false;
  await Promise.all(streams.map((x) => x.s.done));
  for (const { id, s } of streams) {
    await waitFor(`all of ${id} stored`, async () => (await p!.seqStats(id)).count >= s.acked, 60_000, 200);
  }
  for (const { id, s } of streams) {
    expect({ id, ...(await p.seqStats(id)) }).toEqual({ id, count: s.acked, min: 0, max: s.acked - 1 });
  }
  await waitFor('spool drained', async () => (await num('ingest_spool_pending_bytes')) === 0, 30_000, 100);
}, 180_000);
