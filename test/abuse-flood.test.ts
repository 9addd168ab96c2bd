/**
 * Abuse at the broker's front door, from one source address, while a legitimate device on
 * another address keeps publishing: a brute force of passwords (blocked per address after
 * MQTT_AUTH_MAX_FAILURES) and a flood of TCP connections that never finish CONNECT (cut after
 * MQTT_CONNECT_TIMEOUT_MS). The device connects during the attack and all its readings are stored.
 * Loopback addresses 127.0.0.2-4 stand for different hosts (the client socket's localAddress).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { MqttClient, type IClientOptions } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readingStream, TestPlatform, waitFor } from './harness/platform.ts';

const ATTACKER = '127.0.0.3';
const FLOODER = '127.0.0.4';
const DEVICE_HOST = '127.0.0.2';
let p: TestPlatform;
const sockets: Socket[] = [];
beforeAll(async () => {
  p = await new TestPlatform({ brokerConfig: { connectTimeoutMs: 1500, authMaxFailures: 20, authWindowMs: 60_000 } }).start();
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await p?.stop();
});

/** An MQTT connection whose socket is bound to a given local (source) address. */
function connectFrom(localAddress: string, opts: IClientOptions): Promise<MqttClient> {
  const c = new MqttClient(() => netConnect({ host: '127.0.0.1', port: p.broker.ports.mqtt, localAddress }), {
    protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 30, clean: true, ...opts,
  });
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', (e) => { c.end(true); reject(e); });
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}
const attempt = (localAddress: string, opts: IClientOptions) =>
  connectFrom(localAddress, opts).then(async (c) => { await c.endAsync(true); return 'accepted'; }, (e: Error) => e.message);

it('blocks a password brute force and a connection flood from one address; a device elsewhere is unaffected', async () => {
  const refusalsBefore = p.refusals.length;
  // 1. the connection flood: sockets that never send CONNECT (and one that stalls mid-packet)
  for (let i = 0; i < 200; i++) sockets.push(netConnect({ host: '127.0.0.1', port: p.broker.ports.mqtt, localAddress: FLOODER }));
  const half = netConnect({ host: '127.0.0.1', port: p.broker.ports.mqtt, localAddress: FLOODER }, () => half.write(Buffer.from([0x10, 0x20, 0x00])));
  sockets.push(half);
  for (const s of sockets) s.on('error', () => {});
  const closed = sockets.map((s) => new Promise<void>((r) => s.once('close', () => r())));

  // 2. the brute force: 150 guesses, 10 at a time, at a real device and at unknown accounts
  const results: string[] = [];
  const guesses = Array.from({ length: 150 }, (_, i) => (i % 3 === 0
    ? { clientId: `nobody-${i}`, username: `nobody-${i}`, password: 'x' }
    : { clientId: 'wm-kiln-1', username: 'wm-kiln-1', password: `guess-${i}` }));
  const brute = (async () => {
    for (let i = 0; i < guesses.length; i += 10) results.push(...await Promise.all(guesses.slice(i, i + 10).map((g) => attempt(ATTACKER, g))));
  })();

  // 3. meanwhile a device on another address connects and publishes 3,000 readings
  const d = p.model.devices.get('wm-mill-1')!;
  const dev = await connectFrom(DEVICE_HOST, { clientId: d.id, username: d.id, password: p.secrets[d.id] });
  const s = readingStream(dev, d, { base: Date.now() - 3_600_000, metric: 'power' });
  await brute;
  // the attacker's address is blocked now, even with the right password; the device's is not
  expect(await attempt(ATTACKER, { clientId: 'wm-kiln-1', username: 'wm-kiln-1', password: p.secrets['wm-kiln-1'] })).toMatch(/Not authorized/i);
  expect(await attempt(DEVICE_HOST, { clientId: 'wm-kiln-1', username: 'wm-kiln-1', password: p.secrets['wm-kiln-1'] })).toBe('accepted');
  await waitFor('device stream', () => s.acked >= 3000, 30_000, 20);
  s.running = false;
  await s.done;
  await dev.endAsync();

  expect(results.slice(0, 20).every((r) => /Bad username or password|Identifier rejected/i.test(r))).toBe(true);
  expect(results.slice(20).every((r) => /Not authorized/i.test(r))).toBe(true);
  const codes = p.refusals.slice(refusalsBefore).filter((r) => r.ip?.endsWith(ATTACKER)).map((r) => r.code);
  expect(codes.filter((c) => c === 'SP_ERR_AUTH').length).toBe(20);
  expect(codes.filter((c) => c === 'SP_ERR_RATE_LIMITED').length).toBe(131); // 130 guesses + the right password
  expect(p.refusals.slice(refusalsBefore).filter((r) => r.ip?.endsWith(DEVICE_HOST))).toEqual([]);

  // every reading of the device stored once; every flood socket cut by the connect timeout
  await waitFor('device readings stored', async () => (await p.seqStats(d.id)).count >= s.acked, 30_000, 200);
  expect(await p.seqStats(d.id)).toEqual({ count: s.acked, min: 0, max: s.acked - 1 });
  await Promise.all(closed);
  expect(p.broker.aedes.connectedClients).toBeLessThanOrEqual(2); // ingest (+ nothing of the flood)
}, 60_000);
