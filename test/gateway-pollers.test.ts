/**
 * The gateway's field side alone (gateway/line.ts, pollers.ts, modbus-client.ts, field-socket.ts)
 * against a foreign Modbus server (Debian's pymodbus): coils, a bit of a holding register, a
 * reading published without the point whose read failed (exception 02) or whose 64-bit value
 * is beyond 2^53 (a double would round it), and a connection that is refused and later comes:
 * devices offline with the reason, polling resumes by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MetricValue } from '../core/contract.ts';
import { parseGatewayConfig } from '../core/fieldbus/config.ts';
import { Registry } from '../core/metrics.ts';
import { loadParkModel } from '../core/model-file.ts';
import { buildField } from '../gateway/field.ts';
import { freePort } from '../scripts/influxd.ts';
import { connection, PyModbus } from './harness/gateway.ts';
import { useFastParkModel } from './harness/gateway-sim.ts';
import { waitFor } from './harness/platform.ts';

const dir = mkdtempSync(join(tmpdir(), 'sp-gw-pollers-'));
useFastParkModel(200);
const model = loadParkModel();
const servers: PyModbus[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

const profile = {
  protocol: 'modbus', pollGroups: { default: { intervalMs: 200 } },
  points: [
    { metric: 'compressor_on', register: 'coil', address: 3 },
    { metric: 'door_open', register: 'holding', address: 0, type: 'bit', bit: 15 },
    { metric: 'humidity', register: 'holding', address: 1, type: 'uint64', unit: '%RH' },
    { metric: 'power', register: 'input', address: 0, type: 'uint16', scale: 0.01, unit: 'kW' },
    { metric: 'temp', register: 'input', address: 100, type: 'int16', scale: 0.1, unit: 'degC' }, // not served: exception 02
  ],
};

function field(port: number) {
  const cfg = parseGatewayConfig({
    profiles: { cold: profile },
    gateways: { 'gw-aolong-1': { connections: [connection('cold', 'modbus-tcp', port, [{ device: 'al-cold-1', unitId: 5, profile: 'cold' }])] } },
  }, model);
  const readings: Record<string, MetricValue>[] = [];
  const statuses: [string, string][] = [];
  const errors: string[] = [];
  const metrics = new Registry();
  const [f] = buildField(cfg.gateways.get('gw-aolong-1')!, metrics, {
    reading: (_d, _ts, m) => readings.push(m),
    status: (_d, state, info) => statuses.push([state, info]),
    pointErrors: (_d, e) => errors.push(...e),
  });
  return { line: f!.line, readings, statuses, errors, metrics };
}

describe('gateway field side against pymodbus', () => {
  it('reads coils and register bits, and publishes a reading without the points that failed', async () => {
    const s = await new PyModbus(dir, 'socket', { 5: {
      coil: { 3: true }, holding: { 0: 0x8000 }, input: { 0: 1234 },
      values: [{ space: 'holding', address: 1, type: 'uint64', value: '9007199254740993' }],
    } }).start();
    servers.push(s);
    const f = field(s.port);
    f.line.start();
    try {
      await waitFor('readings', () => f.readings.length >= 3);
    } finally {
      await f.line.stop();
    }
    expect(f.readings[0]).toEqual({ compressor_on: true, door_open: true, power: 12.34 });
    expect(f.errors[0]).toMatch(/humidity: 9007199254740993 exceeds 2\^53/);
    expect(f.statuses[0]).toEqual(['online', 'partial: exception 02 illegal data address']);
    expect(f.metrics.get('gateway_request_errors_total', { connection: 'cold', kind: 'exception' })).toBeGreaterThanOrEqual(3);
    // four reads a poll (coil, holding 0-4, input 0, input 100), and an exception is not retried
    const labels = { connection: 'cold' };
    expect(f.metrics.get('gateway_requests_total', labels)).toBe(4 * f.metrics.get('gateway_polls_total', labels));
    expect(s.reads().filter((r) => r.fc === 1).every((r) => r.address === 3 && r.count === 1)).toBe(true);
  });

  it('marks the devices of a refused connection offline with the reason and polls them once the server is there', async () => {
    const port = await freePort();
    const f = field(port);
    f.line.start();
    try {
      await waitFor('offline: connection refused', () => f.statuses.some(([st, info]) => st === 'offline' && info === 'connection refused'));
      const s = await new PyModbus(dir, 'socket', { 5: { coil: { 3: false }, input: { 0: 1 } } }, port).start();
      servers.push(s);
      await waitFor('online again', () => f.statuses.at(-1)?.[0] === 'online', 10_000);
      await waitFor('readings', () => f.readings.length >= 2);
    } finally {
      await f.line.stop();
    }
    expect(f.readings.at(-1)).toMatchObject({ compressor_on: false, power: 0.01 });
    expect(f.metrics.get('gateway_polls_skipped_total', { connection: 'cold', reason: 'disconnected' })).toBeGreaterThan(0);
  });
});
