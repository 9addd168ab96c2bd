/**
 * Oversized packets at the exact limit and on every transport (test/broker-security.test.ts
 * covers a 2 MB publish and a 100 MB announcement over TCP; tls-listeners.test.ts over TLS): a
 * packet of exactly MQTT_MAX_PACKET_BYTES passes the broker (its payload, over the contract's
 * 256 KiB, is then refused by ingest with SP_ERR_PAYLOAD_SIZE), one byte more cuts the
 * connection; over WebSocket an oversized packet is cut too, whether it comes in one frame or
 * announced in a small one.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { deviceTopic } from '../core/contract.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await new TestPlatform().start();
});
afterAll(async () => {
  await p?.stop();
});

const MAX = 512 * 1024; // the default MQTT_MAX_PACKET_BYTES
const refusedAtIngest = async () => p.ingestStat('ingest_messages_refused_total{code="SP_ERR_PAYLOAD_SIZE"}');

it('passes a packet of exactly the maximum size and cuts one a byte larger', async () => {
  const d = p.model.devices.get('wm-glaze-1')!;
  const topic = deviceTopic(d, 'telemetry');
  // PUBLISH QoS 1: type byte + 3-byte remaining length + topic (2 + n) + packet id (2) + payload
  const payloadAtMax = MAX - (1 + 3 + 2 + topic.length + 2);
  const c = await p.connect(d.id);
  await c.publishAsync(topic, Buffer.alloc(payloadAtMax, 0x20), { qos: 1 });
  expect(c.connected).toBe(true);
  await waitFor('ingest refuses the 512 KiB payload by the contract', async () => (await refusedAtIngest()) === 1, 20_000, 100);

  const before = p.broker.metrics.get('mqtt_packet_too_large_total');
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.publish(topic, Buffer.alloc(payloadAtMax + 1, 0x20), { qos: 1 });
  await closed;
  expect(p.broker.metrics.get('mqtt_packet_too_large_total')).toBe(before + 1);
  expect(await refusedAtIngest()).toBe(1); // the larger one never got past the broker
});

it('cuts oversized packets over WebSocket, in one frame or announced in a small one', async () => {
  const d = p.model.devices.get('wm-glaze-1')!;
  const url = `ws://127.0.0.1:${p.broker.ports.ws}/mqtt`;
  const c = await mqtt.connectAsync(url, { clientId: d.id, username: d.id, password: p.secrets[d.id], reconnectPeriod: 0 });
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.publish(deviceTopic(d, 'telemetry'), Buffer.alloc(2 * MAX, 0x20), { qos: 1 });
  await closed;

  // a raw WebSocket announcing a 100 MB CONNECT in a 5-byte frame: cut by the packet guard
  const before = p.broker.metrics.get('mqtt_packet_too_large_total');
  const ws = new WebSocket(url, ['mqtt']);
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const gone = new Promise((r) => ws.once('close', r));
  ws.send(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x30]));
  await gone;
  expect(p.broker.metrics.get('mqtt_packet_too_large_total')).toBe(before + 1);
  expect(await refusedAtIngest()).toBe(1);
});
