/**
 * Back-pressure in the cluster profile: InfluxDB stops taking writes (test/harness/fault-proxy.ts
 * answers 503 to every /write) for 12 s (CLUSTER_INFLUX_DOWN_MS=60000 for the 60 s; the
 * suite keeps it short, the mechanism is the same) while devices publish as fast as they are acknowledged. The
 * worker acknowledges nothing to JetStream (nothing is written), the stream fills to its limit
 * (1 MiB here), and the devices get no PUBACK: held back, nothing acknowledged dropped. When InfluxDB
 * is back, every acknowledged reading is stored exactly once.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { FaultProxy } from './harness/fault-proxy.ts';
import { TestCluster } from './harness/cluster.ts';
import { readingStream, waitFor } from './harness/platform.ts';

let c: TestCluster;
let proxy: FaultProxy;
let down = false;
const DOWN_MS = Number(process.env.CLUSTER_INFLUX_DOWN_MS ?? 12_000);
beforeAll(async () => {
  proxy = new FaultProxy({ target: inject('influxUrl'), schedule: () => (down ? { kind: 'status', status: 503, error: 'service unavailable' } : { kind: 'pass' }) });
  await proxy.start();
  c = await new TestCluster({ brokerEnv: { MQTT_JETSTREAM_MAX_BYTES: String(1024 * 1024), MQTT_JETSTREAM_ACK_TIMEOUT_MS: '1000' } }).start(1);
  await c.startWorker('w1', { INFLUX_URL: proxy.url, INGEST_MAX_ACK_PENDING: '100', INGEST_RETRY_MIN_MS: '50', INGEST_RETRY_MAX_MS: '500' });
}, 60_000);
afterAll(async () => {
  await c?.stop();
  await proxy?.close();
});

it('InfluxDB down: the stream fills to its limit, devices are held, then everything is stored once', async () => {
  const ids = ['wm-mill-1', 'wm-press-1', 'dj-press-1', 'xb-loom-1'];
  const list = await Promise.all(ids.map(async (id) => {
    const dev = await c.connect(id, c.brokerUrl(0), { reconnectPeriod: 200, keepalive: 120 });
    return { id, s: readingStream(dev, c.model.devices.get(id)!, { base: Date.now() - 3_600_000, metric: 'power', inflight: 20, batch: 5 }) };
  }));
  const total = () => list.reduce((a, x) => a + x.s.acked, 0);
  await waitFor('a stream under way', () => total() > 2000, 30_000, 50);
  down = true;
  const downAt = Date.now();
  // held: the PUBACKs stop once the stream is full
  let last = total();
  let stillSince = Date.now();
  await waitFor('the devices held (no PUBACK for 3 s)', () => {
    if (total() !== last) {
      last = total();
      stillSince = Date.now();
    }
    return Date.now() - stillSince > 3000;
  }, 20_000, 50);
  const heldAt = total();
  const info = await (await c.jsm()).streams.info('TELE');
  const stats = await c.brokerStats(0);
  expect(info.state.bytes).toBeLessThanOrEqual(1024 * 1024);
  expect(info.state.bytes).toBeGreaterThan(0.8 * 1024 * 1024); // it is the stream's limit that holds them
  expect(stats?.['mqtt_jetstream_retries_total{reason="stream_full"}']).toBeGreaterThan(0);
  await new Promise((r) => setTimeout(r, Math.max(0, DOWN_MS - (Date.now() - downAt))));
  expect(total()).toBe(heldAt); // nothing acknowledged while InfluxDB is down and the stream full
  down = false;
  await waitFor('publishing again', () => total() > heldAt + 2000, 30_000, 50);
  for (const x of list) x.s.running = false;
  await Promise.all(list.map((x) => x.s.done));
  for (const { id, s } of list) await waitFor(`all of ${id} stored`, async () => (await c.seqStats(id)).count >= s.acked, 30_000, 200);
  await new Promise((r) => setTimeout(r, 300));
  for (const { id, s } of list) expect({ id, ...(await c.seqStats(id)) }).toEqual({ id, count: s.acked, min: 0, max: s.acked - 1 });
  const w = await c.workerStats('w1');
  console.log(`[cluster-influx-down] held at ${heldAt} readings (${info.state.messages} messages, ${info.state.bytes} B in TELE) through ${DOWN_MS / 1000} s of InfluxDB down; ${total()} acknowledged in all, all stored once; worker write retries ${w?.ingest_write_retries_total}, redelivered ${w?.ingest_messages_redelivered_total ?? 0}`);
}, DOWN_MS + 70_000);
