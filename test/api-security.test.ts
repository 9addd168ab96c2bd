/**
 * The API's defences against a real InfluxDB: hostile parameters cannot change a query (they are
 * refused, or bound as literals and match nothing), the data is all there afterwards; API keys
 * and roles (401/403); health reports which dependency is down; stats count refusals; OpenAPI.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryLastValues } from '../api/last-values.ts';
import { LiveHub } from '../api/live-hub.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { influxql } from '../core/influx/influxql.ts';
import { readingToLine } from '../core/influx/line-protocol.ts';
import { parseParkModel, type ParkModel } from '../core/model.ts';
import { ROLE_KEYS, startApiApp, type ApiApp } from './harness/api-app.ts';

const model: ParkModel = parseParkModel({
  zone: { id: 'testzone', name: 'Test zone' },
  kinds: {
    roller_kiln: { description: 'Kiln', metrics: { t_firing: { type: 'number', unit: 'degC' }, gas_flow: { type: 'number', unit: 'm3/h' } } },
  },
  parks: [{ id: 'park-x', name: 'Park X', enterprises: [{ id: 'ent-a', name: 'A', sector: 'ceramics', workshops: [{
    id: 'ws1', name: 'W1', devices: [{ id: 'kiln-1', kind: 'roller_kiln' }, { id: 'kiln-2', kind: 'roller_kiln' }],
  }] }] }],
});

const T0 = Math.floor((Date.now() - 20 * 60_000) / 60_000) * 60_000;
const KEYS = ROLE_KEYS;

let api: ApiApp | undefined;
let influx: InfluxClient;
let app: FastifyInstance;
let hub: LiveHub;

const get = async (url: string, headers: Record<string, string> = { 'x-api-key': KEYS.admin }) => {
  const r = await app.inject({ method: 'GET', url, headers });
  return { status: r.statusCode, body: r.json() };
};
const countStored = async (device: string) => {
  const [s] = await influx.query(influxql`SELECT count("t_firing") FROM "roller_kiln" WHERE "device" = ${device}`);
  return s?.[0]?.values[0]?.[1];
};

beforeAll(async () => {
  const lines: string[] = [];
  for (let i = 0; i < 6; i++) {
    lines.push(readingToLine(model.devices.get('kiln-1')!, { ts: T0 + i * 10_000, metrics: { t_firing: 1200 + i, gas_flow: 10 } }));
    lines.push(readingToLine(model.devices.get('kiln-2')!, { ts: T0 + i * 10_000, metrics: { t_firing: 900, gas_flow: 99 } }));
  }
  const started = await startApiApp(model, lines, 'api_sec');
  ({ app, hub, influx } = started);
  api = started;
}, 30_000);

afterAll(async () => {
  await api?.stop();
});

describe('hostile parameters', () => {
  const tele = (id: string, q: string) => get(`/api/v1/devices/${encodeURIComponent(id)}/telemetry?${q}`);
  const enc = encodeURIComponent;

  it.each([
    ['metric', `metric=${enc('x" FROM /.*/ --')}`],
    ['metric', `metric=${enc('t_firing; DROP MEASUREMENT roller_kiln')}`],
    ['metric', `metric=${enc('t_firing") FROM "roller_kiln" WHERE "device" =~ /.*/ --')}`],
    ['from', `from=${enc("2020-01-01T00:00:00Z' OR device=~/.*/ OR device='x")}`],
    ['to', `to=${enc('now"; DROP MEASUREMENT roller_kiln')}`],
    ['window', `agg=mean&window=${enc('1m); DROP MEASUREMENT roller_kiln; --')}`],
    ['agg', `agg=${enc('mean("t_firing")) FROM /.*/;')}&window=1m`],
    ['limit', `limit=${enc('1; DROP MEASUREMENT roller_kiln')}`],
  ])('refuses a hostile %s with 400 naming it', async (param, q) => {
    const { status, body } = await tele('kiln-1', q);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'SP_ERR_API_PARAM', param });
  });

  it.each([
    "kiln-1' OR device=~/.*/ OR device='kiln-2",
    'kiln-1"; DROP MEASUREMENT roller_kiln',
    '; DROP MEASUREMENT roller_kiln',
  ])('refuses the device id %s before any query', async (id) => {
    const { status, body } = await tele(id, '');
    expect([400, 404]).toContain(status);
    expect(['SP_ERR_API_PARAM', 'SP_ERR_API_NOT_FOUND']).toContain(body.error.code);
    expect((await get(`/api/v1/devices/${encodeURIComponent(id)}`)).status).not.toBe(200);
  });

  it('refuses hostile filters of /devices', async () => {
    const r = await get(`/api/v1/devices?park=${enc("park-x' OR 1=1 --")}`);
    expect(r).toMatchObject({ status: 400, body: { error: { param: 'park' } } });
  });

  it('binds a hostile value below the validation as a literal that matches nothing', async () => {
    const hostile = "kiln-1' OR device=~/.*/ OR device='kiln-2";
    const got = await queryLastValues(influx, [...model.devices.values()], '1d', { tag: 'device', value: hostile });
    expect(got.size).toBe(0);
    const ok = await queryLastValues(influx, [...model.devices.values()], '1d', { tag: 'device', value: 'kiln-1' });
    expect([...ok.keys()]).toEqual(['kiln-1']);
  });

  it('still returns only the intended device, and all data is still stored afterwards', async () => {
    const { body } = await tele('kiln-1', `from=${T0}&to=${T0 + 50_000}`);
    expect(body.points.map((p: { values: { t_firing: number } }) => p.values.t_firing)).toEqual([1200, 1201, 1202, 1203, 1204, 1205]);
    expect(await countStored('kiln-1')).toBe(6);
    expect(await countStored('kiln-2')).toBe(6);
    const [ms] = await influx.query('SHOW MEASUREMENTS');
    expect(ms?.[0]?.values.flat()).toContain('roller_kiln');
  });
});

