/**
 * Back-pressure reaches the devices (broker/backpressure.ts), whatever holds ingest up:
 *  - InfluxDB down long past the broker's drain timeout: ingest's spool reaches its limit, ingest
 *    holds its acknowledgements and stops reading; the broker does NOT cut it (a durable
 *    consumer is exempt from the drain timeout) and holds the devices' publishes instead;
 *  - ingest down: its session queue in the broker reaches MQTT_CONSUMER_QUEUE_MAX and device
 *    publishes wait (no PUBACK) instead of the queue growing without bound.
 * Either way, once the hold ends every reading a device got a PUBACK for is stored exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { freePort, startInfluxd, type RunningInfluxd } from '../scripts/influxd.ts';
import { readingStream, TestPlatform, waitFor } from './harness/platform.ts';

const DEVICES = ['wm-mill-1', 'wm-press-1', 'dj-press-1', 'xb-loom-1'];
const INFLIGHT = 10;
const BATCH = 20;
let p: TestPlatform | undefined;
let influxd: RunningInfluxd | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await p?.killIngest('SIGKILL');
  await p?.stop();
  await influxd?.stop();
  p = undefined;
  influxd = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function streams(platform: TestPlatform) {
  const base = Date.now() - 3_600_000;
  const list = await Promise.all(DEVICES.map(async (id) => ({
    id, s: readingStream(await platform.connect(id), platform.model.devices.get(id)!, { base, metric: 'power', batch: BATCH, inflight: INFLIGHT }),
  })));
  return { list, acked: () => list.reduce((a, x) => a + x.s.acked, 0) };
}

/** Waits until `value` did not change over one `everyMs`. */
async function untilStill(what: string, value: () => number, everyMs: number): Promise<void> {
  let last = -1;
  await waitFor(what, () => {
    const now = value();
    const still = now === last;
    last = now;
    return still;
  }, 30_000, everyMs);
}

async function allStoredOnce(platform: TestPlatform, list: { id: string; s: { acked: number } }[]): Promise<void> {
  for (const { id, s } of list) {
    await waitFor(`all of ${id} stored`, async () => (await platform.seqStats(id)).count >= s.acked, 60_000, 200);
  }
  for (const { id, s } of list) {
    expect({ id, ...(await platform.seqStats(id)) }).toEqual({ id, count: s.acked, min: 0, max: s.acked - 1 });
  }
}

it('holds the devices, not cuts ingest, while InfluxDB is down past the drain timeout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hold-influx-'));
  dirs.push(dir);
  const port = await freePort();
  influxd = await startInfluxd({ dataDir: dir, port });
  p = new TestPlatform({
    influxUrl: influxd.url, brokerConfig: { drainTimeoutMs: 1000 },
    ingestEnv: { INGEST_MAX_SPOOL_BYTES: String(1024 * 1024), INGEST_RETRY_MIN_MS: '50', INGEST_RETRY_MAX_MS: '300' },
  });
  await p.start();
  let cuts = 0;
  p.broker.aedes.on('clientDisconnect', (c) => { if (c.id === 'svc-ingest') cuts++; });
  const { list, acked } = await streams(p); // acked: readings (messages × BATCH)
  await waitFor('a stream under way and stored', async () => acked() > 100 && (await p!.ingestStat('ingest_points_written_total')) > 1000, 30_000);

  influxd.process.kill('SIGKILL');
  await new Promise((r) => influxd!.process.once('exit', r));
  await waitFor('ingest holding at its spool limit', async () => (await p!.ingestStat('ingest_backpressure_waits_total')) >= 1, 60_000, 100);
  // the socket buffers between broker and ingest fill up (a few MB), then the devices stop
  // getting PUBACKs: acknowledgements stop growing and stay so for several drain timeouts
  await untilStill('devices held back', acked, 1000);
  const held = acked();
  await new Promise((r) => setTimeout(r, 4000));
  expect(cuts).toBe(0);
  expect(acked()).toBe(held);
  for (const x of list) x.s.running = false;

  influxd = await startInfluxd({ dataDir: dir, port });
  await Promise.all(list.map((x) => x.s.done));
  await allStoredOnce(p, list);
  expect(cuts).toBe(0);
}, 150_000);

it('holds the devices while ingest is down once its session queue reaches MQTT_CONSUMER_QUEUE_MAX', async () => {
  const CAP = 300; // messages (of 20 readings each)
  const platform = new TestPlatform({ brokerConfig: { consumerQueueMax: CAP } });
  p = platform;
  await platform.start();
  const { list, acked } = await streams(platform);
  await waitFor('a stream under way', () => acked() > 100, 30_000);

  await platform.killIngest('SIGKILL');
  const atDeath = acked();
  await waitFor('publishes held', () => (platform.broker.metrics.toJSON().mqtt_publish_held_total ?? 0) > 0, 30_000, 50);
  // publishes authorised before the cap was reached still get their PUBACK: wait until none is left
  await untilStill('acknowledgements stopped', acked, 500);
  const held = acked();
  await new Promise((r) => setTimeout(r, 2000));
  // nothing more acknowledged while held; the queue stays near the cap (plus what was in flight)
  expect(acked()).toBe(held);
  expect((acked() - atDeath) / BATCH).toBeLessThanOrEqual(CAP + DEVICES.length * INFLIGHT); // messages
  expect(platform.broker.queued('svc-ingest')).toBeLessThanOrEqual(CAP + DEVICES.length * INFLIGHT);
  expect(platform.broker.queued('svc-ingest')).toBeGreaterThan(CAP);

  await platform.startIngest();
  await waitFor('devices released', () => acked() > held + 100, 30_000, 50);
  for (const x of list) x.s.running = false;
  await Promise.all(list.map((x) => x.s.done));
  await allStoredOnce(platform, list);
}, 150_000);
