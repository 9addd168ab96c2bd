/**
 * The gateway configuration: the shipped config/gateway.yaml fits the park model; a bad one is
 * refused with every problem at once (path, value, expectation); read blocks are coalesced
 * within the limits; register values map to metric values and back.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadGatewayConfig } from '../core/fieldbus/config-file.ts';
import {
  coalesce, modbusMetricValue, modbusRawValue, parseGatewayConfig, selectGateway, type ModbusPoint,
} from '../core/fieldbus/config.ts';
import { loadParkModel } from '../core/model-file.ts';
import type { MetricDef, ParkModel } from '../core/model.ts';

const model = loadParkModel();
const shipped = parse(readFileSync(new URL('../config/gateway.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

function refusal(data: unknown, m: ParkModel = model): string[] {
  try {
    parseGatewayConfig(data, m);
  } catch (e) {
    return (e as Error).message.split('\n').slice(1).map((s) => s.trim());
  }
  throw new Error('config was accepted');
}

const gw = (connections: unknown[], profiles: Record<string, unknown> = shipped.profiles as Record<string, unknown>) =>
  ({ profiles, gateways: { 'gw-weimei-1': { connections } } });
const tcp = (devices: unknown[], port = 15020, id = 'c1') => ({ id, protocol: 'modbus-tcp', host: '127.0.0.1', port, devices });

describe('gateway config', () => {
  it('the shipped config/gateway.yaml fits config/park.yaml, with defaults filled in', () => {
    const cfg = loadGatewayConfig(model);
    expect([...cfg.gateways.keys()]).toEqual(['gw-weimei-1', 'gw-aolong-1']);
    const conns = [...cfg.gateways.values()].flatMap((g) => g.connections);
    const devices = conns.flatMap((c) => c.devices.map((b) => b.device.id));
    expect(devices.sort()).toEqual(['al-cold-1', 'al-em-hvac', 'al-fd-1', 'wm-dryer-1', 'wm-em-main', 'wm-gm-main', 'wm-kiln-1', 'wm-wm-main']);
    const kiln = selectGateway(cfg, 'gw-weimei-1').connections[0]!;
    expect(kiln).toMatchObject({ timeoutMs: 1000, retries: 2, interRequestDelayMs: 0, maxRegistersPerRequest: 120, maxBitsPerRequest: 2000, maxGap: 0, backoff: { baseMs: 1000, maxMs: 60000 } });
    expect(conns.find((c) => c.id === 'wm-utility-rs485')).toMatchObject({ interRequestDelayMs: 20 });
    // every metric of a bound kind that a register can carry is mapped (text is not)
    for (const c of conns) for (const b of c.devices) {
      const mapped = b.profile.points.map((p) => p.metric).sort();
      const mappable = [...b.device.kind.metrics.values()].filter((d) => d.type !== 'text').map((d) => d.name).sort();
      expect(mapped, b.device.id).toEqual(mappable);
    }
    expect(() => selectGateway(cfg, 'gw-nope')).toThrow(/gw-weimei-1, gw-aolong-1/);
  });

  it('refuses a bad config with every problem at once: path, value and expectation', () => {
    const profiles = {
      kiln: {
        protocol: 'modbus',
        points: [
          { metric: 't_firing', register: 'holding', address: 0, type: 'float32', unit: 'degF' },          // unit
          { metric: 'nope', register: 'holding', address: 2, type: 'uint16' },                              // not declared
          { metric: 'run_state', register: 'holding', address: 3, type: 'uint16', values: { 0: 'stopped', 1: 'burning' } }, // enum value
          { metric: 'gas_flow', register: 'input', address: 65535, type: 'float32', unit: 'm3/h' },         // does not fit
          { metric: 'fan_power', register: 'holding', address: 1, type: 'uint16', unit: 'kW' },             // overlaps t_firing
          { metric: 'output_rate', register: 'holding', address: 10, type: 'float64', scale: 10, unit: 'm2/h' }, // range not finite
        ],
      },
      meter: { protocol: 'modbus', points: [{ metric: 'energy', register: 'holding', address: 0, type: 'float32', unit: 'kWh' }] }, // counter from float
      cold: { protocol: 'modbus', points: [{ metric: 'door_open', register: 'holding', address: 0, type: 'uint16' }] },           // boolean from uint16
      fd: { protocol: 'modbus', points: [{ metric: 'batch_id', register: 'holding', address: 0, type: 'uint16' }] },               // text
      m645: { protocol: 'dlt645', points: [{ metric: 'energy', di: '02010100' }, { metric: 'power', di: 2030000 }] },            // V ≠ kWh; unquoted DI
    };
    const problems = refusal({
      profiles,
      gateways: {
        'gw-weimei-1': {
          connections: [
            tcp([{ device: 'wm-kiln-1', unitId: 0, profile: 'kiln' }, { device: 'wm-ghost', unitId: 2, profile: 'kiln' }]),
            tcp([{ device: 'wm-em-main', unitId: 1, profile: 'meter' }, { device: 'wm-kiln-1', unitId: 2, profile: 'kiln' }], 15020, 'c2'),
            { id: 'l645', protocol: 'dlt645-tcp', host: '127.0.0.1', port: 15023, devices: [{ device: 'dj-em-main', address: '12345', profile: 'm645' }, { device: 'wm-wm-main', address: '000000000002', profile: 'kiln' }] },
          ],
        },
        aolong: { connections: [tcp([{ device: 'al-cold-1', unitId: 1, profile: 'cold' }, { device: 'al-fd-1', unitId: 2, profile: 'fd' }], 15030, 'c3')] },
      },
    });
    const expectProblem = (re: RegExp): void => { expect(problems.some((p) => re.test(p)), `${re}\n${problems.join('\n')}`).toBe(true); };
    expectProblem(/^profiles\.kiln\.points\[0\]\.unit: "degF" — expected the unit degC of metric t_firing/);
    expectProblem(/^profiles\.kiln\.points\[1\]\.metric: "nope" — expected a metric of kind roller_kiln/);
    expectProblem(/^profiles\.kiln\.points\[2\]\.values\.1: "burning" — expected one of running, idle, stopped, fault/);
    expectProblem(/^profiles\.kiln\.points\[3\]\.address: 65535 — expected an address whose 2 registers end by 65535/);
    expectProblem(/^profiles\.kiln\.points\[4\]\.address: 1 — expected holding 1\.\.1 not used by points\[0\] \(t_firing at 0\.\.1\)/);
    expectProblem(/^profiles\.kiln\.points\[5\]\.scale: 10 — expected a scale and offset keeping float64's range finite/);
    expectProblem(/^profiles\.meter\.points\[0\]\.type: "float32" — expected uint16, uint32, uint64, int64 for counter energy/);
    expectProblem(/^profiles\.cold\.points\[0\]\.type: "uint16" — expected a coil, a discrete input or type bit/);
    expectProblem(/^profiles\.fd\.points\[0\]\.metric: "batch_id" — expected a metric that is not text/);
    expectProblem(/^profiles\.m645\.points\[0\]\.di: "02010100 \(V\)" — expected the unit kWh of metric energy/);
    expectProblem(/^profiles\.m645\.points\[1\]\.di: 2030000 — expected a data identifier in quotes/);
    expectProblem(/^gateways\.gw-weimei-1\.connections\[0\]\.devices\[0\]\.unitId: 0 — expected a Modbus unit id 1\.\.247/);
    expectProblem(/^gateways\.gw-weimei-1\.connections\[0\]\.devices\[1\]\.device: "wm-ghost" — expected a device id of the park model/);
    expectProblem(/^gateways\.gw-weimei-1\.connections\[1\]\.port: 15020 — expected a host and port not used by the connection at gateways\.gw-weimei-1\.connections\[0\]/);
    expectProblem(/^gateways\.gw-weimei-1\.connections\[1\]\.devices\[1\]\.device: "wm-kiln-1" — expected a device not already bound at gateways\.gw-weimei-1\.connections\[0\]\.devices\[0\]/);
    expectProblem(/^gateways\.gw-weimei-1\.connections\[2\]\.devices\[0\]\.address: "12345" — expected the meter's 12-digit address/);
    expectProblem(/^gateways\.gw-weimei-1\.connections\[2\]\.devices\[1\]\.profile: "kiln" — expected a dlt645 profile/);
    expectProblem(/^gateways\.aolong: "aolong" — expected a gateway id matching/);
    expect(problems.length).toBeGreaterThanOrEqual(18);
  });

  it('integer metrics need integer types and scales; enum needs a values map; bits share a status word', () => {
    const ahu = (pt: Record<string, unknown>) => refusal({
      profiles: { p: { protocol: 'modbus', points: [pt] } },
      gateways: { 'gw-aolong-1': { connections: [tcp([{ device: 'al-ahu-1', unitId: 1, profile: 'p' }])] } },
    });
    expect(ahu({ metric: 'particles_05', register: 'input', address: 0, type: 'uint32', scale: 0.5, unit: '1/m3' }).join('\n')).toMatch(/an integer data type with integer scale/);
    expect(ahu({ metric: 'particles_05', register: 'input', address: 0, type: 'float32', unit: '1/m3' }).join('\n')).toMatch(/an integer data type with integer scale/);
    const ok = {
      profiles: { p: { protocol: 'modbus', pollGroups: { default: { intervalMs: 10_000 } }, points: [
        { metric: 'compressor_on', register: 'holding', address: 5, type: 'bit', bit: 0 },
        { metric: 'door_open', register: 'holding', address: 5, type: 'bit', bit: 1 },
        { metric: 'temp', register: 'input', address: 0, type: 'int16', scale: 0.1, unit: 'degC' },
      ] } },
      gateways: { 'gw-aolong-1': { connections: [tcp([{ device: 'al-cold-1', unitId: 1, profile: 'p' }])] } },
    };
    expect(() => parseGatewayConfig(ok, model)).not.toThrow();
    const enumNoMap = refusal({
      profiles: { p: { protocol: 'modbus', points: [{ metric: 'run_state', register: 'holding', address: 0, type: 'uint16' }] } },
      gateways: { 'gw-weimei-1': { connections: [tcp([{ device: 'wm-kiln-1', unitId: 1, profile: 'p' }])] } },
    });
    expect(enumNoMap.join('\n')).toMatch(/points\[0\]\.values: undefined — expected a map of raw values to running, idle, stopped, fault/);
  });

  it("a gateway binds only devices the park model's gateways list gives it", () => {
    const theirs = refusal(gw([tcp([{ device: 'wm-mill-1', unitId: 1, profile: 'roller-kiln-plc' }])]));
    expect(theirs.join('\n')).toMatch(/devices\[0\]\.device: "wm-mill-1" — expected a device owned by gw-weimei-1 in the park model's gateways list \(wm-kiln-1, wm-dryer-1, wm-em-main, wm-gm-main, wm-wm-main\)/);
    const withOwners = { ...model, gateways: new Map([['gw-weimei-1', { id: 'gw-weimei-1', name: 'Weimei edge', devices: [model.devices.get('wm-kiln-1')] }]]) } as unknown as ParkModel;
    const problems = refusal(gw([tcp([{ device: 'wm-dryer-1', unitId: 1, profile: 'tile-dryer-plc' }])]), withOwners);
    expect(problems.join('\n')).toMatch(/devices\[0\]\.device: "wm-dryer-1" — expected a device owned by gw-weimei-1 in the park model's gateways list \(wm-kiln-1\)/);
    expect(() => parseGatewayConfig(gw([tcp([{ device: 'wm-kiln-1', unitId: 1, profile: 'roller-kiln-plc' }])]), withOwners)).not.toThrow();
    const other = refusal({ ...gw([]), gateways: { 'gw-other': { connections: [] } } }, withOwners);
    expect(other.join('\n')).toMatch(/gateways\.gw-other: "gw-other" — expected a gateway declared in the park model's gateways list \(gw-weimei-1\)/);
  });

  it("refuses a poll group faster than the device's interval in the park model (KPIs count samples × interval)", () => {
    const profiles = structuredClone(shipped.profiles) as Record<string, { pollGroups: Record<string, { intervalMs: number }> }>;
    profiles['roller-kiln-plc']!.pollGroups.fast!.intervalMs = 1000;
    const problems = refusal(gw([tcp([{ device: 'wm-kiln-1', unitId: 1, profile: 'roller-kiln-plc' }])], profiles));
    expect(problems.join('\n')).toContain("devices[0].profile: \"roller-kiln-plc\" — expected a profile whose poll groups are no faster than wm-kiln-1's interval in the park model (5000 ms; group fast polls every 1000 ms)");
  });
});

const pt = (address: number, type: ModbusPoint['type'], extra: Partial<ModbusPoint> = {}): ModbusPoint => ({
  protocol: 'modbus', metric: `m${address}`, register: 'holding', address, type, order: 'ABCD', scale: 1, offset: 0, group: 'g',
  count: { int16: 1, uint16: 1, bit: 1, int32: 2, uint32: 2, float32: 2, float64: 4, int64: 4, uint64: 4 }[type], ...extra,
});

describe('read blocks', () => {
  it('merges touching points of one space and group, splits at the register limit', () => {
    const blocks = coalesce([pt(0, 'float32'), pt(2, 'uint16'), pt(3, 'float64'), pt(7, 'int16')], 6, 2000);
    // 0..2 float32 + 2 uint16 = 3 registers; adding the float64 (3..6) would make 7 > 6: new block 3..6 + int16 7 = 5
    expect(blocks.map((b) => [b.address, b.count, b.points.length])).toEqual([[0, 3, 2], [3, 5, 2]]);
  });

  it('spans a gap only up to maxGap', () => {
    const pts = [pt(0, 'uint16'), pt(3, 'uint16'), pt(10, 'uint16')];
    expect(coalesce(pts, 120, 2000).map((b) => b.address)).toEqual([0, 3, 10]);
    expect(coalesce(pts, 120, 2000, 2).map((b) => [b.address, b.count])).toEqual([[0, 4], [10, 1]]);
    expect(coalesce(pts, 120, 2000, 10).map((b) => [b.address, b.count])).toEqual([[0, 11]]);
  });

  it('keeps spaces and poll groups apart and reads bits of one word once', () => {
    const blocks = coalesce([
      pt(0, 'uint16'), pt(1, 'uint16', { group: 'slow' }), pt(0, 'uint16', { register: 'input' }),
      pt(5, 'bit', { bit: 0, metric: 'a' }), pt(5, 'bit', { bit: 1, metric: 'b' }),
      { ...pt(0, 'bit'), register: 'coil' }, { ...pt(1, 'bit'), register: 'coil' },
    ], 120, 2000, 4);
    expect(blocks.map((b) => [b.group, b.register, b.address, b.count])).toEqual([
      ['g', 'coil', 0, 2], ['g', 'holding', 0, 6], ['g', 'input', 0, 1], ['slow', 'holding', 1, 1],
    ]);
  });
});

describe('register value ↔ metric value', () => {
  const num: MetricDef = { name: 'x', type: 'number', unit: 'kW' };
  const counter: MetricDef = { name: 'x', type: 'counter', unit: 'm3' };
  it('applies scale and offset without binary noise', () => {
    expect(modbusMetricValue(pt(0, 'uint16', { scale: 0.1 }), 1234, num)).toEqual({ value: 123.4 });
    expect(modbusMetricValue(pt(0, 'int16', { scale: 0.1, offset: -40 }), 3, num)).toEqual({ value: -39.7 });
    expect(modbusMetricValue(pt(0, 'float32'), Math.fround(123.456), num)).toEqual({ value: 123.456 });
    expect(modbusMetricValue(pt(0, 'uint64', { scale: 0.01 }), 123456789n, counter)).toEqual({ value: 1234567.89 });
  });
  it('refuses what the metric cannot be', () => {
    expect(modbusMetricValue(pt(0, 'int64'), -5n, counter)).toHaveProperty('error');
    expect(modbusMetricValue(pt(0, 'float32'), NaN, num)).toHaveProperty('error');
    expect(modbusMetricValue(pt(0, 'uint64'), 2n ** 60n, counter)).toHaveProperty('error');
    const e = pt(0, 'uint16', { values: new Map([[0, 'stopped'], [1, 'running']]) });
    expect(modbusMetricValue(e, 1, { name: 'run_state', type: 'enum', values: ['running', 'stopped'] })).toEqual({ value: 'running' });
    expect(modbusMetricValue(e, 7, { name: 'run_state', type: 'enum', values: ['running', 'stopped'] })).toHaveProperty('error');
  });
  it('the inverse rounds to the register and saturates like a device', () => {
    expect(modbusRawValue(pt(0, 'uint16', { scale: 0.1 }), 123.44)).toBe(1234);
    expect(modbusRawValue(pt(0, 'uint16', { scale: 0.1 }), 1e9)).toBe(65535);
    expect(modbusRawValue(pt(0, 'int16', { scale: 0.1 }), -4000)).toBe(-32768);
    expect(modbusRawValue(pt(0, 'uint64', { scale: 0.01 }), 1234567.89)).toBe(123456789n);
    expect(() => modbusRawValue(pt(0, 'uint16', { values: new Map([[0, 'a']]) }), 'b')).toThrow(RangeError);
  });
});

