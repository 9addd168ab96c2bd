/**
 * The park's own register maps (config/gateway.yaml, as `npm run up` runs them) read from our
 * field simulators through the gateway into InfluxDB: every metric of every device of
 * gw-weimei-1 — Modbus TCP PLCs, Modbus RTU meters on one line, a DL/T 645 meter — equals what
 * the simulated device shows in its registers, scaled as its profile says. The simulators'
 * clock is frozen, so the registers hold still while the test compares.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlt645MeterValue, dlt645MetricValue, modbusMetricValue, modbusRawValue, type DeviceBinding } from '../core/fieldbus/config.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { GatewayChild } from './harness/gateway.ts';
import { GATEWAY_YAML, startSimulatedField, withIntervals, type SimulatedField, useFastParkModel } from './harness/gateway-sim.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
let field: SimulatedField;
let gw: GatewayChild;
const FROZEN = Date.now() - 3_600_000;

beforeAll(async () => {
  const park = useFastParkModel(500);
  p = await new TestPlatform({ ingestEnv: { PARK_MODEL: park } }).start();
  const y = GATEWAY_YAML();
  const data = { profiles: withIntervals(y.profiles, 500), gateways: { 'gw-weimei-1': y.gateways['gw-weimei-1'] } };
  field = await startSimulatedField(p.model, data, { now: () => FROZEN });
  gw = await new GatewayChild(p, { id: 'gw-weimei-1', config: field.config }).start();
}, 60_000);

afterAll(async () => {
  await gw?.kill('SIGTERM');
  await field?.sims.close();
  await p?.stop();
});

/** What the gateway should publish for a device: its simulated metrics through the register map and back. */
function expected(b: DeviceBinding, metrics: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const defs = b.device.kind.metrics;
  if (b.protocol === 'modbus') {
    for (const pt of b.profile.points) {
      const v = modbusMetricValue(pt, modbusRawValue(pt, metrics[pt.metric] as never), defs.get(pt.metric)!);
      if ('value' in v) out[pt.metric] = v.value;
    }
  } else {
    for (const pt of b.profile.points) {
      const def = defs.get(pt.metric)!;
      const v = dlt645MetricValue(pt, dlt645MeterValue(pt, metrics[pt.metric] as number, def.type === 'counter'), def);
      if ('value' in v) out[pt.metric] = v.value;
    }
  }
  return out;
}

describe('gateway values from our field simulators', () => {
  it('stores what each simulated device holds, for every device and metric of the park\'s gw-weimei-1', async () => {
    const bindings = field.sims.listeners.flatMap((l) => l.devices.map((d) => d.binding));
    expect(bindings.map((b) => b.device.id).sort()).toEqual(['wm-dryer-1', 'wm-em-main', 'wm-gm-main', 'wm-kiln-1', 'wm-wm-main']);
    for (const b of bindings) {
      const want = expected(b, field.sims.device(b.device.id).snapshot().metrics);
      expect(Object.keys(want).length).toBe(b.profile.points.length);
      const got: Record<string, unknown> = {};
      await waitFor(`${b.device.id}: every metric stored`, async () => {
        for (const m of Object.keys(want)) {
          const res = await p.influx.query(influxql`SELECT last(${ident(m)}) FROM ${ident(b.device.kind.id)} WHERE "device" = ${b.device.id}`);
          got[m] = res[0]?.[0]?.values[0]?.[1];
        }
        return Object.values(got).every((v) => v !== undefined);
      }, 30_000, 250);
      expect({ device: b.device.id, ...got }).toEqual({ device: b.device.id, ...want });
    }
  });

  it('numbers each reading by its slot on the device\'s interval grid (seq = ts ÷ intervalMs), as the KPIs count it', async () => {
    for (const id of ['wm-kiln-1', 'wm-em-main']) {
      const d = p.model.devices.get(id)!;
      const res = await p.influx.query(influxql`SELECT ${ident('seq')} FROM ${ident(d.kind.id)} WHERE "device" = ${id} AND ${ident('seq')} >= 0`);
      const rows = res[0]?.[0]?.values ?? [];
      expect(rows.length, id).toBeGreaterThan(0);
      for (const [t, seq] of rows) expect(seq, `${id} at ${t}`).toBe(Math.floor(Number(t) / d.intervalMs));
    }
  });

  it('publishes each device\'s status online, retained, on its status topic', async () => {
    const c = await p.connect('svc-api', { clientId: 'svc-api-retained' });
    const seen = new Map<string, { state: string }>();
    c.on('message', (topic, payload) => seen.set(topic, JSON.parse(payload.toString())));
    await c.subscribeAsync('sp/v1/+/+/+/+/status', { qos: 1 });
    await waitFor('retained statuses', () => ['wm-kiln-1', 'wm-em-main'].every((d) => seen.get(`sp/v1/guangfu/weimei/tile/${d}/status`)?.state === 'online'));
  });
});