describe('API keys and roles', () => {
  it('answers 401 for a missing or unknown key', async () => {
    expect(await get('/api/v1/park', {})).toMatchObject({ status: 401, body: { error: { code: 'SP_ERR_API_KEY' } } });
    expect(await get('/api/v1/park', { 'x-api-key': 'nope' })).toMatchObject({ status: 401, body: { error: { code: 'SP_ERR_API_KEY' } } });
    expect((await get('/api/v1/park', { authorization: 'Basic abc' })).status).toBe(401);
  });

  it('accepts x-api-key and Authorization: Bearer', async () => {
    expect((await get('/api/v1/park', { 'x-api-key': KEYS.viewer })).status).toBe(200);
    expect((await get('/api/v1/park', { authorization: `Bearer ${KEYS.viewer}` })).status).toBe(200);
  });

  it('does not accept ?key= outside the WebSocket route', async () => {
    expect((await get(`/api/v1/park?key=${KEYS.admin}`, {})).status).toBe(401);
  });

  it.each([
    ['viewer', '/api/v1/devices', 200], ['viewer', '/api/v1/kinds', 200],
    ['viewer', '/api/v1/devices/kiln-1/telemetry', 403], ['engineer', '/api/v1/devices/kiln-1/telemetry', 200],
    ['engineer', '/api/v1/stats', 403], ['admin', '/api/v1/stats', 200], ['admin', '/api/v1/devices/kiln-1/telemetry', 200],
  ] as const)('%s on %s gets %i', async (role, url, status) => {
    const r = await get(url, { 'x-api-key': KEYS[role] });
    expect(r.status).toBe(status);
    if (status === 403) expect(r.body.error.code).toBe('SP_ERR_API_ROLE');
  });
});

describe('health, stats, docs', () => {
  it('is 503 naming the broker while MQTT is down, 200 when both are up; no key needed', async () => {
    hub.setConnected(false, 'disconnected from the broker');
    const down = await get('/health', {});
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'down', influxdb: { up: true }, mqtt: { up: false }, error: { code: 'SP_ERR_API_UPSTREAM' } });
    expect(down.body.error.message).toMatch(/MQTT broker/);
    hub.setConnected(true);
    const up = await get('/health', {});
    expect(up).toMatchObject({ status: 200, body: { status: 'ok', model: { devices: 2, parks: 1 } } });
  });

  it('counts requests and refusals by code for admins', async () => {
    const { body } = await get('/api/v1/stats');
    expect(body.requests).toBeGreaterThan(10);
    expect(body.refused.SP_ERR_API_PARAM).toBeGreaterThanOrEqual(9);
    expect(body.refused.SP_ERR_API_KEY).toBeGreaterThanOrEqual(3);
    expect(body.refused.SP_ERR_API_ROLE).toBeGreaterThanOrEqual(2);
    expect(body.mqtt).toMatchObject({ connected: true, messages: 0 });
  });

  it('serves the OpenAPI document with schemas and security, and swagger-ui', async () => {
    const doc = (await app.inject('/docs/json')).json();
    const t = doc.paths['/api/v1/devices/{id}/telemetry'].get;
    expect(t.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['id', 'metric', 'from', 'to', 'agg', 'window', 'limit']));
    expect(t.security).toEqual([{ apiKey: [] }, { bearer: [] }, { session: [] }]);
    expect(doc.paths['/api/v1/live']).toBeDefined();
    expect((await app.inject('/docs')).statusCode).toBeLessThan(400);
  });

  it('answers unknown routes with the error body', async () => {
    expect(await get('/api/v1/nope')).toMatchObject({ status: 404, body: { error: { code: 'SP_ERR_API_NOT_FOUND' } } });
  });
});
