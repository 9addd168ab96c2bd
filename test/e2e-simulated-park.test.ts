/**
 * The whole simulated park through the real broker, ingest and InfluxDB, with faults on:
 * what the simulators' summary says each device had acknowledged is exactly what InfluxDB
 * holds, device by device, and what they sent malformed is exactly what ingest refused, code
 * by code.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ident, influxql } from '../core/influx/influxql.ts';
import { runFleet } from '../simulators/fleet.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await new TestPlatform().start();
});
afterAll(async () => {
  await p?.stop();
});

async function storedPerDevice(): Promise<Map<string, number>> {
  const kinds = [...new Set([...p.model.devices.values()].map((d) => d.kind.id))];
  const out = new Map<string, number>();
  for (const k of kinds) {
    const res = await p.influx.query(influxql`SELECT count(${ident('seq')}) FROM ${ident(k)} GROUP BY ${ident('device')}`);
    for (const s of res[0] ?? []) out.set(s.tags!.device!, Number(s.values[0]![1]));
  }
  return out;
}

it('stores exactly what the simulators had acknowledged and refuses exactly what they sent malformed', async () => {
  const now = Date.now();
  const summary = await runFleet({
    model: p.model, url: p.mqttUrl, secrets: p.secrets, seed: 'e2e-park',
    backfill: { fromMs: now - 90 * 60_000, toMs: now - 30 * 60_000 }, batch: 20,
    faults: { malformed: 0.01, spike: 0.01, stuck: 0.01, skew: 0.005, dropout: 0.002, disconnect: 0.5 },
  });
  expect(summary.failedDevices).toEqual([]);
  expect(summary.devices).toHaveLength(p.model.devices.size);
  const refusedExpected = Object.values(summary.totals.expectedRefused).reduce((a, b) => a + (b ?? 0), 0);
  expect(summary.totals.expectedStored).toBeGreaterThan(20_000);
  expect(refusedExpected).toBeGreaterThan(50);
  await waitFor('everything stored', async () => {
    const m = await storedPerDevice();
    return [...m.values()].reduce((a, b) => a + b, 0) >= summary.totals.expectedStored;
  }, 60_000, 250);
  await waitFor('every refusal counted', async () => {
    const s = (await p.ingestStats()) ?? {};
    const n = Object.entries(s).filter(([k]) => k.startsWith('ingest_messages_refused_total')).reduce((a, [, v]) => a + Number(v), 0);
    return n >= refusedExpected;
  }, 30_000, 250);
  const stored = await storedPerDevice();
  for (const d of summary.devices) expect({ device: d.device, stored: stored.get(d.device) ?? 0 }).toEqual({ device: d.device, stored: d.expectedStored });
  const stats = (await p.ingestStats())!;
  for (const [code, n] of Object.entries(summary.totals.expectedRefused)) {
    expect({ code, refused: stats[`ingest_messages_refused_total{code="${code}"}`] }).toEqual({ code, refused: n });
  }
}, 120_000);
