/**
 * End-to-end slice of the contract fuzz: 400 generated hostile and valid payloads (the seeded
 * generator of test/harness/hostile.ts, plus poison messages that once crashed the parser)
 * published by real devices through the real broker and ingest into the real InfluxDB. Counted
 * exactly: every valid reading is stored with the values sent (text byte for byte), nothing else
 * is stored, every refused message is counted under its code and dead-lettered with it, and
 * ingest is still the same process at the end.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DLQ_TOPIC, deviceTopic, parseTelemetry, type DeadLetter, type Reading } from '../core/contract.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { HostileGenerator, Rng, type PayloadCase } from './harness/hostile.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

const N = 400;
let p: TestPlatform;
beforeAll(async () => {
  p = await new TestPlatform().start();
});
afterAll(async () => {
  await p?.stop();
});

it(`stores exactly the valid readings of ${N} hostile messages and refuses the rest with their codes`, async () => {
  const now = Date.now();
  const gen = new HostileGenerator(p.model, new Rng(0xe2e4), now);
  const kiln = p.model.devices.get('wm-kiln-1')!;
  const deep = '['.repeat(60_000) + ']'.repeat(60_000);
  const cases: PayloadCase[] = [
    { name: 'poison: deep array', device: kiln, payload: Buffer.from(deep), expect: 'SP_ERR_PAYLOAD_SHAPE' },
    { name: 'poison: deep metric', device: kiln, payload: Buffer.from(`{"ts":${now},"metrics":{"t_firing":${deep}}}`), expect: 'SP_ERR_METRIC_TYPE' },
    { name: 'poison: deep ts', device: kiln, payload: Buffer.from(`{"ts":${deep},"metrics":{"t_firing":1}}`), expect: 'SP_ERR_TIMESTAMP' },
  ];
  while (cases.length < N) cases.push(gen.payload(cases.length));

  const watcher = await p.connect('svc-api', { clientId: 'svc-api-fuzz-dlq' });
  const letters: DeadLetter[] = [];
  watcher.on('message', (topic, payload) => { if (topic === DLQ_TOPIC) letters.push(JSON.parse(payload.toString()) as DeadLetter); });
  await watcher.subscribeAsync(DLQ_TOPIC, { qos: 1 });

  const clients = new Map<string, MqttClient>();
  const refusedByCode: Record<string, number> = {};
  /** device -> ts -> the reading that must be stored there (the later one when two share a ts) */
  const expected = new Map<string, Map<number, Reading>>();
  const ingestPid = p.ingest!.pid;
  for (const c of cases) {
    // the oracle: the generator's expectation, checked against the parser at publish time
    const r = parseTelemetry(c.payload, c.device, Date.now());
    if (c.expect === 'ok') expect(r.ok, c.name).toBe(true);
    else if (c.expect !== 'refused' && c.expect !== ('any' as string)) expect(r.ok ? 'ok' : r.code, c.name).toBe(c.expect);
    if (r.ok) {
      const m = expected.get(c.device.id) ?? new Map<number, Reading>();
      for (const reading of r.value) {
        const prev = m.get(reading.ts); // InfluxDB merges points of one series and time, field by field
        const seq = reading.seq ?? prev?.seq;
        m.set(reading.ts, { ts: reading.ts, ...(seq === undefined ? {} : { seq }), metrics: { ...prev?.metrics, ...reading.metrics } });
      }
      expected.set(c.device.id, m);
    } else refusedByCode[r.code] = (refusedByCode[r.code] ?? 0) + 1;
    let client = clients.get(c.device.id);
    if (!client) clients.set(c.device.id, client = await p.connect(c.device.id));
    await client.publishAsync(deviceTopic(c.device, 'telemetry'), c.payload, { qos: 1 });
  }
  const refused = Object.values(refusedByCode).reduce((a, b) => a + b, 0);
  const points = [...expected.values()].reduce((a, m) => a + m.size, 0);
  expect(refused).toBeGreaterThan(N / 3);
  expect(points).toBeGreaterThan(N / 3);

  await waitFor('every message received and every refusal dead-lettered', async () => {
    const s = await p.ingestStats();
    return Number(s?.ingest_messages_received_total) >= N && letters.length >= refused;
  }, 30_000, 100);
  const stats = (await p.ingestStats())!;
  const refusedStats = Object.fromEntries(Object.entries(stats).filter(([k]) => k.startsWith('ingest_messages_refused_total'))
    .map(([k, v]) => [/code="([A-Z_]+)"/.exec(k)![1]!, Number(v)]));
  expect(refusedStats).toEqual(refusedByCode);
  const letterCodes: Record<string, number> = {};
  for (const l of letters) letterCodes[l.code] = (letterCodes[l.code] ?? 0) + 1;
  expect(letterCodes).toEqual(refusedByCode);
  expect(p.ingest!.pid).toBe(ingestPid);
  expect(p.ingest!.exitCode).toBeNull();

  // what InfluxDB holds: exactly the expected points, with the values sent
  for (const [id, want] of expected) {
    const d = p.model.devices.get(id)!;
    await waitFor(`points of ${id}`, async () => {
      const res = await p.influx.query(influxql`SELECT * FROM ${ident(d.kind.id)} WHERE "device" = ${id}`);
      return (res[0]?.[0]?.values.length ?? 0) >= want.size;
    }, 30_000, 200);
  }
  let checked = 0;
  for (const d of p.model.devices.values()) {
    const res = await p.influx.query(influxql`SELECT * FROM ${ident(d.kind.id)} WHERE "device" = ${d.id}`);
    const series = res[0]?.[0];
    const want = expected.get(d.id) ?? new Map<number, Reading>();
    expect({ id: d.id, points: series?.values.length ?? 0 }).toEqual({ id: d.id, points: want.size });
    if (!series) continue;
    for (const row of series.values) {
      const ts = row[0] as number;
      const reading = want.get(ts);
      expect(reading, `${d.id} ${ts} stored but never sent`).toBeDefined();
      for (const [name, v] of Object.entries(reading!.metrics)) {
        expect({ id: d.id, ts, name, v: row[series.columns.indexOf(name)] }).toEqual({ id: d.id, ts, name, v });
        checked++;
      }
      if (reading!.seq !== undefined) expect(row[series.columns.indexOf('seq')]).toBe(reading!.seq);
    }
  }
  expect(checked).toBeGreaterThan(points);
}, 120_000);
