/**
 * What crosses brokers in the cluster profile (cluster/mqtt-relay.ts), two real broker processes on
 * one NATS cluster: a subscriber on one broker gets, exactly once, the telemetry of a device on the
 * other, its retained online/offline status (also when it subscribes later), and the platform's
 * alarm events published on the other broker; a subscriber on the device's own broker gets each once too.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALARM_TOPIC } from '../core/alarms/events.ts';
import { deviceTopic } from '../core/contract.ts';
import { TestCluster } from './harness/cluster.ts';
import { waitFor } from './harness/platform.ts';

let c: TestCluster;
beforeAll(async () => {
  c = await new TestCluster().start(2);
}, 60_000);
afterAll(async () => {
  await c?.stop();
});

function collect(client: MqttClient) {
  const got: { topic: string; payload: string; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return got;
}

it('telemetry, retained status and alarm events reach subscribers on the other broker, once', async () => {
  const d = c.model.devices.get('al-cold-1')!;
  const far = await c.connect('svc-api', c.brokerUrl(1));
  const near = await c.connect('svc-api-near', c.brokerUrl(0), { username: 'svc-api', password: c.secrets['svc-api'] });
  const farGot = collect(far);
  const nearGot = collect(near);
  await far.subscribeAsync('sp/v1/#', { qos: 1 });
  await near.subscribeAsync('sp/v1/#', { qos: 1 });
  // Interest travels from the far broker's NATS server to the others over the cluster routes, a
  // little later than the SUBACK (live relaying is at most once, like core NATS; the stream is the
  // durable path): another device publishes probes until one arrives far away.
  const probeDev = c.model.devices.get('al-cold-2')!;
  const probe = await c.connect(probeDev.id, c.brokerUrl(0));
  await waitFor('interest across the NATS cluster', async () => {
    await probe.publishAsync(deviceTopic(probeDev, 'telemetry'), JSON.stringify({ ts: Date.now(), metrics: { temp: 4 } }), { qos: 1 });
    return farGot.some((m) => m.topic === deviceTopic(probeDev, 'telemetry'));
  }, 15_000, 100);

  const dev = await c.connect(d.id, c.brokerUrl(0));
  const bodies = Array.from({ length: 50 }, (_, s) => JSON.stringify({ ts: Date.now() - 10_000 + s, seq: s, metrics: { temp: 4 } }));
  for (const b of bodies) await dev.publishAsync(deviceTopic(d, 'telemetry'), b, { qos: 1 });
  const svc = await c.connect('svc-ingest', c.brokerUrl(0));
  await svc.publishAsync(ALARM_TOPIC, '{"id":"test-alarm"}', { qos: 1 });

  const tele = (got: typeof farGot) => got.filter((m) => m.topic === deviceTopic(d, 'telemetry')).map((m) => m.payload);
  const status = (got: typeof farGot) => got.filter((m) => m.topic === deviceTopic(d, 'status')).map((m) => JSON.parse(m.payload).state as string);
  await waitFor('the far subscriber to get it all', () => tele(farGot).length >= 50 && farGot.some((m) => m.topic === ALARM_TOPIC) && status(farGot).includes('online'), 10_000, 50);
  await new Promise((r) => setTimeout(r, 300)); // duplicates, if any, would arrive now
  expect(tele(farGot)).toEqual(bodies);
  expect(tele(nearGot)).toEqual(bodies);
  expect(farGot.filter((m) => m.topic === ALARM_TOPIC).length).toBe(1);
  expect(nearGot.filter((m) => m.topic === ALARM_TOPIC).length).toBe(1);
  expect(status(farGot)).toEqual(['online']);
  expect(status(nearGot)).toEqual(['online']);

  // a subscriber that comes later to the far broker gets the retained status from there
  const late = await c.connect('svc-api-late', c.brokerUrl(1), { username: 'svc-api', password: c.secrets['svc-api'] });
  const lateGot = collect(late);
  await late.subscribeAsync(deviceTopic(d, 'status'), { qos: 1 });
  await waitFor('the retained status', () => lateGot.length > 0, 5000, 20);
  expect(lateGot.map((m) => [JSON.parse(m.payload).state, m.retain])).toEqual([['online', true]]);

  await dev.endAsync();
  await waitFor('offline everywhere', () => status(farGot).at(-1) === 'offline' && status(lateGot.map((m) => ({ ...m, topic: deviceTopic(d, 'status') }))).at(-1) === 'offline', 5000, 20);
  expect(status(farGot)).toEqual(['online', 'offline']);
});
