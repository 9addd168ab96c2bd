/**
 * Values through the gateway land in InfluxDB exactly: every data type in every byte/word order,
 * scale and offset, 64-bit counters past 2^32 (and up to 2^53), enum maps, bits of a register,
 * coils and discrete inputs — read from a FOREIGN Modbus server (Debian's pymodbus, which packs
 * the raw values with Python's struct) over Modbus TCP and over Modbus RTU framing on TCP, by
 * the gateway as a child process, through the real broker and ingest. Coalesced reads are
 * fewer requests than points, counted at the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, influxql } from '../core/influx/influxql.ts';
import { connection, GatewayChild, PyModbus } from './harness/gateway.ts';
import { useFastParkModel } from './harness/gateway-sim.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

type Space = 'holding' | 'input' | 'coil' | 'discrete';
interface Case {
  metric: string; space: Space; type?: string; order?: string; scale?: number; offset?: number; bit?: number;
  values?: Record<number, string>; unit?: string;
  /** What the server holds: a value packed by Python's struct, or raw register words / a bit. */
  raw: number | boolean | { words: number[] };
  expected: number | string | boolean;
}

const REGS: Record<string, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, float64: 4, int64: 4, uint64: 4, bit: 1 };

/** Devices (park model id, kind's measurement, unit id) and their cases; addresses follow each other so one read serves a device. */
const WEIMEI_TCP: [string, number, Case[]][] = [
  ['wm-kiln-1', 1, [
    { metric: 't_preheat', space: 'holding', type: 'int16', order: 'ABCD', scale: 0.1, unit: 'degC', raw: -1234, expected: -123.4 },
    { metric: 't_firing', space: 'holding', type: 'int16', order: 'BADC', offset: 0.5, unit: 'degC', raw: 1189, expected: 1189.5 },
    { metric: 't_cooling', space: 'holding', type: 'uint16', order: 'ABCD', scale: 0.01, unit: 'degC', raw: 65535, expected: 655.35 },
    { metric: 'sp_firing', space: 'holding', type: 'uint16', order: 'DCBA', unit: 'degC', raw: 0x1234, expected: 4660 },
    { metric: 'gas_flow', space: 'holding', type: 'int32', order: 'ABCD', scale: 0.001, unit: 'm3/h', raw: -2_000_000_000, expected: -2_000_000 },
    { metric: 'fan_power', space: 'holding', type: 'int32', order: 'CDAB', scale: 0.01, unit: 'kW', raw: 305_419_896, expected: 3_054_198.96 },
    { metric: 'output_rate', space: 'holding', type: 'int32', order: 'BADC', offset: 10, unit: 'm2/h', raw: -7, expected: 3 },
    { metric: 'run_state', space: 'holding', type: 'uint16', values: { 0: 'stopped', 1: 'running', 2: 'idle', 3: 'fault' }, raw: 2, expected: 'idle' },
  ]],
  ['wm-dryer-1', 2, [
    { metric: 'temp', space: 'input', type: 'int32', order: 'DCBA', scale: 0.01, unit: 'degC', raw: 123_456, expected: 1234.56 },
    { metric: 'gas_flow', space: 'input', type: 'uint32', order: 'ABCD', unit: 'm3/h', raw: 4_294_967_295, expected: 4_294_967_295 },
    { metric: 'power', space: 'input', type: 'uint32', order: 'CDAB', scale: 0.1, offset: -5, unit: 'kW', raw: 3_000_000_000, expected: 299_999_995 },
    { metric: 'run_state', space: 'input', type: 'int16', values: { 0: 'stopped', 1: 'running', 2: 'idle', 3: 'fault' }, raw: 3, expected: 'fault' },
  ]],
];
const WEIMEI_RTU: [string, number, Case[]][] = [
  ['wm-em-main', 1, [
    { metric: 'energy', space: 'holding', type: 'uint64', order: 'ABCD', scale: 0.01, unit: 'kWh', raw: 5_000_000_000_123, expected: 50_000_000_001.23 },
    { metric: 'power', space: 'holding', type: 'uint32', order: 'BADC', unit: 'kW', raw: 65_537, expected: 65_537 },
    { metric: 'power_factor', space: 'holding', type: 'uint32', order: 'DCBA', scale: 0.001, unit: '1', raw: 987, expected: 0.987 },
  ]],
  ['wm-gm-main', 2, [
    { metric: 'volume', space: 'holding', type: 'uint64', order: 'CDAB', unit: 'm3', raw: 4_294_967_313, expected: 4_294_967_313 },
    { metric: 'flow', space: 'holding', type: 'float32', order: 'ABCD', unit: 'm3/h', raw: 123.456, expected: 123.456 },
    { metric: 'pressure', space: 'holding', type: 'float32', order: 'CDAB', unit: 'kPa', raw: -0.5, expected: -0.5 },
  ]],
  ['wm-wm-main', 3, [
    { metric: 'volume', space: 'holding', type: 'int64', order: 'BADC', unit: 't', raw: 9_007_199_254_740_991, expected: 9_007_199_254_740_991 },
    { metric: 'flow', space: 'holding', type: 'float32', order: 'BADC', unit: 't/h', raw: 3.14159, expected: 3.14159 },
  ]],
];
const AOLONG_TCP: [string, number, Case[]][] = [
  ['al-fd-1', 1, [
    { metric: 'shelf_temp', space: 'holding', type: 'float32', order: 'DCBA', unit: 'degC', raw: -45.5, expected: -45.5 },
    { metric: 'condenser_temp', space: 'holding', type: 'float64', order: 'ABCD', unit: 'degC', raw: -273.15, expected: -273.15 },
    { metric: 'chamber_pressure', space: 'holding', type: 'float64', order: 'CDAB', unit: 'Pa', raw: 1189.123456789, expected: 1189.123456789 },
    { metric: 'power', space: 'holding', type: 'float64', order: 'BADC', scale: 0.5, offset: 1, unit: 'kW', raw: 648.2, expected: 325.1 },
    { metric: 'phase', space: 'holding', type: 'uint32', order: 'CDAB', values: { 0: 'idle', 3: 'primary_drying' }, raw: 3, expected: 'primary_drying' },
  ]],
  ['al-cold-1', 2, [
    { metric: 'temp', space: 'holding', type: 'float64', order: 'DCBA', unit: 'degC', raw: 0.001, expected: 0.001 },
    { metric: 'humidity', space: 'holding', type: 'int64', order: 'ABCD', scale: 0.000001, offset: 5050, unit: '%RH', raw: -5_000_000_000, expected: 50 },
    { metric: 'power', space: 'holding', type: 'int64', order: 'CDAB', scale: 0.000001, unit: 'kW', raw: 1_234_567_890_123, expected: 1_234_567.890123 },
    { metric: 'compressor_on', space: 'holding', type: 'bit', bit: 13, raw: { words: [0x2000] }, expected: true },
    { metric: 'door_open', space: 'discrete', raw: true, expected: true },
  ]],
];
const AOLONG_RTU: [string, number, Case[]][] = [
  ['al-em-hvac', 7, [
    { metric: 'energy', space: 'holding', type: 'int64', order: 'DCBA', scale: 0.001, unit: 'kWh', raw: 4_294_967_297, expected: 4_294_967.297 },
    { metric: 'power', space: 'holding', type: 'uint64', order: 'BADC', unit: 'kW', raw: 281_474_976_710_656, expected: 281_474_976_710_656 },
    { metric: 'power_factor', space: 'holding', type: 'uint64', order: 'DCBA', scale: 0.005, unit: '1', raw: 123, expected: 0.615 },
  ]],
];

