/**
 * The alarm routes against the real InfluxDB (fastify.inject, events written as ingest writes
 * them): open vs all, filters, acknowledgement stored and listed, roles, refusals; and the live
 * hub's handling of the alarm topic (place from the model, forged or broken payloads dropped).
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import { KeyStore } from '../api/key-store.ts';
import { LiveHub, type LiveEvent } from '../api/live-hub.ts';
import { ALARM_TOPIC, alarmEventPoint, alarmId, eventPlace, type AlarmEvent } from '../core/alarms/events.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { loadParkModel } from '../core/model-file.ts';
import { hashSecret } from '../core/secrets.ts';

const model = loadParkModel();
const influx = new InfluxClient({ url: inject('influxUrl'), token: inject('influxToken') || undefined, db: `t_alarms_api_${process.pid}` });
const VIEWER = 'viewer-key-alarms-0123456789';
const ENGINEER = 'engineer-key-alarms-0123456789';
const NOW = Date.now();
let app: FastifyInstance;
const hub = new LiveHub(model);
const pushed: LiveEvent[] = [];
hub.subscribe((e) => pushed.push(e));

function ev(rule: string, device: string, state: AlarmEvent['state'], ts: number, raisedAt: number, value: number): AlarmEvent {
  const d = model.devices.get(device)!;
  return {
    id: alarmId(rule, device, raisedAt), state, rule, severity: rule === 'kiln' ? 'major' : 'critical', ...eventPlace(d),
    metric: 'temp', value, threshold: 8, message: `${device} ${rule}: test`, ts, raisedAt, emittedAt: ts,
  };
}
const H = 3_600_000;
const events = [
  ev('cold', 'al-cold-1', 'raised', NOW - 3 * H, NOW - 3 * H, 9), // open, raised 3 h ago
  ev('cold', 'al-cold-2', 'raised', NOW - 2 * H, NOW - 2 * H, 9.5),
  ev('cold', 'al-cold-2', 'cleared', NOW - H, NOW - 2 * H, 7), // cleared
  ev('cold', 'rf-cold-1', 'raised', NOW - 10 * 24 * H, NOW - 10 * 24 * H, 6), // open for 10 days
  ev('kiln', 'wm-kiln-1', 'raised', NOW - 30 * 60_000, NOW - 30 * 60_000, 40),
];

const get = async (url: string, key = VIEWER) => {
  const r = await app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
  return { status: r.statusCode, body: r.json() };
};
const ack = async (id: string, key = ENGINEER, payload: unknown = {}) => {
  const r = await app.inject({ method: 'POST', url: `/api/v1/alarms/${encodeURIComponent(id)}/ack`, headers: { 'x-api-key': key }, payload: payload as object });
  return { status: r.statusCode, body: r.json() };
};

beforeAll(async () => {
  await influx.ensureDatabase();
  const body = events.map((e) => alarmEventPoint(model.devices.get(e.device)!, e)).join('\n');
  expect(await influx.write(body)).toEqual({ kind: 'ok' });
  app = buildApp({
    model, influx, live: hub,
    keys: new KeyStore([{ id: 'v', role: 'viewer', hash: hashSecret(VIEWER) }, { id: 'eng-1', role: 'engineer', hash: hashSecret(ENGINEER) }]),
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await influx.query(influxql`DROP DATABASE ${ident(influx.config.db)}`, { db: null }).catch(() => {});
});

describe('GET /api/v1/alarms', () => {
  it('lists open alarms whatever their age, newest first, and not cleared ones', async () => {
    const r = await get('/api/v1/alarms');
    expect(r.status).toBe(200);
    expect(r.body.alarms.map((a: { id: string }) => a.id)).toEqual([events[4]!.id, events[0]!.id, events[3]!.id]);
    expect(r.body.alarms[1]).toMatchObject({ state: 'open', rule: 'cold', device: 'al-cold-1', park: 'banqiao', severity: 'critical', value: 9, threshold: 8, clearedAt: null, acknowledged: false });
  });

  it('filters by place, rule and severity', async () => {
    const ids = async (q: string) => (await get(`/api/v1/alarms?${q}`)).body.alarms.map((a: { device: string }) => a.device);
    expect(await ids('park=ronglong')).toEqual(['rf-cold-1']);
    expect(await ids('rule=kiln')).toEqual(['wm-kiln-1']);
    expect(await ids('severity=critical&enterprise=aolong')).toEqual(['al-cold-1']);
    expect(await ids('state=all&from=-4h')).toEqual(['wm-kiln-1', 'al-cold-2', 'al-cold-1']);
  });

  it('lists all alarms with an event in the range, a cleared one with both times', async () => {
    const r = await get(`/api/v1/alarms?state=all&device=al-cold-2&from=${NOW - 5 * H}&to=now`);
    expect(r.body.alarms).toMatchObject([{ id: events[1]!.id, state: 'cleared', raisedAt: NOW - 2 * H, clearedAt: NOW - H, value: 9.5 }]);
  });

  it('refuses unknown places, bad states and injection attempts naming the parameter', async () => {
    expect((await get('/api/v1/alarms?park=nowhere')).body.error).toMatchObject({ code: 'SP_ERR_API_PARAM', param: 'park' });
    expect((await get('/api/v1/alarms?state=closed')).body.error).toMatchObject({ code: 'SP_ERR_API_PARAM', param: 'state' });
    expect((await get(`/api/v1/alarms?rule=${encodeURIComponent("x' OR rule=~/.*/")}`)).status).toBe(400);
    expect((await get('/api/v1/alarms?from=-1h')).body.error).toMatchObject({ param: 'from' });
    expect((await get('/api/v1/alarms', 'wrong')).status).toBe(401);
  });
});

