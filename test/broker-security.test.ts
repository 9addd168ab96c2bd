/**
 * The broker's front door, over real sockets: authentication, client-id binding, topic ACLs,
 * packet-size and topic limits, MQTT over WebSocket.
 */
import { connect as netConnect } from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../core/contract.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  // refusals are answered at once here (the login throttle has its own tests: abuse-flood, broker-login-throttle)
  p = await new TestPlatform({ startIngest: false, brokerConfig: { authFreeFailures: 1_000_000 } }).start();
});
afterAll(async () => {
  await p?.stop();
});

const refusedWith = async (opts: mqtt.IClientOptions): Promise<string> => {
  try {
    const c = await mqtt.connectAsync(p.mqttUrl, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
    await c.endAsync(true);
    return 'accepted';
  } catch (e) {
    return (e as Error).message;
  }
};

describe('broker authentication', () => {
  it('accepts a device with its own credentials and client id', async () => {
    const c = await p.connect('wm-kiln-1');
    expect(c.connected).toBe(true);
    await c.endAsync();
  });

  it('refuses a wrong password, an unknown device and a missing password', async () => {
    const n = p.refusals.length;
    expect(await refusedWith({ clientId: 'wm-kiln-1', username: 'wm-kiln-1', password: 'guess' })).toMatch(/Bad username or password/i);
    expect(await refusedWith({ clientId: 'nobody', username: 'nobody', password: 'x' })).toMatch(/Bad username or password/i);
    expect(await refusedWith({ clientId: 'wm-kiln-1', username: 'wm-kiln-1' })).toMatch(/Bad username or password/i);
    // another device's password does not open this device
    expect(await refusedWith({ clientId: 'wm-kiln-1', username: 'wm-kiln-1', password: p.secrets['wm-mill-1'] })).toMatch(/Bad username or password/i);
    expect(p.refusals.slice(n).map((r) => r.code)).toEqual(['SP_ERR_AUTH', 'SP_ERR_AUTH', 'SP_ERR_AUTH', 'SP_ERR_AUTH']);
  });

  it('refuses wildcard, separator and foreign client ids even with good credentials', async () => {
    const n = p.refusals.length;
    for (const clientId of ['+', '#', 'wm-kiln-1/x', 'wm-mill-1', 'svc-ingest']) {
      expect(await refusedWith({ clientId, username: 'wm-kiln-1', password: p.secrets['wm-kiln-1'] })).toMatch(/Identifier rejected/i);
    }
    expect(p.refusals.slice(n).every((r) => r.code === 'SP_ERR_CLIENT_ID')).toBe(true);
  });

  it('binds service accounts to their own client-id prefix', async () => {
    expect(await refusedWith({ clientId: 'wm-kiln-1', username: 'svc-ingest', password: p.secrets['svc-ingest'] })).toMatch(/Identifier rejected/i);
    const c = await p.connect('svc-ingest', { clientId: 'svc-ingest-7' });
    expect(c.connected).toBe(true);
  });
});

describe('broker topic ACL', () => {
  it("cuts a device that publishes to another device's topic and delivers nothing", async () => {
    const spy = await p.connect('svc-api', { clientId: 'svc-api-spy' });
    const seen: string[] = [];
    spy.on('message', (t) => seen.push(t));
    await spy.subscribeAsync('sp/v1/#', { qos: 1 });
    const c = await p.connect('wm-kiln-1');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    const victim = deviceTopic(p.model.devices.get('al-cold-1')!, 'telemetry');
    c.publish(victim, JSON.stringify({ ts: Date.now(), metrics: { temp: 30 } }), { qos: 1 });
    await closed;
    // its own topic still works on a new connection, and is delivered
    const c2 = await p.connect('wm-kiln-1');
    const own = deviceTopic(p.model.devices.get('wm-kiln-1')!, 'telemetry');
    await c2.publishAsync(own, '{}', { qos: 1 });
    await waitFor('own message delivered', () => seen.includes(own));
    expect(seen).not.toContain(victim);
    expect(p.refusals.some((r) => r.code === 'SP_ERR_FORBIDDEN_TOPIC' && r.detail.includes(victim))).toBe(true);
  });

  it('refuses publishing to wildcard or platform topics', async () => {
    for (const topic of ['sp/v1/_sys/dlq', 'sp/v1/guangfu/weimei/tile/wm-kiln-1/telemetry/extra', 'sp/v1/guangfu/weimei/tile/wm-kiln-2/telemetry']) {
      const c = await p.connect('wm-kiln-1');
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.publish(topic, '{}', { qos: 1 });
      await closed;
    }
  });

  it('grants a device subscriptions below its own prefix only', async () => {
    const c = await p.connect('wm-kiln-1');
    const own = 'sp/v1/guangfu/weimei/tile/wm-kiln-1/#';
    const filters = [own, 'sp/v1/#', '#', 'sp/v1/+/+/+/wm-kiln-1/#', 'sp/v1/guangfu/weimei/tile/al-cold-1/#'];
    // mqtt.js rejects when any filter is refused; the SUBACK rides on the error
    const granted = await c.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }]))).then(
      () => [] as number[], (e: { packet?: { granted: number[] } }) => e.packet?.granted ?? [],
    );
    expect(granted).toEqual([1, 128, 128, 128, 128]);
    expect(c.connected).toBe(true);
  });
});

