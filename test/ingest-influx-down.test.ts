/**
 * InfluxDB is not there when readings arrive: ingest acknowledges them once they are on its
 * spool, keeps retrying with backoff, and writes every one when InfluxDB appears. An InfluxDB
 * that accepts connections but never answers does not keep ingest from subscribing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { deviceTopic } from '../core/contract.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { freePort, startInfluxd, type RunningInfluxd } from '../scripts/influxd.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform | undefined;
let late: RunningInfluxd | undefined;
const dir = mkdtempSync(join(tmpdir(), 'late-influx-'));
afterAll(async () => {
  await p?.stop();
  await late?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('spools while InfluxDB is down and writes everything once it is up', async () => {
  const port = await freePort();
  p = new TestPlatform({ ingestEnv: { INFLUX_URL: `http://127.0.0.1:${port}`, INFLUX_DB: 'late', INGEST_RETRY_MIN_MS: '50', INGEST_RETRY_MAX_MS: '400' } });
  await p.start();
  const d = p.model.devices.get('wm-gm-main')!;
  const c = await p.connect(d.id);
  const t0 = Date.now() - 600_000;
  const N = 300;
  for (let i = 0; i < N; i++) {
    await c.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ ts: t0 + i * 1000, seq: i, metrics: { volume: 1000 + i, flow: 50 } }), { qos: 1 });
  }
  // every message acknowledged: it is on the spool, and the writer is retrying
  await waitFor('retries', async () => (await p!.ingestStat('ingest_write_retries_total')) >= 3);
  const s = (await p.ingestStats())!;
  expect(s.ingest_points_spooled_total).toBeGreaterThanOrEqual(N);
  expect(Number(s.ingest_spool_pending_bytes)).toBeGreaterThan(0);
  expect(s.ingest_points_written_total ?? 0).toBe(0);

  late = await startInfluxd({ dataDir: dir, port });
  // an empty InfluxDB: ingest creates its database itself (1.x) and writes the backlog
  const influx = new InfluxClient({ url: late.url, db: 'late' });
  await waitFor('all written', async () => {
    const r = await influx.query(influxql`SELECT count(${ident('seq')}) FROM ${ident('gas_meter')} WHERE "device" = ${d.id}`).catch(() => []);
    return Number(r[0]?.[0]?.values[0]?.[1] ?? 0) >= N;
  }, 30_000, 100);
  const r = await influx.query(influxql`SELECT count(${ident('seq')}), sum(${ident('volume')}) FROM ${ident('gas_meter')} WHERE "device" = ${d.id}`);
  expect(r[0]![0]!.values[0]!.slice(1)).toEqual([N, N * 1000 + (N * (N - 1)) / 2]);
  await waitFor('spool empty', async () => (await p!.ingestStat('ingest_spool_pending_bytes', NaN)) === 0);
});

it('subscribes at once when InfluxDB accepts connections but never answers', async () => {
  const held: Socket[] = [];
  const blackHole = createServer((s) => { held.push(s); s.on('error', () => {}); });
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', () => r()));
  const port = (blackHole.address() as { port: number }).port;
  const q = new TestPlatform({ ingestEnv: { INFLUX_URL: `http://127.0.0.1:${port}`, INFLUX_DB: 'hanging' }, startIngest: false });
  try {
    await q.start();
    const t0 = Date.now();
    await q.startIngest(); // returns once /health says subscribed
    const ms = Date.now() - t0;
    expect(held.length).toBeGreaterThan(0); // it did try InfluxDB (CREATE DATABASE hangs there)
    expect(ms).toBeLessThan(10_000); // not the 30 s request timeout
    const d = q.model.devices.get('wm-wm-main')!;
    const c = await q.connect(d.id);
    await c.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ ts: Date.now(), seq: 0, metrics: { volume: 1, flow: 2 } }), { qos: 1 });
    await waitFor('spooled', async () => (await q.ingestStat('ingest_points_spooled_total')) >= 1);
  } finally {
    await q.stop();
    for (const s of held) s.destroy();
    blackHole.close();
  }
}, 60_000);