describe('POST /api/v1/alarms/:id/ack', () => {
  it('stores the acknowledgement in InfluxDB once and shows it in the listing', async () => {
    const id = events[0]!.id;
    expect(await ack(id, VIEWER)).toMatchObject({ status: 403 });
    const first = await ack(id, ENGINEER, { note: 'seen' });
    expect(first).toMatchObject({ status: 200, body: { id, acknowledged: true, ackedBy: 'eng-1', ackNote: 'seen', already: false } });
    expect((await ack(id)).body).toMatchObject({ already: true, ackedAt: first.body.ackedAt });
    expect(pushed).toEqual([{ type: 'alarm_ack', id, rule: 'cold', device: 'al-cold-1', park: 'banqiao', enterprise: 'aolong', workshop: 'vaccine', kind: 'cold_room', ackedAt: first.body.ackedAt, ackedBy: 'eng-1', note: 'seen' }]);
    const stored = await influx.query(influxql`SELECT "alarm_id", "by", "note" FROM "alarm_acks" WHERE "device" = ${'al-cold-1'}`);
    expect(stored[0]![0]!.values).toEqual([[first.body.ackedAt, id, 'eng-1', 'seen']]);
    const listed = (await get('/api/v1/alarms?device=al-cold-1')).body.alarms[0];
    expect(listed).toMatchObject({ id, acknowledged: true, ackedBy: 'eng-1', ackNote: 'seen', ackedAt: first.body.ackedAt });
    expect((await get('/api/v1/alarms?device=wm-kiln-1')).body.alarms[0]).toMatchObject({ acknowledged: false });
  });

  it('acknowledges a cleared alarm, and answers 404 for an alarm that was never raised', async () => {
    const r = await app.inject({ method: 'POST', url: `/api/v1/alarms/${events[1]!.id}/ack`, headers: { 'x-api-key': ENGINEER } }); // no body at all
    expect(r.statusCode).toBe(200);
    expect((await get(`/api/v1/alarms?state=all&device=al-cold-2&from=-1d`)).body.alarms[0]).toMatchObject({ state: 'cleared', acknowledged: true });
    expect((await ack(alarmId('cold', 'al-cold-1', NOW - 1))).body.error).toMatchObject({ code: 'SP_ERR_API_NOT_FOUND' });
    expect((await ack(alarmId('cold', 'no-such-device', NOW))).status).toBe(404);
    expect((await ack('cold:al-cold-1:abc')).status).toBe(400);
  });
});

describe('live hub and the alarm topic', () => {
  it('forwards valid alarm events with the place from the model and drops forged or broken ones', () => {
    const hub = new LiveHub(model);
    const got: LiveEvent[] = [];
    hub.subscribe((e) => got.push(e));
    const good = events[4]!;
    hub.handle(ALARM_TOPIC, Buffer.from(JSON.stringify({ ...good, park: 'banqiao', enterprise: 'forged' })));
    hub.handle(ALARM_TOPIC, Buffer.from(JSON.stringify({ ...good, id: 'kiln:al-cold-1:1' }))); // id names another device
    hub.handle(ALARM_TOPIC, Buffer.from(JSON.stringify({ ...good, device: 'nope' })));
    hub.handle(ALARM_TOPIC, Buffer.from('not json'));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ type: 'alarm', id: good.id, state: 'raised', device: 'wm-kiln-1', park: 'guangfu', enterprise: 'weimei', workshop: 'tile', line: 'line1' });
    expect(hub.counters()).toMatchObject({ alarmEvents: 1, invalid: 3 });
  });
});
