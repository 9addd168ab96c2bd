/**
 * kill -9 of ingest in the middle of a stream, devices publishing all through the crash and
 * the restart: every reading a device got a PUBACK for is stored exactly once.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deviceTopic } from '../core/contract.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await new TestPlatform().start();
});
afterAll(async () => {
  await p?.stop();
});

const DEVICES = ['wm-mill-1', 'wm-mill-2', 'wm-press-1', 'wm-press-2', 'dj-press-1', 'dj-press-2', 'xb-loom-1', 'xb-loom-2'];

/** Publishes readings with unique seq/ts until stopped; counts PUBACKs. */
function stream(c: MqttClient, deviceId: string, base: number, metric: string) {
  const d = p.model.devices.get(deviceId)!;
  const topic = deviceTopic(d, 'telemetry');
  const state = { acked: 0, running: true, done: Promise.resolve() };
  state.done = (async () => {
    let seq = 0;
    const inflight = new Set<Promise<unknown>>();
    while (state.running) {
      const s = seq++;
      const pr = c.publishAsync(topic, JSON.stringify({ ts: base + s, seq: s, metrics: { [metric]: s / 10 } }), { qos: 1 })
        .then(() => { state.acked++; }).finally(() => inflight.delete(pr));
      inflight.add(pr);
      if (inflight.size >= 20) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  })();
  return state;
}

it('loses and doubles nothing when ingest is killed with SIGKILL mid-stream', async () => {
  const base = Date.now() - 3_600_000;
  const streams = await Promise.all(DEVICES.map(async (id) => {
    const c = await p.connect(id);
    return { id, s: stream(c, id, base, 'power') }; // every kind here has a power metric
  }));
  const total = () => streams.reduce((a, x) => a + x.s.acked, 0);
  await waitFor('a stream under way', () => total() > 4000, 30_000);
  await p.killIngest('SIGKILL');
  const atKill = total();
  await waitFor('devices keep publishing while ingest is down', () => total() > atKill + 1500, 30_000, 20);
  await p.startIngest();
  const atRestart = total();
  await waitFor('more after restart', () => total() > atRestart + 3000, 30_000);
  for (const x of streams) x.s.running = false;
  await Promise.all(streams.map((x) => x.s.done));
  for (const { id, s } of streams) {
    await waitFor(`all of ${id} stored`, async () => (await p.count(id)) >= s.acked, 30_000, 200);
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const { id, s } of streams) {
    const d = p.model.devices.get(id)!;
    const res = await p.influx.query(influxql`SELECT count(${ident('seq')}), min(${ident('seq')}), max(${ident('seq')}) FROM ${ident(d.kind.id)} WHERE "device" = ${id}`);
    const [, count, min, max] = res[0]![0]!.values[0] as number[];
    // every acked reading stored, none twice (count = distinct timestamps = max+1 when contiguous)
    expect({ id, count, min, max }).toEqual({ id, count: s.acked, min: 0, max: s.acked - 1 });
  }
  expect(total()).toBeGreaterThan(8500);
}, 120_000);
