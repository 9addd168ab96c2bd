/**
 * The API against a real InfluxDB: park tree and kinds from the model, devices with last values
 * and status, telemetry raw and aggregated (values computed by hand), and 400/404 naming the
 * parameter. Driven with app.inject(): no sockets where none are needed.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import { KeyStore } from '../api/key-store.ts';
import { LiveHub } from '../api/live-hub.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { readingToLine } from '../core/influx/line-protocol.ts';
import { loadParkModel } from '../core/model-file.ts';
import { parseParkModel, type ParkModel } from '../core/model.ts';
import { hashSecret } from '../core/secrets.ts';
import { ROLE_KEYS, startApiApp, type ApiApp } from './harness/api-app.ts';

const model: ParkModel = parseParkModel({
  zone: { id: 'testzone', name: 'Test zone' },
  kinds: {
    roller_kiln: {
      description: 'Kiln',
      metrics: { t_firing: { type: 'number', unit: 'degC' }, gas_flow: { type: 'number', unit: 'm3/h' }, run_state: { type: 'enum', values: ['running', 'idle'] } },
      rated: { capacityM2h: 500 },
    },
    electricity_meter: { description: 'Meter', metrics: { energy: { type: 'counter', unit: 'kWh', carrier: 'electricity' }, power: { type: 'number', unit: 'kW' } } },
  },
  parks: [
    { id: 'park-x', name: 'Park X', enterprises: [{ id: 'ent-a', name: 'A', sector: 'ceramics', workshops: [{
      id: 'ws1', name: 'W1',
      lines: [{ id: 'line1', name: 'L1', devices: [{ id: 'kiln-1', kind: 'roller_kiln' }, { id: 'kiln-2', kind: 'roller_kiln' }] }],
      devices: [{ id: 'em-1', kind: 'electricity_meter' }],
    }] }] },
    { id: 'park-y', name: 'Park Y', enterprises: [{ id: 'ent-b', name: 'B', sector: 'food', workshops: [{ id: 'ws2', name: 'W2', devices: [{ id: 'em-2', kind: 'electricity_meter' }] }] }] },
  ],
});

// 12 readings of kiln-1, 10 s apart, from T0 (a whole minute, 30 min ago): two 1-minute windows of 6.
const T0 = Math.floor((Date.now() - 30 * 60_000) / 60_000) * 60_000;
const END = T0 + 110_000;
const KEYS = ROLE_KEYS;

let api: ApiApp | undefined;
let app: FastifyInstance;
let hub: LiveHub;

const get = async (url: string, role: keyof typeof KEYS = 'admin') => {
  const r = await app.inject({ method: 'GET', url, headers: { 'x-api-key': KEYS[role] } });
  return { status: r.statusCode, body: r.json() };
};
const tele = (q: string, id = 'kiln-1') => get(`/api/v1/devices/${id}/telemetry?${q}`);

beforeAll(async () => {
  const lines: string[] = [];
  const d = (id: string) => model.devices.get(id)!;
  for (let i = 0; i < 12; i++) {
    const ts = T0 + i * 10_000;
    lines.push(readingToLine(d('kiln-1'), { ts, seq: i, metrics: { t_firing: 1180 + i, gas_flow: 100 + 2 * i, run_state: i < 6 ? 'running' : 'idle' } }));
    lines.push(readingToLine(d('kiln-2'), { ts, metrics: { t_firing: 900, gas_flow: 1 } }));
    lines.push(readingToLine(d('em-1'), { ts, metrics: { energy: 1000 + i * 0.5, power: 50 } }));
    lines.push(readingToLine(d('em-2'), { ts, metrics: { energy: 7, power: 3 } }));
  }
  const started = await startApiApp(model, lines, 'api_test');
  ({ app, hub } = started);
  api = started;
}, 30_000);

afterAll(async () => {
  await api?.stop();
});

describe('park model routes', () => {
  it('serves the park tree of the model: parks, enterprises, workshops, lines, devices', async () => {
    const { status, body } = await get('/api/v1/park', 'viewer');
    expect(status).toBe(200);
    expect(body.zone).toEqual({ id: 'testzone', name: 'Test zone' });
    expect(body.parks.map((p: { id: string }) => p.id)).toEqual(['park-x', 'park-y']);
    const ws = body.parks[0].enterprises[0].workshops[0];
    expect(ws.lines[0].devices).toEqual([{ id: 'kiln-1', name: 'kiln-1', kind: 'roller_kiln' }, { id: 'kiln-2', name: 'kiln-2', kind: 'roller_kiln' }]);
    expect(ws.devices).toEqual([{ id: 'em-1', name: 'em-1', kind: 'electricity_meter' }]);
  });

  it('serves the tree of config/park.yaml with every device of the model in it', async () => {
    const real = loadParkModel();
    const other = buildApp({ model: real, influx: new InfluxClient({ url: 'http://127.0.0.1:9', db: 'x' }), live: new LiveHub(real), keys: new KeyStore([{ id: 'a', role: 'admin', hash: hashSecret('k') }]) });
    const r = await other.inject({ url: '/api/v1/park', headers: { 'x-api-key': 'k' } });
    await other.close();
    const ids: string[] = [];
    for (const p of r.json().parks) for (const e of p.enterprises) for (const w of e.workshops) {
      for (const l of w.lines) ids.push(...l.devices.map((x: { id: string }) => x.id));
      ids.push(...w.devices.map((x: { id: string }) => x.id));
    }
    expect(ids.sort()).toEqual([...real.devices.keys()].sort());
  });

  it('lists kinds with metric types and units', async () => {
    const { body } = await get('/api/v1/kinds', 'viewer');
    const kiln = body.kinds.find((k: { id: string }) => k.id === 'roller_kiln');
    expect(kiln.metrics).toContainEqual({ name: 't_firing', type: 'number', unit: 'degC', value: { type: 'number' } });
    expect(kiln.metrics).toContainEqual({ name: 'run_state', type: 'enum', values: ['running', 'idle'], value: { type: 'string', enum: ['running', 'idle'] } });
    expect(kiln.rated).toEqual({ capacityM2h: 500 });
  });
});

describe('devices', () => {
  it('lists devices with last values, last-seen time and status from the retained status topic', async () => {
    hub.handle('sp/v1/park-x/ent-a/ws1/kiln-1/status', Buffer.from(JSON.stringify({ state: 'online', ts: T0 })));
    const { status, body } = await get('/api/v1/devices', 'viewer');
    expect(status).toBe(200);
    const k1 = body.devices.find((x: { id: string }) => x.id === 'kiln-1');
    expect(k1).toMatchObject({ park: 'park-x', line: 'line1', kind: 'roller_kiln', lastSeen: END, status: { state: 'online', since: T0 } });
    expect(k1.values).toEqual({ t_firing: 1191, gas_flow: 122, run_state: 'idle' });
    expect(body.devices.find((x: { id: string }) => x.id === 'em-2')).toMatchObject({ status: { state: 'unknown', since: null }, values: { energy: 7, power: 3 } });
  });

  it('filters by park, enterprise, line and kind; refuses a filter naming nothing in the model', async () => {
    expect((await get('/api/v1/devices?park=park-y')).body.devices.map((d: { id: string }) => d.id)).toEqual(['em-2']);
    expect((await get('/api/v1/devices?line=line1&kind=roller_kiln')).body.devices.map((d: { id: string }) => d.id)).toEqual(['kiln-1', 'kiln-2']);
    const bad = await get('/api/v1/devices?enterprise=nope');
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'SP_ERR_API_PARAM', param: 'enterprise' } } });
  });

  it('shows one device with metrics, units, rated figures and last values; 404 for an unknown id', async () => {
    const { body } = await get('/api/v1/devices/kiln-1', 'viewer');
    expect(body.metrics).toContainEqual({ name: 'gas_flow', type: 'number', unit: 'm3/h', value: { type: 'number' } });
    expect(body.rated).toEqual({ capacityM2h: 500 });
    expect(body.values.gas_flow).toBe(122);
    expect(body.topics.telemetry).toMatch(/^sp\/v1\/[a-z0-9_-]+\/[a-z0-9_-]+\/[a-z0-9_-]+\/kiln-1\/telemetry$/);
    expect(await get('/api/v1/devices/kiln-9')).toMatchObject({ status: 404, body: { error: { code: 'SP_ERR_API_NOT_FOUND', param: 'id' } } });
  });
});

describe('telemetry', () => {
  const range = `from=${new Date(T0).toISOString()}&to=${END}`;

  it('returns exactly the stored raw points with units', async () => {
    const { status, body } = await tele(`metric=t_firing,run_state&${range}`);
    expect(status).toBe(200);
    expect(body.metrics).toEqual([{ name: 't_firing', type: 'number', unit: 'degC' }, { name: 'run_state', type: 'enum' }]);
    expect(body.points).toHaveLength(12);
    expect(body.points[0]).toEqual({ ts: T0, values: { t_firing: 1180, run_state: 'running' } });
    expect(body.points[11]).toEqual({ ts: END, values: { t_firing: 1191, run_state: 'idle' } });
    expect(body.truncated).toBe(false);
  });

  it('aggregates per window: mean, min, max, last, sum, count (hand-computed)', async () => {
    const expected = { mean: [1182.5, 1188.5], min: [1180, 1186], max: [1185, 1191], last: [1185, 1191], sum: [7095, 7131], count: [6, 6] };
    for (const [agg, [w1, w2]] of Object.entries(expected)) {
      const { status, body } = await tele(`metric=t_firing&agg=${agg}&window=1m&${range}`);
      expect(status, agg).toBe(200);
      expect(body.points, agg).toEqual([{ ts: T0, values: { t_firing: w1 } }, { ts: T0 + 60_000, values: { t_firing: w2 } }]);
      expect(body.metrics[0].unit).toBe(agg === 'count' ? '1' : 'degC');
    }
    const gas = await tele(`metric=gas_flow&agg=mean&window=30s&${range}`);
    expect(gas.body.points.map((p: { values: { gas_flow: number } }) => p.values.gas_flow)).toEqual([102, 108, 114, 120]);
  });

  it('defaults to the last hour and caps raw points at limit, saying truncated', async () => {
    const { body } = await tele('limit=5');
    expect(body.points.map((p: { values: { t_firing: number } }) => p.values.t_firing)).toEqual([1180, 1181, 1182, 1183, 1184]);
    expect(body.truncated).toBe(true);
    expect(body.to - body.from).toBe(3_600_000);
  });

  it.each([
    ['metric=nope', 'metric', /not declared for kind roller_kiln/],
    ['metric=run_state&agg=mean&window=1m', 'metric', /needs a numeric metric/],
    ['agg=median&window=1m', 'agg', /one of/],
    ['agg=mean', 'window', /required/],
    ['agg=mean&window=10x', 'window', /wrong form/],
    ['window=1m', 'window', /needs agg/],
    ['from=-1h&to=-2h', 'from', /after to/],
    ['from=yesterday', 'from', /RFC 3339/],
    ['agg=mean&window=1s&from=-1d', 'window', /more than 10000/],
    ['limit=0', 'limit', /must be >= 1/],
    ['agg=max&window=1m&limit=5', 'limit', /raw points/],
    ['metrics=t_firing', 'metrics', /unknown query parameter/],
  ])('refuses %s with 400 naming %s', async (q, param, message) => {
    const { status, body } = await tele(q);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'SP_ERR_API_PARAM', param });
    expect(body.error.message).toMatch(message);
  });

  it('answers 404 for a device not in the model', async () => {
    expect(await tele('', 'kiln-9')).toMatchObject({ status: 404, body: { error: { code: 'SP_ERR_API_NOT_FOUND', param: 'id' } } });
  });
});