/** Profile points and the pymodbus spec of one device's cases (addresses assigned in order, per space). */
function layout(cases: Case[]) {
  const next: Record<Space, number> = { holding: 0, input: 0, coil: 0, discrete: 0 };
  const points: Record<string, unknown>[] = [];
  const spec: Record<string, any> = { values: [] };
  for (const c of cases) {
    const address = next[c.space];
    next[c.space] += c.space === 'coil' || c.space === 'discrete' ? 1 : REGS[c.type!]!;
    const { metric, space, type, order, scale, offset, bit, values, unit } = c;
    points.push(Object.fromEntries(Object.entries({ metric, register: space, address, type, order, scale, offset, bit, values, unit }).filter(([, v]) => v !== undefined)));
    if (typeof c.raw === 'boolean') (spec[space] ??= {})[address] = c.raw;
    else if (typeof c.raw === 'object') c.raw.words.forEach((w, i) => { (spec[space] ??= {})[address + i] = w; });
    else spec.values.push({ space, address, type, order: order ?? 'ABCD', value: c.raw });
  }
  return { points, spec };
}

function setup(devices: [string, number, Case[]][], interval = 400) {
  const profiles: Record<string, unknown> = {};
  const spec: Record<string, unknown> = {};
  const bindings = devices.map(([id, unitId, cases]) => {
    const l = layout(cases);
    profiles[`test-${id}`] = { protocol: 'modbus', pollGroups: { default: { intervalMs: interval } }, points: l.points };
    spec[unitId] = l.spec;
    return { device: id, unitId, profile: `test-${id}` };
  });
  return { profiles, spec, bindings };
}

