/**
 * The broker's JetStream stage (broker/aedes/jetstream-stage.ts), with a real 3-server NATS cluster
 * and the broker as a child process (broker/main.ts, MQTT_JETSTREAM_URL set): a device's PUBACK
 * arrives only once the stream holds its message; a resend of the same bytes is stored once; at the
 * stream's byte limit the device gets no PUBACK until there is room again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../core/contract.ts';
import { partitionOf, teleSubject } from '../cluster/subjects.ts';
import { TestCluster, } from './harness/cluster.ts';
import { waitFor } from './harness/platform.ts';

const MAX_BYTES = 1024 * 1024;
let c: TestCluster;
beforeAll(async () => {
  c = await new TestCluster({ brokerEnv: { MQTT_JETSTREAM_MAX_BYTES: String(MAX_BYTES), MQTT_JETSTREAM_ACK_TIMEOUT_MS: '1000' } }).start(1);
}, 60_000);
afterAll(async () => {
  await c?.stop();
});

const subjectOf = (id: string) => teleSubject(partitionOf(id, 16), id, 'telemetry')!;
async function onSubject(subject: string): Promise<number> {
  const info = await (await c.jsm()).streams.info('TELE', { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

describe('broker JetStream stage', () => {
  it('sends a PUBACK only once the stream holds the message', async () => {
    const id = 'wm-mill-1';
    const d = c.model.devices.get(id)!;
    const dev = await c.connect(id, c.brokerUrl(0));
    const jsm = await c.jsm();
    const base = Date.now() - 60_000;
    // one at a time: at each PUBACK, the last message on the device's subject is the one just acknowledged
    for (let s = 0; s < 50; s++) {
      const body = JSON.stringify({ ts: base + s, seq: s, metrics: { power: s } });
      await dev.publishAsync(deviceTopic(d, 'telemetry'), body, { qos: 1 });
      const m = await jsm.streams.getMessage('TELE', { last_by_subj: subjectOf(id) });
      expect(new TextDecoder().decode(m.data)).toBe(body);
    }
    // 20 in flight: at each PUBACK, the stream holds at least as many as were acknowledged by then
    let acked = 50;
    const shortfalls: number[] = [];
    const checks: Promise<void>[] = [];
    const latencies: number[] = [];
    const inflight = new Set<Promise<unknown>>();
    for (let s = 50; s < 1050; s++) {
      const t0 = performance.now();
      const pr = dev.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ ts: base + s, seq: s, metrics: { power: s } }), { qos: 1 }).then(() => {
        latencies.push(performance.now() - t0);
        const atAck = ++acked;
        checks.push(onSubject(subjectOf(id)).then((n) => { if (n < atAck) shortfalls.push(atAck - n); }));
      }).finally(() => inflight.delete(pr));
      inflight.add(pr);
      if (inflight.size >= 20) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    await Promise.all(checks);
    latencies.sort((a, b) => a - b);
    console.log(`[cluster-broker] 1000 publishes, 20 in flight: PUBACK after JetStream p50 ${latencies[500]!.toFixed(1)} ms, p99 ${latencies[990]!.toFixed(1)} ms`);
    expect(shortfalls).toEqual([]);
    expect(await onSubject(subjectOf(id))).toBe(1050);
  });

  it('stores a resend of the same bytes once', async () => {
    const id = 'wm-mill-2';
    const d = c.model.devices.get(id)!;
    const body = JSON.stringify({ ts: Date.now() - 1000, seq: 0, metrics: { power: 1 } });
    const dev = await c.connect(id, c.brokerUrl(0));
    await dev.publishAsync(deviceTopic(d, 'telemetry'), body, { qos: 1 });
    await dev.endAsync();
    // a device that got no PUBACK reconnects and sends the same message again
    const again = await c.connect(id, c.brokerUrl(0));
    await again.publishAsync(deviceTopic(d, 'telemetry'), body, { qos: 1, dup: true });
    await again.publishAsync(deviceTopic(d, 'telemetry'), body, { qos: 1 });
    expect(await onSubject(subjectOf(id))).toBe(1);
    const stats = await c.brokerStats(0);
    expect(stats?.mqtt_jetstream_duplicates_total).toBeGreaterThanOrEqual(2);
  });

  it('withholds the PUBACK while the stream is at its limit, and sends it once there is room', async () => {
    const id = 'wm-press-1';
    const d = c.model.devices.get(id)!;
    const dev = await c.connect(id, c.brokerUrl(0));
    const chunk = 'x'.repeat(100 * 1024);
    let acked = 0;
    let held: Promise<unknown> | undefined;
    for (let s = 0; s < 20 && !held; s++) {
      const pr = dev.publishAsync(deviceTopic(d, 'telemetry'), `${s}:${chunk}`, { qos: 1 });
      const got = await Promise.race([pr.then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
      if (got) acked++;
      else held = pr;
    }
    expect(held).toBeDefined(); // the stream filled up: no PUBACK within 3 s
    expect(acked).toBeGreaterThanOrEqual(5);
    const info = await (await c.jsm()).streams.info('TELE');
    expect(info.state.bytes).toBeLessThanOrEqual(MAX_BYTES);
    const onSubjectBefore = await onSubject(subjectOf(id));
    expect(onSubjectBefore).toBe(acked); // the held message is not in the stream
    await waitFor('the stage to count stream_full retries', async () => ((await c.brokerStats(0))?.['mqtt_jetstream_retries_total{reason="stream_full"}'] ?? 0) > 0, 5000, 100);
    let released = false;
    void held!.then(() => { released = true; });
    await new Promise((r) => setTimeout(r, 1500));
    expect(released).toBe(false); // still held
    // the workers catch up (here: the stream is purged), and the held PUBACK arrives
    await (await c.jsm()).streams.purge('TELE');
    await waitFor('the held PUBACK', () => released, 10_000, 50);
    expect(await onSubject(subjectOf(id))).toBe(1);
  });
});