describe('edge gateway accounts', () => {
  const topic = (id: string, ch: 'telemetry' | 'status') => deviceTopic(p.model.devices.get(id)!, ch);

  it('lets a gateway publish for the devices it owns, and cuts it for a device it does not own', async () => {
    const spy = await p.connect('svc-api', { clientId: 'svc-api-gw' });
    const seen: string[] = [];
    spy.on('message', (t) => seen.push(t));
    await spy.subscribeAsync('sp/v1/#', { qos: 1 });
    const gw = await p.connect('gw-weimei-1');
    for (const id of p.model.gateways.get('gw-weimei-1')!.devices.map((d) => d.id)) {
      await gw.publishAsync(topic(id, 'telemetry'), '{}', { qos: 1 });
      await gw.publishAsync(topic(id, 'status'), '{"state":"online"}', { qos: 1, retain: true });
    }
    await waitFor('gateway messages delivered', () => seen.includes(topic('wm-em-main', 'telemetry')) && seen.includes(topic('wm-kiln-1', 'status')));
    // another gateway's device, and a device that no gateway owns: refused, the connection cut
    for (const victim of ['al-fd-1', 'wm-mill-1']) {
      const c = await p.connect('gw-weimei-1');
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.publish(topic(victim, 'telemetry'), JSON.stringify({ ts: Date.now(), metrics: { power: 1 } }), { qos: 1 });
      await closed;
      expect(p.refusals.some((r) => r.code === 'SP_ERR_FORBIDDEN_TOPIC' && r.clientId === 'gw-weimei-1' && r.detail.includes(topic(victim, 'telemetry')))).toBe(true);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).not.toContain(topic('al-fd-1', 'telemetry'));
    expect(seen).not.toContain(topic('wm-mill-1', 'telemetry'));
  });

  it('binds a gateway to its own client id, and a device account cannot pose as a gateway', async () => {
    expect(await refusedWith({ clientId: 'gw-aolong-1', username: 'gw-weimei-1', password: p.secrets['gw-weimei-1'] })).toMatch(/Identifier rejected/i);
    expect(await refusedWith({ clientId: 'gw-weimei-1', username: 'gw-weimei-1', password: p.secrets['gw-aolong-1'] })).toMatch(/Bad username or password/i);
    expect(await refusedWith({ clientId: 'gw-weimei-1', username: 'wm-kiln-1', password: p.secrets['wm-kiln-1'] })).toMatch(/Identifier rejected/i);
  });

  it("marks a gateway's devices offline when its connection ends", async () => {
    const gw = await p.connect('gw-aolong-1');
    await gw.publishAsync(topic('al-cold-1', 'status'), '{"state":"online","info":"polled"}', { qos: 1, retain: true });
    await gw.endAsync();
    const w = await p.connect('svc-api', { clientId: 'svc-api-gwstatus' });
    const got = new Map<string, { state: string; info?: string }>();
    w.on('message', (t, m) => got.set(t, JSON.parse(m.toString())));
    await w.subscribeAsync(p.model.gateways.get('gw-aolong-1')!.devices.map((d) => deviceTopic(d, 'status')), { qos: 1 });
    await waitFor('retained status of every gateway device', () => got.size === 3);
    for (const s of got.values()) expect(s).toMatchObject({ state: 'offline', info: 'gateway gw-aolong-1 disconnected' });
  });
});

describe('broker limits', () => {
  it('cuts a connection that announces an oversized packet before reading its body', async () => {
    const c = await p.connect('wm-kiln-1');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish(deviceTopic(p.model.devices.get('wm-kiln-1')!, 'telemetry'), Buffer.alloc(2 * 1024 * 1024, 'x'), { qos: 1 });
    await closed;
    expect(p.broker.metrics.get('mqtt_packet_too_large_total')).toBeGreaterThanOrEqual(1);
  });

  it('cuts a raw TCP client announcing a 100 MB packet without buffering it', async () => {
    const before = p.broker.metrics.get('mqtt_packet_too_large_total');
    const sock = netConnect(p.broker.ports.mqtt, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    // CONNECT fixed header announcing 100 MB (remaining length varint 0x80 0x80 0x80 0x30)
    sock.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x30]));
    await new Promise((r) => sock.once('close', r));
    expect(p.broker.metrics.get('mqtt_packet_too_large_total')).toBe(before + 1);
  });

  it('carries MQTT over WebSocket with the same authentication', async () => {
    const url = `ws://127.0.0.1:${p.broker.ports.ws}/mqtt`;
    const c = await mqtt.connectAsync(url, { clientId: 'al-cold-2', username: 'al-cold-2', password: p.secrets['al-cold-2'], reconnectPeriod: 0 });
    await c.publishAsync(deviceTopic(p.model.devices.get('al-cold-2')!, 'telemetry'), '{}', { qos: 1 });
    await c.endAsync();
    await expect(mqtt.connectAsync(url, { clientId: 'al-cold-2', username: 'al-cold-2', password: 'nope', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password/i);
  });

  it('publishes retained online/offline status for devices', async () => {
    const d = p.model.devices.get('dj-press-1')!;
    const c = await p.connect('dj-press-1');
    await c.endAsync();
    const w = await p.connect('svc-api', { clientId: 'svc-api-status' });
    const got: string[] = [];
    w.on('message', (_t, m) => got.push(JSON.parse(m.toString()).state));
    await w.subscribeAsync(deviceTopic(d, 'status'), { qos: 1 });
    await waitFor('retained status', () => got.length > 0);
    expect(got[0]).toBe('offline');
  });
});
