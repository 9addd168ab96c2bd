/**
 * Store-and-forward, end to end: the gateway (child process) polls our field simulators and
 * reaches the broker through a TCP relay the test cuts. While the broker is unreachable the
 * readings pile up on disk and polling goes on; when it is back they are sent, in order, and
 * every reading is stored once. A `kill -9` of the gateway while it holds readings loses none of
 * them: after a restart everything after the buffer's checkpoint is sent.
 * The outage lasts GATEWAY_TEST_OUTAGE_S seconds (default 15; the bench does 60).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic, parseTopic } from '../core/contract.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { TcpLink } from './harness/fault-proxy.ts';
import { GatewayChild } from './harness/gateway.ts';
import { GATEWAY_YAML, startSimulatedField, type SimulatedField, useFastParkModel } from './harness/gateway-sim.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

const OUTAGE_MS = Number(process.env.GATEWAY_TEST_OUTAGE_S ?? 15) * 1000;
const INTERVAL = 200;
const DEVICES = ['wm-kiln-1', 'wm-gm-main', 'wm-wm-main'] as const;
/** A metric every reading of each device carries. */
const FIELD: Record<string, string> = { 'wm-kiln-1': 't_firing', 'wm-gm-main': 'flow', 'wm-wm-main': 'flow' };

let p: TestPlatform;
let link: TcpLink;
let field: SimulatedField;
let gw: GatewayChild;
let watcher: MqttClient;
/** (device, ts) in the order the broker delivered them. */
const arrivals: [string, number][] = [];

/** One poll group per profile, so each tick is one reading with its own ts. */
function oneGroup(profile: any): any {
  return { ...profile, pollGroups: { default: { intervalMs: INTERVAL } }, points: profile.points.map(({ group: _g, ...pt }: any) => pt) };
}

beforeAll(async () => {
  const park = useFastParkModel(INTERVAL);
  p = await new TestPlatform({ ingestEnv: { PARK_MODEL: park } }).start();
  link = new TcpLink(p.broker.ports.mqtt);
  await link.start();
  const y = GATEWAY_YAML();
  const timing = { timeoutMs: 300, retries: 1, backoff: { baseMs: 200, maxMs: 1000 } };
  const data = {
    profiles: Object.fromEntries(['roller-kiln-plc', 'gas-flow-computer-rtu', 'water-meter-rtu'].map((k) => [k, oneGroup(y.profiles[k])])),
    gateways: { 'gw-weimei-1': { connections: [
      { id: 'kiln-plc', protocol: 'modbus-tcp', host: '127.0.0.1', port: 1, ...timing, devices: [{ device: 'wm-kiln-1', unitId: 1, profile: 'roller-kiln-plc' }] },
      { id: 'rs485', protocol: 'modbus-rtu-tcp', host: '127.0.0.1', port: 2, ...timing, devices: [
        { device: 'wm-gm-main', unitId: 1, profile: 'gas-flow-computer-rtu' },
        { device: 'wm-wm-main', unitId: 2, profile: 'water-meter-rtu' },
      ] },
    ] } },
  };
  field = await startSimulatedField(p.model, data);
  watcher = await p.connect('svc-api', { clientId: 'svc-api-sf-watch' });
  watcher.on('message', (topic, payload) => {
    const t = parseTopic(topic);
    if (!t.ok) return;
    const body = JSON.parse(payload.toString()) as { ts?: number; readings?: { ts: number }[] };
    for (const r of body.readings ?? [body as { ts: number }]) arrivals.push([t.value.device, r.ts]);
  });
  await watcher.subscribeAsync(DEVICES.map((d) => deviceTopic(p.model.devices.get(d)!, 'telemetry')), { qos: 1 });
  gw = await new GatewayChild(p, { id: 'gw-weimei-1', config: field.config, mqttUrl: `mqtt://127.0.0.1:${link.port}` }).start();
}, 60_000);

afterAll(async () => {
  await gw?.kill('SIGTERM');
  await link?.close();
  await field?.sims.close();
  await p?.stop();
});

async function storedTs(device: string): Promise<number[]> {
  const d = p.model.devices.get(device)!;
  const res = await p.influx.query(influxql`SELECT ${ident(FIELD[device]!)} FROM ${ident(d.kind.id)} WHERE "device" = ${device} ORDER BY time ASC`);
  return (res[0]?.[0]?.values ?? []).map((r) => r[0] as number);
}

