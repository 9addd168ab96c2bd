/**
 * The fleet runner against a real in-process Aedes broker: what the summary says was
 * acknowledged is exactly what a subscriber receives, and core's parseTelemetry stores and
 * refuses exactly what the summary predicts (expectedStored, expectedRefused).
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALL_STATUS, ALL_TELEMETRY, parseTelemetry, resolveTopic } from '../core/contract.ts';
import { loadParkModel } from '../core/model-file.ts';
import { runFleet } from '../simulators/fleet.ts';
import type { FleetSummary } from '../simulators/summary.ts';

const model = loadParkModel();
const secrets: Record<string, string> = Object.fromEntries([...model.devices.keys()].map((id) => [id, `pw-${id}`]));

interface Seen { valid: number[]; seqs: number[]; refused: Record<string, number>; messages: number; statuses: string[] }
const seen = new Map<string, Seen>();
const at = (id: string): Seen => {
  let s = seen.get(id);
  if (!s) seen.set(id, (s = { valid: [], seqs: [], refused: {}, messages: 0, statuses: [] }));
  return s;
};

let broker: Aedes;
let server: net.Server;
let sub: MqttClient;
let url: string;

beforeAll(async () => {
  broker = await Aedes.createBroker({
    authenticate: (_client, username, password, done) => {
      const ok = username === 'test-sub' || (username !== undefined && secrets[username] === password?.toString());
      done(null, ok);
    },
  });
  server = net.createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  sub = await mqtt.connectAsync(url, { clientId: 'test-sub', username: 'test-sub', password: 'x' });
  sub.on('message', (topic, payload) => {
    const r = resolveTopic(model, topic);
    if (!r.ok) return;
    const s = at(r.value.device.id);
    if (r.value.channel === 'status') {
      s.statuses.push(payload.toString());
      return;
    }
    s.messages++;
    const p = parseTelemetry(payload, r.value.device, Date.now());
    if (!p.ok) s.refused[p.code] = (s.refused[p.code] ?? 0) + 1;
    else for (const x of p.value) {
      s.valid.push(x.ts);
      s.seqs.push(x.seq ?? -1);
    }
  });
  await sub.subscribeAsync([ALL_TELEMETRY, ALL_STATUS], { qos: 1 });
});

afterAll(async () => {
  await sub?.endAsync();
  await new Promise<void>((r) => broker?.close(() => r()));
  await new Promise<void>((r) => server?.close(() => r()));
});

beforeEach(() => seen.clear());

/** Waits until the subscriber has received every acknowledged telemetry message. */
async function delivered(s: FleetSummary): Promise<void> {
  const want = s.totals.messages.acked + s.totals.malformed.acked + s.totals.outOfRange.acked;
  const deadline = Date.now() + 5000;
  while ([...seen.values()].reduce((n, x) => n + x.messages, 0) < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50)); // and nothing more arrives
}