let p: TestPlatform;
const servers = new Map<string, PyModbus>();
const gateways = new Map<string, GatewayChild>();
const all = [...WEIMEI_TCP, ...WEIMEI_RTU, ...AOLONG_TCP, ...AOLONG_RTU];

beforeAll(async () => {
  const park = useFastParkModel(400);
  p = await new TestPlatform({ ingestEnv: { PARK_MODEL: park } }).start();
  const start = async (gw: string, tcp: [string, number, Case[]][], rtu: [string, number, Case[]][]) => {
    const a = setup(tcp);
    const b = setup(rtu);
    const s1 = await new PyModbus(p.dir, 'socket', a.spec).start();
    const s2 = await new PyModbus(p.dir, 'rtu', b.spec).start();
    servers.set(`${gw}-plc`, s1).set(`${gw}-rs485`, s2);
    const config = {
      profiles: { ...a.profiles, ...b.profiles },
      gateways: { [gw]: { connections: [
        connection(`${gw}-plc`, 'modbus-tcp', s1.port, a.bindings),
        connection(`${gw}-rs485`, 'modbus-rtu-tcp', s2.port, b.bindings),
      ] } },
    };
    gateways.set(gw, await new GatewayChild(p, { id: gw, config }).start());
  };
  await Promise.all([start('gw-weimei-1', WEIMEI_TCP, WEIMEI_RTU), start('gw-aolong-1', AOLONG_TCP, AOLONG_RTU)]);
}, 90_000);

afterAll(async () => {
  await Promise.all([...gateways.values()].map((g) => g.kill('SIGTERM')));
  await Promise.all([...servers.values()].map((s) => s.stop()));
  await p?.stop();
});

async function lastValues(device: string, metrics: string[]): Promise<Record<string, unknown>> {
  const d = p.model.devices.get(device)!;
  const out: Record<string, unknown> = {};
  for (const m of metrics) {
    const res = await p.influx.query(influxql`SELECT last(${ident(m)}) FROM ${ident(d.kind.id)} WHERE "device" = ${device}`);
    out[m] = res[0]?.[0]?.values[0]?.[1];
  }
  return out;
}

describe('gateway values from a foreign Modbus server (pymodbus)', () => {
  it('stores every data type, word order, scale and offset exactly, over Modbus TCP and RTU over TCP', async () => {
    for (const [id, , cases] of all) {
      const metrics = cases.map((c) => c.metric);
      await waitFor(`${id}: all metrics stored`, async () => {
        const v = await lastValues(id, metrics);
        return metrics.every((m) => v[m] !== undefined && v[m] !== null);
      }, 30_000, 200);
      const v = await lastValues(id, metrics);
      for (const c of cases) expect({ device: id, metric: c.metric, value: v[c.metric] }).toEqual({ device: id, metric: c.metric, value: c.expected });
    }
  });

  it('reads all the points of a device in one request per poll (coalesced), counted at the server', async () => {
    const gw = gateways.get('gw-weimei-1')!;
    await waitFor('a few polls', async () => (await gw.stat('gateway_device_readings_total{device="wm-kiln-1"}')) >= 5);
    const stats = await gw.stats();
    const [tcp, rtu] = [servers.get('gw-weimei-1-plc')!.reads(), servers.get('gw-weimei-1-rs485')!.reads()];
    const kilnReads = tcp.filter((r) => r.unit === 1);
    const kilnReadings = Number(stats!['gateway_device_readings_total{device="wm-kiln-1"}']);
    expect(kilnReads.every((r) => r.fc === 3 && r.address === 0 && r.count === 11)).toBe(true);
    // one request per reading (a poll in flight while /stats was read may have one more)
    expect(kilnReads.length - kilnReadings).toBeGreaterThanOrEqual(0);
    expect(kilnReads.length - kilnReadings).toBeLessThanOrEqual(1);
    expect(kilnReads.length).toBeLessThan(kilnReadings * 8); // 8 points a poll
    const emReads = rtu.filter((r) => r.unit === 1);
    expect(emReads.every((r) => r.fc === 3 && r.address === 0 && r.count === 8)).toBe(true);
    expect(Number(stats!['gateway_requests_total{connection="gw-weimei-1-rs485"}'])).toBeGreaterThanOrEqual(rtu.length);
  });
});