/** Every field device silent: polling produces no more readings, so the counts stand still. */
async function quiesce(): Promise<void> {
  for (const d of DEVICES) field.sims.device(d).fault = 'silent';
  await waitFor('devices offline', async () => (await gw.stat('gateway_devices_offline')) === DEVICES.length, 10_000);
  await waitFor('buffer drained', async () => (await gw.stat('gateway_buffer_pending_readings')) === 0 && (await gw.stat('gateway_publishes_inflight')) === 0, 60_000);
}

describe('gateway store-and-forward', () => {
  it(`keeps polling while the broker is unreachable (${OUTAGE_MS / 1000} s) and stores every reading once, in order, when it is back`, async () => {
    await waitFor('readings acknowledged', async () => (await gw.stat('gateway_readings_acked_total')) >= 10);
    link.cut();
    const cutAt = Date.now();
    await waitFor('gateway sees the broker gone', async () => (await gw.stat('gateway_mqtt_connected')) === 0, 10_000);
    const acked = await gw.stat('gateway_readings_acked_total');
    const buffered = await gw.stat('gateway_readings_buffered_total');
    await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - cutAt)));
    const s = (await gw.stats())!;
    expect(s.gateway_readings_acked_total).toBe(acked); // nothing got through
    // polling went on: about one reading per device and interval, all on disk
    const expected = (DEVICES.length * OUTAGE_MS) / INTERVAL;
    expect(s.gateway_readings_buffered_total - buffered).toBeGreaterThan(expected * 0.8);
    expect(s.gateway_buffer_pending_readings).toBeGreaterThan(expected * 0.8);
    link.restore();
    await quiesce();
    for (const d of DEVICES) {
      const polled = await gw.stat(`gateway_device_readings_total{device="${d}"}`);
      await waitFor(`${d}: ${polled} readings stored`, async () => (await storedTs(d)).length >= polled, 30_000);
      const ts = await storedTs(d);
      expect(ts.length, `${d} stored once each`).toBe(polled);
      // no hole where the outage was: consecutive readings at most a few intervals apart
      const outage = ts.filter((t) => t > cutAt && t < cutAt + OUTAGE_MS);
      expect(outage.length).toBeGreaterThan((OUTAGE_MS / INTERVAL) * 0.8);
      for (let i = 1; i < outage.length; i++) expect(outage[i]! - outage[i - 1]!).toBeLessThan(4 * INTERVAL);
      // in order: each reading the broker delivered for the first time is newer than all before it
      const seen = new Set<number>();
      let last = 0;
      for (const [dev, t] of arrivals) {
        if (dev !== d || seen.has(t)) continue;
        seen.add(t);
        expect(t).toBeGreaterThan(last);
        last = t;
      }
      expect(seen.size).toBe(polled);
    }
    expect(await gw.stat('gateway_readings_dropped_total')).toBe(0);
  }, OUTAGE_MS + 90_000);

  it('loses nothing that was in the buffer when the gateway is killed with -9 and started again', async () => {
    for (const d of DEVICES) field.sims.device(d).fault = 'none';
    await waitFor('devices online', async () => (await gw.stat('gateway_devices_online')) === DEVICES.length, 10_000);
    link.cut();
    await waitFor('readings pile up', async () => (await gw.stat('gateway_buffer_pending_readings')) >= 30, 20_000);
    await gw.kill('SIGKILL');
    const held = bufferedReadings(gw.bufferDir);
    expect(held.length).toBeGreaterThanOrEqual(30);
    link.restore();
    await gw.start();
    await waitFor('buffer drained after the restart', async () => (await gw.stat('gateway_buffer_pending_readings')) < 5, 30_000);
    for (const d of DEVICES) {
      const want = held.filter(([dev]) => dev === d).map(([, t]) => t);
      await waitFor(`${d}: the ${want.length} readings held at the kill stored`, async () => {
        const got = new Set(await storedTs(d));
        return want.every((t) => got.has(t));
      }, 30_000);
    }
  });
});

/** (device, ts) of every record after the buffer's checkpoint, read from its files. */
function bufferedReadings(dir: string): [string, number][] {
  const cp = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { segment: number; offset: number };
  const out: [string, number][] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.log')).sort()) {
    const seg = Number(f.slice(0, 12));
    if (seg < cp.segment) continue;
    const buf = readFileSync(join(dir, f));
    const text = buf.subarray(seg === cp.segment ? cp.offset : 0).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line) continue;
      const sp = line.indexOf(' ');
      out.push([line.slice(0, sp), (JSON.parse(line.slice(sp + 1)) as { ts: number }).ts]);
    }
  }
  return out;
}
