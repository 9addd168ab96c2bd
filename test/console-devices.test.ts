/**
 * Device administration through the API against a real broker process (broker/main.ts, which
 * reloads its credential store on SIGHUP) — no restart: a rotated device's open session is closed,
 * its old secret refused and the new one (shown once) accepted; a disabled device is refused and
 * enabled again; only admins may do it, by key or by console session.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPlatform, waitFor } from './harness/platform.ts';

const DEVICE = 'wm-press-1'; // its own MQTT account (not behind the edge gateway)
let p: TestPlatform;

const tryConnect = async (secret: string): Promise<'accepted' | string> => {
  try {
    const c = await mqtt.connectAsync(p.mqttUrl, { clientId: DEVICE, username: DEVICE, password: secret, reconnectPeriod: 0, connectTimeout: 5000 });
    await c.endAsync();
    return 'accepted';
  } catch (e) {
    return (e as Error).message;
  }
};

const post = async (path: string, headers: Record<string, string> = { 'x-api-key': p.apiKey }) => {
  const r = await fetch(`${p.apiUrl}${path}`, { method: 'POST', headers });
  return { status: r.status, body: await r.json() as any };
};

beforeAll(async () => {
  p = await new TestPlatform({ brokerProcess: true, startIngest: false }).start();
  const pidFile = join(p.dir, 'broker.pid');
  writeFileSync(pidFile, `${p.brokerChild!.pid}\n`);
  await p.startApi(undefined, { CONSOLE_BROKER_PID_FILE: pidFile, MQTT_CREDENTIALS_FILE: join(p.dir, 'mqtt-credentials.json') });
}, 60_000);

afterAll(async () => {
  await p?.stop();
});

describe('console device admin', () => {
  it('rotating a secret closes the open session, refuses the old secret and accepts the new one, without a broker restart', async () => {
    const old = p.secrets[DEVICE]!;
    const dev = await p.connect(DEVICE);
    let closed = false;
    dev.on('close', () => { closed = true; });
    const pid = p.brokerChild!.pid;
    const r = await post(`/api/v1/devices/${DEVICE}/rotate-secret`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: DEVICE, reloaded: true, sessionClosed: true });
    expect(r.body.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.body.secret).not.toBe(old);
    await waitFor('the old session to be closed', () => closed, 5000);
    expect(await tryConnect(old)).toMatch(/Bad username or password|Not authorized/i);
    expect(await tryConnect(r.body.secret)).toBe('accepted');
    expect(p.brokerChild!.pid).toBe(pid); // same broker process
    // the store holds only a hash of the new secret
    expect(readFileSync(join(p.dir, 'mqtt-credentials.json'), 'utf8')).not.toContain(r.body.secret);
    p.secrets[DEVICE] = r.body.secret;
  });

  it('a disabled device is refused (and its session closed) until it is enabled again with the same secret', async () => {
    const secret = p.secrets[DEVICE]!;
    const dev = await p.connect(DEVICE);
    let closed = false;
    dev.on('close', () => { closed = true; });
    const off = await post(`/api/v1/devices/${DEVICE}/disable`);
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ id: DEVICE, disabled: true, already: false, reloaded: true, sessionClosed: true });
    await waitFor('the session of the disabled device to be closed', () => closed, 5000);
    expect(await tryConnect(secret)).not.toBe('accepted');
    const list = await p.apiGet('/api/v1/admin/devices');
    expect(list.body.enabled).toBe(true);
    expect(list.body.viaGateway['wm-kiln-1']).toBe('gw-weimei-1');
    expect(Object.keys(list.body.disabled)).toEqual([DEVICE]);
    expect(list.body.disabled[DEVICE].by).toBe('test-admin');
    expect((await post(`/api/v1/devices/${DEVICE}/disable`)).body.already).toBe(true);
    const on = await post(`/api/v1/devices/${DEVICE}/enable`);
    expect(on.body).toMatchObject({ disabled: false, already: false, reloaded: true });
    await waitFor('the enabled device to be accepted', async () => (await tryConnect(secret)) === 'accepted', 5000);
    expect((await p.apiGet('/api/v1/admin/devices')).body.disabled).toEqual({});
  });

  it('only admins administer devices; by console session too (with CSRF); gateway-read devices and unknown ids are refused', async () => {
    const password = readFileSync(join(p.dir, 'console-admin.password'), 'utf8').trim();
    const origin = p.apiUrl;
    const login = await fetch(`${p.apiUrl}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify({ username: 'admin', password }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const { csrf } = await login.json() as { csrf: string };
    const noToken = await post(`/api/v1/devices/${DEVICE}/disable`, { cookie, origin });
    expect(noToken.status).toBe(403);
    expect(noToken.body.error.code).toBe('SP_ERR_API_CSRF');
    const bySession = await post(`/api/v1/devices/${DEVICE}/rotate-secret`, { cookie, origin, 'x-csrf-token': csrf });
    expect(bySession.status).toBe(200);
    expect(await tryConnect(bySession.body.secret)).toBe('accepted');
    const viaGateway = await post('/api/v1/devices/wm-kiln-1/disable');
    expect(viaGateway.status).toBe(400);
    expect(viaGateway.body.error).toMatchObject({ code: 'SP_ERR_API_PARAM', param: 'id' });
    expect((await post('/api/v1/devices/no-such-device/disable')).status).toBe(404);
  });
});
