/**
 * Ingest workers sharing the JetStream stream (ingest/cluster/): two workers split the 16
 * partitions through their KV leases; the one holding a cold room's partition is killed with
 * SIGKILL mid-stream; the other takes its partitions over. Every reading a device got a PUBACK for
 * is stored exactly once (seq count = max + 1), and the cold room's alarm raise/clear events are
 * exactly those its readings call for — none lost, none doubled, none spurious.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { partitionOf } from '../cluster/subjects.ts';
import { deviceTopic } from '../core/contract.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { TestCluster } from './harness/cluster.ts';
import { readingStream, waitFor } from './harness/platform.ts';

const DEVICES = ['wm-mill-1', 'wm-mill-2', 'wm-press-1', 'wm-press-2', 'dj-press-1', 'dj-press-2', 'xb-loom-1', 'xb-loom-2'];
const COLD = 'al-cold-1'; // rated highC 8
/** Raised at seq ≡ 0 (mod 20), cleared at seq ≡ 10. */
const tempAt = (s: number) => (s % 20 < 10 ? 9 : 5);

let c: TestCluster;
beforeAll(async () => {
  c = new TestCluster({ workerEnv: { INGEST_LEASE_TTL_MS: '3000', INGEST_ACK_WAIT_MS: '10000' } });
  const rules = join(c.dir, 'alarms.yaml');
  writeFileSync(rules, [
    'rules:',
    '  - { id: cold-hot, type: threshold, kind: cold_room, metric: temp, above: { rated: highC, default: 8 }, for: "0", hysteresis: 0.3, severity: critical }', '',
  ].join('\n'));
  await c.start(1);
  await Promise.all([c.startWorker('w1', { INGEST_ALARMS_FILE: rules }), c.startWorker('w2', { INGEST_ALARMS_FILE: rules })]);
}, 60_000);
afterAll(async () => {
  await c?.stop();
});

function coldStream(dev: MqttClient, base: number) {
  const d = c.model.devices.get(COLD)!;
  const state = { acked: 0, running: true, done: Promise.resolve() };
  state.done = (async () => {
    const inflight = new Set<Promise<unknown>>();
    for (let s = 0; state.running; s++) {
      const body = JSON.stringify({ ts: base + s * 1000, seq: s, metrics: { temp: tempAt(s) } });
      const pr = dev.publishAsync(deviceTopic(d, 'telemetry'), body, { qos: 1 }).then(() => { state.acked++; }).finally(() => inflight.delete(pr));
      inflight.add(pr);
      if (inflight.size >= 5) await Promise.race(inflight);
      await new Promise((r) => setTimeout(r, 3));
    }
    await Promise.all(inflight);
  })();
  return state;
}

it('a worker killed with SIGKILL: its partitions are taken over, nothing lost or doubled, alarms exact', async () => {
  const parts = async (id: string): Promise<number[]> => ((await c.workerStats(id))?.partitions as number[] | undefined) ?? [];
  await waitFor('the partitions shared 8 / 8', async () => (await parts('w1')).length === 8 && (await parts('w2')).length === 8, 30_000, 200);
  const coldPart = partitionOf(COLD, 16);
  const victim = (await parts('w1')).includes(coldPart) ? 'w1' : 'w2';
  const survivor = victim === 'w1' ? 'w2' : 'w1';

  const base = Date.now() - 6 * 3_600_000;
  const streams = await Promise.all(DEVICES.map(async (id) => {
    const dev = await c.connect(id, c.brokerUrl(0));
    return { id, s: readingStream(dev, c.model.devices.get(id)!, { base, metric: 'power', inflight: 10 }) };
  }));
  const cold = coldStream(await c.connect(COLD, c.brokerUrl(0)), base);
  const total = () => streams.reduce((a, x) => a + x.s.acked, 0) + cold.acked;
  await waitFor('a stream under way', async () => total() > 3000 && ((await c.workerStats(victim))?.ingest_jetstream_acked_total ?? 0) > 500, 30_000, 50);
  await c.killWorker(victim, 'SIGKILL');
  const killedAt = Date.now();
  await waitFor(`${survivor} owns all 16 partitions`, async () => (await parts(survivor)).length === 16, 20_000, 100);
  const takeoverMs = Date.now() - killedAt;
  const atTakeover = total();
  await waitFor('more after the takeover', () => total() > atTakeover + 2000, 30_000, 50);
  for (const x of streams) x.s.running = false;
  cold.running = false;
  await Promise.all([...streams.map((x) => x.s.done), cold.done]);

  for (const { id, s } of streams) await waitFor(`all of ${id} stored`, async () => (await c.seqStats(id)).count >= s.acked, 30_000, 200);
  await waitFor('all of the cold room stored', async () => (await c.seqStats(COLD)).count >= cold.acked, 30_000, 200);
  await waitFor('the stream drained', async () => (await c.streamMessages()) === 0, 30_000, 200);
  for (const { id, s } of streams) expect({ id, ...(await c.seqStats(id)) }).toEqual({ id, count: s.acked, min: 0, max: s.acked - 1 });
  expect(await c.seqStats(COLD)).toEqual({ count: cold.acked, min: 0, max: cold.acked - 1 });

  // the alarm events: exactly one raise per 20 readings (at seq ≡ 0) and one clear (at seq ≡ 10)
  const res = await c.influx.query(influxql`SELECT ${ident('state')} FROM ${ident('alarm_events')} WHERE ${ident('device')} = ${COLD}`);
  const got = (res[0]?.[0]?.values ?? []).map((v) => `${v[1]}@${(Number(v[0]) - base) / 1000}`);
  const want: string[] = [];
  for (let s = 0; s < cold.acked; s++) {
    if (s % 20 === 0) want.push(`raised@${s}`);
    if (s % 20 === 10) want.push(`cleared@${s}`);
  }
  const st = await c.workerStats(survivor);
  console.log(`[cluster-ingest] killed ${victim} (partition ${coldPart} among its 8); ${survivor} held all 16 after ${takeoverMs} ms; acked ${total()} readings; ` +
    `survivor received ${st?.ingest_messages_received_total}, redelivered ${st?.ingest_messages_redelivered_total ?? 0}, took ${st?.ingest_partitions_taken_total} partitions; alarm events ${got.length}`);
  expect(got).toEqual(want);
  expect(cold.acked).toBeGreaterThan(100);
  expect(total()).toBeGreaterThan(5000);
}, 120_000);
