/**
 * The whole path with real parts: a plain MQTT client with a device's credentials -> Aedes
 * broker -> ingest (child process) -> InfluxDB, counted and read back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic, DLQ_TOPIC, type DeadLetter } from '../core/contract.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await new TestPlatform().start();
});
afterAll(async () => {
  await p?.stop();
});

describe('pipeline', () => {
  it('stores exactly the N readings a device published, with their values', async () => {
    const id = 'wm-kiln-1';
    const dev = p.model.devices.get(id)!;
    const c = await p.connect(id);
    const t0 = Date.now() - 60_000;
    const N = 500;
    for (let i = 0; i < N; i++) {
      await c.publishAsync(deviceTopic(dev, 'telemetry'), JSON.stringify({
        ts: t0 + i * 100, seq: i,
        metrics: { t_firing: 1180 + (i % 20) / 4, gas_flow: 600.5 + i, run_state: i % 50 === 0 ? 'idle' : 'running' },
      }), { qos: 1 });
    }
    await waitFor('all points stored', async () => (await p.count(id)) >= N);
    await new Promise((r) => setTimeout(r, 300));
    expect(await p.count(id)).toBe(N);
    const res = await p.influx.query(influxql`SELECT ${ident('t_firing')}, ${ident('gas_flow')}, ${ident('run_state')}, ${ident('seq')} FROM ${ident('roller_kiln')} WHERE "device" = ${id} ORDER BY time ASC`);
    const rows = res[0]![0]!.values;
    expect(rows).toHaveLength(N);
    rows.forEach((r, i) => {
      expect(r).toEqual([t0 + i * 100, 1180 + (i % 20) / 4, 600.5 + i, i % 50 === 0 ? 'idle' : 'running', i]);
    });
  });

  it('refuses malformed messages to the dead-letter topic with a reason while good ones keep flowing', async () => {
    const id = 'al-cold-1';
    const dev = p.model.devices.get(id)!;
    const watcher = await p.connect('svc-api', { clientId: 'svc-api-dlq-watch' });
    const letters: DeadLetter[] = [];
    watcher.on('message', (topic, payload) => { if (topic === DLQ_TOPIC) letters.push(JSON.parse(payload.toString())); });
    await watcher.subscribeAsync(DLQ_TOPIC, { qos: 1 });
    const c = await p.connect(id);
    const topic = deviceTopic(dev, 'telemetry');
    const now = Date.now();
    const bad = [
      ['not json', 'SP_ERR_PAYLOAD_JSON'],
      [JSON.stringify({ ts: now, metrics: { temp: 'warm' } }), 'SP_ERR_METRIC_TYPE'],
      [JSON.stringify({ ts: now, metrics: { tmp: 4 } }), 'SP_ERR_UNKNOWN_METRIC'],
      ['{"ts": 1, "metrics": {"temp": 1e999}}', 'SP_ERR_TS_PAST'],
      [`{"ts": ${now}, "metrics": {"temp": 1e999}}`, 'SP_ERR_NON_FINITE'],
      [JSON.stringify({ ts: now + 3_600_000, metrics: { temp: 4 } }), 'SP_ERR_TS_FUTURE'],
      [JSON.stringify({ metrics: { temp: 4 } }), 'SP_ERR_TIMESTAMP'],
    ] as const;
    let good = 0;
    for (let i = 0; i < 40; i++) {
      await c.publishAsync(topic, JSON.stringify({ ts: now - 40_000 + i * 1000, metrics: { temp: 4 + i / 100, door_open: false } }), { qos: 1 });
      good++;
      const b = bad[i % bad.length];
      if (i < bad.length && b) await c.publishAsync(topic, b[0], { qos: 1 });
    }
    await waitFor('dead letters', () => letters.length >= bad.length);
    await waitFor('good readings', async () => (await p.count(id, 'temp')) >= good);
    expect(await p.count(id, 'temp')).toBe(good);
    expect(letters.map((l) => l.code)).toEqual(bad.map((b) => b[1]));
    for (const l of letters) {
      expect(l.device).toBe(id);
      expect(l.reason.length).toBeGreaterThan(10);
    }
    expect(letters[2]!.reason).toContain('"tmp"');
    const stats = await p.ingestStats();
    expect(stats?.['ingest_messages_refused_total{code="SP_ERR_PAYLOAD_JSON"}']).toBe(1);
  });
});
