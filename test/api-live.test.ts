/**
 * The live WebSocket over real sockets: an in-process Aedes broker, the API's one MQTT
 * subscription (mqtt-feed + LiveHub) and the API listening on a real port. A client filtering on
 * park X gets park X's readings and not park Y's; invalid payloads are dropped and counted; a client
 * that stops reading is skipped (counted) while another still gets every message.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildApp } from '../api/app.ts';
import { KeyStore } from '../api/key-store.ts';
import { LiveHub } from '../api/live-hub.ts';
import { connectMqttFeed, type MqttFeed } from '../api/mqtt-feed.ts';
import { deviceTopic } from '../core/contract.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { parseParkModel, type ParkModel } from '../core/model.ts';
import { hashSecret } from '../core/secrets.ts';

const model: ParkModel = parseParkModel({
  zone: { id: 'testzone', name: 'Test zone' },
  kinds: { roller_kiln: { description: 'Kiln', metrics: { t_firing: { type: 'number', unit: 'degC' }, note: { type: 'text', maxLength: 4096 } } } },
  parks: [
    { id: 'park-x', name: 'X', enterprises: [{ id: 'ent-a', name: 'A', sector: 's', workshops: [{ id: 'ws1', name: 'W', devices: [{ id: 'kiln-1', kind: 'roller_kiln' }] }] }] },
    { id: 'park-y', name: 'Y', enterprises: [{ id: 'ent-b', name: 'B', sector: 's', workshops: [{ id: 'ws2', name: 'W', devices: [{ id: 'kiln-9', kind: 'roller_kiln' }] }] }] },
  ],
});
const KEY = 'viewer-key-0123456789';
const topic = (id: string, ch: 'telemetry' | 'status' = 'telemetry') => deviceTopic(model.devices.get(id)!, ch);

let broker: Aedes;
let mqttServer: Server;
let feed: MqttFeed;
let hub: LiveHub;
let app: FastifyInstance;
let device: MqttClient;
let base: string;

/** Opens a live socket and collects its JSON messages; resolves once the hello frame arrived. */
async function live(query: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(`${base}/api/v1/live?${query}`, { headers });
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await once(ws, 'open');
  await until(() => messages.length > 0);
  expect(messages[0]).toMatchObject({ type: 'hello' });
  return { ws, messages, telemetry: () => messages.filter((m) => m.type === 'telemetry') };
}
async function refusedStatus(query: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WebSocket(`${base}/api/v1/live?${query}`, { headers });
  ws.on('error', () => {});
  const [, res] = await once(ws, 'unexpected-response');
  ws.terminate();
  return (res as { statusCode: number }).statusCode;
}
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  broker = await Aedes.createBroker();
  mqttServer = createServer(broker.handle).listen(0, '127.0.0.1');
  await once(mqttServer, 'listening');
  const url = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;
  hub = new LiveHub(model);
  feed = connectMqttFeed({ url, username: 'svc-api', clientId: 'svc-api-test' }, hub);
  await until(() => hub.connected);
  app = buildApp({
    model, live: hub, influx: new InfluxClient({ url: 'http://127.0.0.1:9', db: 'unused' }),
    keys: new KeyStore([{ id: 'v', role: 'viewer', hash: hashSecret(KEY) }]),
    options: { wsMaxBufferedBytes: 64 * 1024 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  device = await mqtt.connectAsync(url, { clientId: 'test-device' });
}, 15_000);

afterAll(async () => {
  await device?.endAsync();
  await app?.close();
  await feed?.close();
  await new Promise<void>((r) => broker ? broker.close(() => r()) : r());
  mqttServer?.close();
});

describe('live WebSocket', () => {
  it('delivers readings of park X to a park=X client and not those of park Y', async () => {
    const x = await live(`park=park-x&key=${KEY}`);
    const y = await live('park=park-y', { 'x-api-key': KEY });
    const ts = Date.now();
    await device.publishAsync(topic('kiln-9'), JSON.stringify({ ts, metrics: { t_firing: 999 } }), { qos: 1 });
    await device.publishAsync(topic('kiln-1'), JSON.stringify({ ts, seq: 1, metrics: { t_firing: 1190.5 } }), { qos: 1 });
    await device.publishAsync(topic('kiln-1'), 'not json', { qos: 1 });
    await device.publishAsync(topic('kiln-1'), JSON.stringify({ ts, metrics: { nope: 1 } }), { qos: 1 });
    await device.publishAsync(topic('kiln-1'), JSON.stringify({ readings: [{ ts: ts + 1, metrics: { t_firing: 1191 } }] }), { qos: 1 });
    await until(() => x.telemetry().length === 2 && y.telemetry().length === 1);
    expect(x.telemetry()).toEqual([
      { type: 'telemetry', device: 'kiln-1', park: 'park-x', enterprise: 'ent-a', workshop: 'ws1', kind: 'roller_kiln', ts, seq: 1, metrics: { t_firing: 1190.5 } },
      { type: 'telemetry', device: 'kiln-1', park: 'park-x', enterprise: 'ent-a', workshop: 'ws1', kind: 'roller_kiln', ts: ts + 1, metrics: { t_firing: 1191 } },
    ]);
    expect(y.telemetry()).toEqual([expect.objectContaining({ device: 'kiln-9', park: 'park-y', metrics: { t_firing: 999 } })]);
    expect(hub.counters()).toMatchObject({ invalid: 2, invalidByCode: { SP_ERR_PAYLOAD_JSON: 1, SP_ERR_UNKNOWN_METRIC: 1 } });
    x.ws.close();
    y.ws.close();
  });

  it('pushes status changes and remembers them for /devices', async () => {
    const x = await live(`device=kiln-1&key=${KEY}`);
    await device.publishAsync(topic('kiln-1', 'status'), JSON.stringify({ state: 'offline', ts: 1_700_000_000_000 }), { qos: 1, retain: true });
    await until(() => x.messages.some((m) => m.type === 'status'));
    expect(x.messages.find((m) => m.type === 'status')).toMatchObject({ device: 'kiln-1', state: 'offline', ts: 1_700_000_000_000 });
    expect(hub.statusOf('kiln-1')).toEqual({ state: 'offline', since: 1_700_000_000_000 });
    x.ws.close();
  });

  it('refuses a socket without a valid key (401) or with a filter not in the model (400)', async () => {
    expect(await refusedStatus('park=park-x')).toBe(401);
    expect(await refusedStatus('park=park-x&key=wrong')).toBe(401);
    expect(await refusedStatus(`park=nowhere&key=${KEY}`)).toBe(400);
  });

  it('skips a client that stops reading, and still delivers everything to the others', async () => {
    const slow = await live(`device=kiln-1&key=${KEY}`);
    const fast = await live(`device=kiln-1&key=${KEY}`);
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const note = 'x'.repeat(4000);
    const messages = 100, perBatch = 50;
    for (let i = 0; i < messages; i++) {
      const ts = Date.now();
      const readings = Array.from({ length: perBatch }, (_, j) => ({ ts, seq: i * perBatch + j, metrics: { note } }));
      await device.publishAsync(topic('kiln-1'), JSON.stringify({ readings }), { qos: 1 });
    }
    await until(() => fast.telemetry().length === messages * perBatch, 10_000);
    expect(app.stats.liveDropped).toBeGreaterThan(0);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await until(() => slow.telemetry().length + app.stats.liveDropped === messages * perBatch, 10_000);
    expect(slow.telemetry().length).toBeLessThan(messages * perBatch);
    slow.ws.close();
    fast.ws.close();
    await until(() => app.stats.liveClients === 0);
  }, 20_000);
});
