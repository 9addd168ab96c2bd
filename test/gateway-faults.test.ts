/**
 * Field faults, end to end: our field simulators (Modbus TCP, an RS-485 line of three Modbus RTU
 * devices behind a device server, a DL/T 645 meter), the gateway as a child process, the real
 * broker. A device that stops answering, answers exception 02 or returns garbage is marked
 * offline on its status topic with the reason, the other devices on its line keep their
 * interval meanwhile, and it comes back by itself when it answers again.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_STATUS, parseTopic } from '../core/contract.ts';
import type { FieldFault } from '../simulators/field/device.ts';
import { GatewayChild } from './harness/gateway.ts';
import { GATEWAY_YAML, startSimulatedField, withIntervals, type SimulatedField, useFastParkModel } from './harness/gateway-sim.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

const INTERVAL = 500;
const timing = { timeoutMs: 300, retries: 1, backoff: { baseMs: 200, maxMs: 1000 } };

let p: TestPlatform;
let field: SimulatedField;
let gw: GatewayChild;
let watcher: MqttClient;
const statuses: { device: string; state: string; info?: string; at: number }[] = [];

beforeAll(async () => {
  const park = useFastParkModel(INTERVAL);
  p = await new TestPlatform({ ingestEnv: { PARK_MODEL: park } }).start();
  const y = GATEWAY_YAML();
  const data = {
    profiles: withIntervals(y.profiles, INTERVAL),
    gateways: { 'gw-weimei-1': { connections: [
      { id: 'kiln-plc', protocol: 'modbus-tcp', host: '127.0.0.1', port: 1, ...timing, devices: [{ device: 'wm-kiln-1', unitId: 1, profile: 'roller-kiln-plc' }] },
      { id: 'rs485', protocol: 'modbus-rtu-tcp', host: '127.0.0.1', port: 2, ...timing, devices: [
        { device: 'wm-gm-main', unitId: 1, profile: 'gas-flow-computer-rtu' },
        { device: 'wm-wm-main', unitId: 2, profile: 'water-meter-rtu' },
        { device: 'wm-dryer-1', unitId: 3, profile: 'tile-dryer-plc' },
      ] },
      { id: 'meter-645', protocol: 'dlt645-tcp', host: '127.0.0.1', port: 3, ...timing, devices: [{ device: 'wm-em-main', address: '000000000001', profile: 'meter-645-ct800' }] },
    ] } },
  };
  field = await startSimulatedField(p.model, data);
  watcher = await p.connect('svc-api', { clientId: 'svc-api-status-watch' });
  watcher.on('message', (topic, payload) => {
    const t = parseTopic(topic);
    if (t.ok) statuses.push({ device: t.value.device, ...JSON.parse(payload.toString()), at: Date.now() });
  });
  await watcher.subscribeAsync(ALL_STATUS, { qos: 1 });
  gw = await new GatewayChild(p, { id: 'gw-weimei-1', config: field.config }).start();
  await waitFor('every device online', async () => {
    const s = await gw.stats();
    return ['wm-kiln-1', 'wm-gm-main', 'wm-wm-main', 'wm-dryer-1', 'wm-em-main'].every((d) => s?.devices?.[d]?.state === 'online');
  });
}, 60_000);

afterAll(async () => {
  await gw?.kill('SIGTERM');
  await field?.sims.close();
  await p?.stop();
});

/** The last status the broker delivered for a device. */
const lastStatus = (device: string) => statuses.filter((s) => s.device === device).at(-1);
const readings = async (device: string) => gw.stat(`gateway_device_readings_total{device="${device}"}`);

async function faultCycle(device: string, fault: FieldFault, reason: RegExp, neighbours: string[]) {
  const before = await Promise.all(neighbours.map(readings));
  const t0 = Date.now(); // taken after the counts were read: the window is never longer than what they cover
  field.sims.device(device).fault = fault;
  try {
    await waitFor(`${device} offline (${fault})`, () => lastStatus(device)?.state === 'offline', 10_000);
    expect(lastStatus(device)!.info).toMatch(reason);
    await new Promise((r) => setTimeout(r, 3000)); // the fault lasts; the line goes on
    const elapsed = Date.now() - t0; // taken before the counts are read, for the same reason
    const after = await Promise.all(neighbours.map(readings));
    neighbours.forEach((n, i) => {
      // Each probe of the faulty device holds the shared line for up to timeoutMs (300 of the
      // 500 ms interval), so a neighbour whose tick falls inside one is skipped as an overrun, by
      // design. What must not happen is the line stalling behind the fault (retries on every tick
      // leave the neighbours about half their polls, a hung request none): at least 70 % on time.
      expect(after[i]! - before[i]!, `polls of ${n} in ${elapsed} ms`).toBeGreaterThanOrEqual(Math.floor((0.7 * elapsed) / INTERVAL));
      expect(lastStatus(n)?.state).toBe('online');
    });
  } finally {
    field.sims.device(device).fault = 'none';
  }
  await waitFor(`${device} back online`, () => lastStatus(device)?.state === 'online', 10_000);
}

describe('gateway field faults', () => {
  it('marks an RTU device that stops answering offline (timeout) while the others on its line keep their interval, and back', async () => {
    await faultCycle('wm-wm-main', 'silent', /^timeout$/, ['wm-gm-main', 'wm-dryer-1']);
  });

  it('marks a device answering exception 02 offline with the code and its meaning, and back', async () => {
    await faultCycle('wm-gm-main', 'exception', /^exception 02 illegal data address$/, ['wm-wm-main', 'wm-dryer-1']);
  });

  it('marks an RTU device returning garbage offline (crc error), and back', async () => {
    await faultCycle('wm-dryer-1', 'garbage', /^crc error$/, ['wm-gm-main', 'wm-wm-main']);
  });

  it('tells a garbled Modbus TCP answer (bad frame) and a DL/T 645 meter that is silent, garbled or refuses (checksum, exception)', async () => {
    await faultCycle('wm-kiln-1', 'garbage', /^bad frame/, []);
    await faultCycle('wm-em-main', 'silent', /^timeout$/, []);
    await faultCycle('wm-em-main', 'garbage', /^checksum error$/, []);
    await faultCycle('wm-em-main', 'exception', /^exception no requested data$/, []);
  });

  it('counts requests, errors and timeouts per connection, and skips a backing-off device\'s ticks instead of queueing them', async () => {
    const s = (await gw.stats())!;
    expect(s['gateway_requests_total{connection="rs485"}']).toBeGreaterThan(20);
    expect(s['gateway_request_timeouts_total{connection="rs485"}']).toBeGreaterThan(0);
    expect(s['gateway_request_errors_total{connection="rs485",kind="exception"}']).toBeGreaterThan(0);
    expect(s['gateway_request_errors_total{connection="rs485",kind="crc"}']).toBeGreaterThan(0);
    expect(s['gateway_polls_skipped_total{connection="rs485",reason="backoff"}']).toBeGreaterThan(0);
    expect(s['gateway_queue_length{connection="rs485"}'] ?? 0).toBeLessThanOrEqual(3);
    expect(s.gateway_devices_online).toBe(5);
  });
});