describe('fleet runner over a real broker', () => {
  it('delivers exactly the acknowledged readings, and ingest would store and refuse exactly what the summary predicts', async () => {
    const ids = ['wm-kiln-1', 'wm-sort-1', 'al-cold-1', 'al-ahu-2', 'al-fd-1', 'dj-comp-1', 'xb-loom-1', 'wm-em-main'];
    const s = await runFleet({
      model, url, secrets, select: { ids }, intervalMs: 20, readings: 60, batch: 4, seed: 'fleet-1',
      faults: { malformed: 0.1, skew: 0.08, spike: 0.05, stuck: 0.05, dropout: 0.03, dropoutMs: 100, disconnect: 0 },
    });
    await delivered(s);
    expect(s.failedDevices).toEqual([]);
    expect(s.totals.errors).toBe(0);
    expect(s.totals.malformed.acked).toBeGreaterThan(10);
    expect(s.totals.outOfRange.acked).toBeGreaterThan(5);
    expect(s.totals.expectedStored).toBeGreaterThan(300);
    for (const d of s.devices) {
      const got = at(d.device);
      expect(d.slots, d.device).toBe(60);
      expect(d.readings.acked, d.device).toBe(d.readings.published);
      expect(got.valid.length, d.device).toBe(d.expectedStored);
      expect(got.refused, d.device).toEqual(d.expectedRefused);
      expect(got.messages, d.device).toBe(d.messages.acked + d.malformed.acked + d.outOfRange.acked);
      expect(Math.min(...got.seqs), d.device).toBe(d.seqFirst);
      expect(Math.max(...got.seqs), d.device).toBe(d.seqLast);
      expect(d.slots, d.device).toBe(d.readings.published + d.malformed.published + d.outOfRange.published + d.silentSlots);
      expect(JSON.parse(got.statuses[0] ?? '{}').state, d.device).toBe('online');
      expect(JSON.parse(got.statuses.at(-1) ?? '{}').state, d.device).toBe('offline');
    }
  });

  it('keeps counting right through abrupt disconnects: the broker sends the last will, nothing acknowledged is lost', async () => {
    const s = await runFleet({
      model, url, secrets, select: { ids: ['al-cold-2', 'dj-weld-1', 'xb-loom-2'] }, intervalMs: 20, readings: 80, seed: 'drop',
      faults: { dropout: 0.06, dropoutMs: 120, disconnect: 1 }, reconnectPeriodMs: 50,
    });
    await delivered(s);
    expect(s.totals.disconnects).toBeGreaterThan(2);
    for (const d of s.devices) {
      const got = at(d.device);
      // QoS 1 may deliver a message twice after a reconnect; a reading is stored once per timestamp.
      expect(new Set(got.valid).size, d.device).toBe(d.expectedStored);
      expect(d.readings.acked, d.device).toBe(d.readings.published);
      if (d.disconnects > 0) {
        expect(got.statuses, d.device).toContain('{"state":"offline"}'); // the last will
        expect(d.status.acked, d.device).toBeGreaterThan(2); // online again after the reconnect
      }
    }
  });

  it('stopping during a dropout comes back to flush what was in flight, then says offline, promptly', async () => {
    const t0 = Date.now();
    // With this seed al-cold-2 reports 5 readings (a batch of 4, then 1 pending), then drops its
    // connection for ~10 s: the last batch is in flight when the run ends.
    const s = await runFleet({
      model, url, secrets, select: { ids: ['al-cold-2'] }, intervalMs: 20, readings: 10, batch: 4, seed: 'end-in-dropout',
      faults: { dropout: 0.5, dropoutMs: 10_000, disconnect: 1 },
    });
    await delivered(s);
    expect(Date.now() - t0).toBeLessThan(4500); // neither the 10 s dropout nor the 5 s drain timeout (margin for a loaded machine)
    const d = s.devices[0];
    expect([d?.disconnects, d?.readings.published, d?.readings.acked, d?.expectedStored]).toEqual([1, 5, 5, 5]);
    expect(d?.status).toEqual({ published: 3, acked: 3 }); // online, online again, offline
    expect(at('al-cold-2').valid).toHaveLength(5);
    expect(JSON.parse(at('al-cold-2').statuses.at(-1) ?? '{}').state).toBe('offline');
  });

  it('backfills a past range in batches with device timestamps inside it', async () => {
    const toMs = Math.floor(Date.now() / 1000) * 1000;
    const fromMs = toMs - 2 * 3_600_000;
    const s = await runFleet({ model, url, secrets, select: { ids: ['wm-kiln-1', 'al-cold-1', 'al-ahu-1', 'wm-em-main'] }, backfill: { fromMs, toMs }, batch: 50, seed: 'bf' });
    await delivered(s);
    expect(s.mode).toBe('backfill');
    for (const d of s.devices) {
      const got = at(d.device);
      const interval = (model.devices.get(d.device)?.intervalMs ?? 0);
      expect(d.slots, d.device).toBeGreaterThanOrEqual(7_200_000 / interval - 1);
      expect(d.expectedStored, d.device).toBe(d.slots);
      expect(got.valid.length, d.device).toBe(d.expectedStored);
      expect(d.messages.acked, d.device).toBe(Math.ceil(d.slots / 50));
      expect(Math.min(...got.valid), d.device).toBeGreaterThanOrEqual(fromMs);
      expect(Math.max(...got.valid), d.device).toBeLessThan(toMs);
      expect(new Set(got.valid).size, d.device).toBe(got.valid.length);
    }
  });

  it('reports a device whose password the broker refuses, and runs the others', async () => {
    const s = await runFleet({
      model, url, secrets: { ...secrets, 'xb-loom-3': 'wrong' }, select: { kinds: ['loom'] }, intervalMs: 20, readings: 5, connectTimeoutMs: 2000,
    });
    expect(s.failedDevices).toEqual(['xb-loom-3']);
    const bad = s.devices.find((d) => d.device === 'xb-loom-3');
    expect(bad?.errors).toBe(1);
    expect(bad?.lastError).toMatch(/not authorized|bad user/i);
    expect(s.devices.filter((d) => d.device !== 'xb-loom-3').map((d) => d.expectedStored)).toEqual([5, 5]);
  });

  it('stops cleanly on the abort signal: offline status published, summary returned', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 700);
    const t0 = Date.now();
    const s = await runFleet({ model, url, secrets, select: { workshops: ['weaving'] }, intervalMs: 100, signal: stop.signal });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(s.stoppedBy).toBe('signal');
    await delivered(s);
    for (const d of s.devices) {
      expect(d.expectedStored, d.device).toBeGreaterThan(1);
      expect(at(d.device).valid.length, d.device).toBe(d.expectedStored);
      expect(JSON.parse(at(d.device).statuses.at(-1) ?? '{}').state, d.device).toBe('offline');
    }
  });
});
