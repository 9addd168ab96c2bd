/**
 * Alarms end to end with real parts: a cold room publishes over MQTT -> broker -> ingest (child
 * process, rules from a test alarms file) -> raise stored in InfluxDB, published on
 * sp/v1/_sys/alarms and pushed to an API WebSocket client (API child process); ingest is killed
 * with SIGKILL twice while the alarm is open (once before the raise was written, once after) and
 * the alarm is neither lost nor raised again; acknowledged through the API; cleared when the room
 * is back in band.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ALARM_TOPIC, type AlarmEvent } from '../core/alarms/events.ts';
import { deviceTopic } from '../core/contract.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

const dir = mkdtempSync(join(tmpdir(), 'sp-alarms-'));
const rulesFile = join(dir, 'alarms.yaml');
writeFileSync(rulesFile, `rules:
  - { id: cold-room-temp, type: threshold, kind: cold_room, metric: temp, above: { rated: highC, default: 8 }, below: { rated: lowC, default: 2 }, for: 1m, hysteresis: 0.5, severity: critical }
`);

let p: TestPlatform;
beforeAll(async () => {
  // a long flush interval keeps the raise on the spool (not yet in InfluxDB) when ingest is first killed
  p = await new TestPlatform({ ingestEnv: { INGEST_ALARMS_FILE: rulesFile, INGEST_FLUSH_INTERVAL_MS: '1500' } }).start();
  await p.startApi();
}, 30_000);
afterAll(async () => {
  await p?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ID = 'al-cold-1';

it('raises, survives two kill -9 of ingest without loss or duplicate, is acknowledged and clears', async () => {
  const dev = p.model.devices.get(ID)!;
  // watchers: MQTT alarm topic, and an API WebSocket client filtered on the device
  const watcher = await p.connect('svc-api', { clientId: 'svc-api-alarm-watch' });
  const mqttEvents: AlarmEvent[] = [];
  watcher.on('message', (topic, payload) => { if (topic === ALARM_TOPIC) mqttEvents.push(JSON.parse(String(payload))); });
  await watcher.subscribeAsync(ALARM_TOPIC, { qos: 1 });
  const ws = new WebSocket(`${p.apiUrl.replace('http', 'ws')}/api/v1/live?device=${ID}&key=${p.apiKey}`);
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await waitFor('websocket hello', () => frames.some((f) => f.type === 'hello'));
  await waitFor('api subscribed', async () => (await p.apiGet('/health')).status === 200);

  const c = await p.connect(ID);
  const t0 = Date.now() - 30 * 60_000;
  let sent = 0;
  const send = async (fromS: number, toS: number, temp: number) => {
    for (let s = fromS; s <= toS; s += 10) {
      await c.publishAsync(deviceTopic(dev, 'telemetry'), JSON.stringify({ ts: t0 + s * 1000, metrics: { temp, door_open: false } }), { qos: 1 });
      sent++;
    }
  };
  const stored = async () => {
    const r = await p.influx.query(influxql`SELECT "state", "alarm_id", "value", "threshold", "raised_at" FROM ${ident('alarm_events')} WHERE "device" = ${ID} ORDER BY time ASC`);
    return (r[0]?.[0]?.values ?? []) as [number, string, string, number, number, number][];
  };
  const wsAlarms = () => frames.filter((f) => f.type === 'alarm');
  const distinct = (list: { id?: unknown; state?: unknown }[]) => [...new Set(list.map((e) => `${String(e.state)}:${String(e.id)}`))];

  // in band for a minute, then 9 degC: beyond 8 for 1 min at s = 120
  await send(0, 50, 5);
  await send(60, 120, 9);
  const raiseId = `cold-room-temp:${ID}:${t0 + 120_000}`;
  // (the broker acknowledges a device before ingest has the message: wait until ingest decided)
  await waitFor('ingest raised', async () => (await p.ingestStats())?.['ingest_alarm_events_total{state="raised"}'] === 1, 5000, 10);
  // the raise is on the spool, not yet in InfluxDB: kill before the writer's 1.5 s flush
  await p.killIngest('SIGKILL');
  expect(await stored()).toEqual([]);
  await p.startIngest();
  await waitFor('raise stored after the spool replay', async () => (await stored()).length === 1, 15_000);
  expect(await stored()).toEqual([[t0 + 120_000, 'raised', raiseId, 9, 8, t0 + 120_000]]);
  await waitFor('raise on MQTT and WebSocket', () => mqttEvents.length >= 1 && wsAlarms().length >= 1, 10_000);
  expect(mqttEvents[0]).toMatchObject({ id: raiseId, state: 'raised', rule: 'cold-room-temp', severity: 'critical', device: ID, park: 'banqiao', value: 9, threshold: 8 });
  expect(wsAlarms()[0]).toMatchObject({ type: 'alarm', id: raiseId, state: 'raised', device: ID, enterprise: 'aolong', workshop: 'vaccine' });
  await waitFor('ingest knows the alarm is open', async () => (await p.ingestStats())?.ingest_alarms_open === 1);

  // still beyond: not raised again
  await send(130, 200, 9.5);
  let open = await p.apiGet('/api/v1/alarms?state=open&park=banqiao');
  expect(open.status).toBe(200);
  expect(open.body.alarms).toMatchObject([{ id: raiseId, state: 'open', rule: 'cold-room-temp', device: ID, raisedAt: t0 + 120_000, clearedAt: null, acknowledged: false }]);
  expect((await p.apiGet('/api/v1/alarms?state=open&park=guangfu')).body.alarms).toEqual([]);

  // acknowledge (engineer role; the test key is admin), idempotently
  const ack = async (id: string, body: unknown) => {
    const r = await fetch(`${p.apiUrl}/api/v1/alarms/${id}/ack`, { method: 'POST', headers: { 'x-api-key': p.apiKey, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json() as Record<string, unknown> };
  };
  const a1 = await ack(raiseId, { note: 'door seal checked' });
  expect(a1).toMatchObject({ status: 200, body: { id: raiseId, acknowledged: true, ackedBy: 'test-admin', ackNote: 'door seal checked', already: false } });
  expect((await ack(raiseId, {})).body).toMatchObject({ already: true, ackedAt: a1.body.ackedAt });
  expect((await ack(`cold-room-temp:${ID}:${t0}`, {})).status).toBe(404);
  expect((await ack('not-an-id', {})).status).toBe(400);
  await waitFor('ack pushed on the WebSocket', () => frames.some((f) => f.type === 'alarm_ack' && f.id === raiseId && f.ackedBy === 'test-admin'), 5000);
  open = await p.apiGet('/api/v1/alarms');
  expect(open.body.alarms).toMatchObject([{ id: raiseId, acknowledged: true, ackedBy: 'test-admin', ackNote: 'door seal checked' }]);

  // second kill -9: the raise is now only in InfluxDB; the restart rebuilds it with one query
  await waitFor('readings so far stored', async () => (await p.count(ID, 'temp')) === sent, 15_000);
  await p.killIngest('SIGKILL');
  await p.startIngest();
  await waitFor('open alarm rebuilt from InfluxDB', async () => (await p.ingestStats())?.ingest_alarms_open === 1, 10_000);
  await send(210, 300, 9.2);
  await waitFor('readings after restart stored', async () => (await p.count(ID, 'temp')) === sent, 15_000);
  expect((await stored()).map((r) => r[1])).toEqual(['raised']);

  // back in band by more than the hysteresis: cleared, same id, everywhere
  await send(310, 310, 6);
  await waitFor('clear stored', async () => (await stored()).length === 2, 15_000);
  expect((await stored())[1]).toEqual([t0 + 310_000, 'cleared', raiseId, 6, 8, t0 + 120_000]);
  await waitFor('clear on MQTT and WebSocket', () => mqttEvents.some((e) => e.state === 'cleared') && wsAlarms().some((f) => f.state === 'cleared'), 10_000);
  expect(distinct(mqttEvents)).toEqual([`raised:${raiseId}`, `cleared:${raiseId}`]);
  expect(distinct(wsAlarms())).toEqual([`raised:${raiseId}`, `cleared:${raiseId}`]);

  expect((await p.apiGet('/api/v1/alarms?state=open')).body.alarms).toEqual([]);
  const history = await p.apiGet(`/api/v1/alarms?state=all&device=${ID}&from=-1h`);
  expect(history.body.alarms).toMatchObject([{
    id: raiseId, state: 'cleared', raisedAt: t0 + 120_000, clearedAt: t0 + 310_000, value: 9, threshold: 8, acknowledged: true, ackedBy: 'test-admin',
  }]);
  ws.close();
}, 60_000);
