/**
 * TLS when certificates are configured: the broker listens for MQTT over TLS (mqtts) and MQTT
 * over secure WebSocket (wss) with the same authentication, ACL and packet guard as in the clear,
 * and the API serves HTTPS (and its live WebSocket over wss). The certificate is a self-signed
 * one made by Debian's openssl for 127.0.0.1 in the test; clients trust it as their CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { brokerConfig } from '../broker/config.ts';
import { deviceTopic } from '../core/contract.ts';
import { loadApiConfig } from '../api/config.ts';
import { httpsGet, TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
const certDir = mkdtempSync(join(tmpdir(), 'sp-tls-'));
const certFile = join(certDir, 'cert.pem');
const keyFile = join(certDir, 'key.pem');
let cert: Buffer;
beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  cert = readFileSync(certFile);
  p = await new TestPlatform({ brokerConfig: { tlsCertFile: certFile, tlsKeyFile: keyFile, tlsPort: 0, wssPort: 0 } }).start();
});
afterAll(async () => {
  await p?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

const reading = (i: number) => JSON.stringify({ ts: Date.now() - 60_000 + i, seq: i, metrics: { temp: 4 + i / 100 } });

describe('broker over TLS', () => {
  it('takes a device over mqtts and over wss with the same credentials; its readings are stored', async () => {
    const creds = (id: string) => ({ clientId: id, username: id, password: p.secrets[id], reconnectPeriod: 0, connectTimeout: 5000, ca: cert });
    const a = p.model.devices.get('al-cold-1')!;
    const b = p.model.devices.get('al-cold-2')!;
    const overTls = await mqtt.connectAsync(`mqtts://127.0.0.1:${p.broker.ports.mqtts}`, creds(a.id));
    const overWss = await mqtt.connectAsync(`wss://127.0.0.1:${p.broker.ports.wss}/mqtt`, { ...creds(b.id), wsOptions: { ca: cert } });
    for (let i = 0; i < 50; i++) {
      await Promise.all([
        overTls.publishAsync(deviceTopic(a, 'telemetry'), reading(i), { qos: 1 }),
        overWss.publishAsync(deviceTopic(b, 'telemetry'), reading(i), { qos: 1 }),
      ]);
    }
    await Promise.all([overTls.endAsync(), overWss.endAsync()]);
    await waitFor('readings stored', async () => (await p.count(a.id)) === 50 && (await p.count(b.id)) === 50, 20_000, 100);
    expect(await p.seqStats(a.id)).toEqual({ count: 50, min: 0, max: 49 });
    expect(await p.seqStats(b.id)).toEqual({ count: 50, min: 0, max: 49 });
  });

  it('refuses bad credentials and foreign topics over TLS exactly as in the clear', async () => {
    const base = { reconnectPeriod: 0, connectTimeout: 5000, ca: cert };
    await expect(mqtt.connectAsync(`mqtts://127.0.0.1:${p.broker.ports.mqtts}`, { ...base, clientId: 'al-cold-1', username: 'al-cold-1', password: 'guess' }))
      .rejects.toThrow(/Bad username or password/i);
    await expect(mqtt.connectAsync(`wss://127.0.0.1:${p.broker.ports.wss}/mqtt`, { ...base, wsOptions: { ca: cert }, clientId: '+', username: 'al-cold-1', password: p.secrets['al-cold-1'] }))
      .rejects.toThrow(/Identifier rejected/i);
    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${p.broker.ports.mqtts}`, { ...base, clientId: 'al-cold-1', username: 'al-cold-1', password: p.secrets['al-cold-1'] });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish(deviceTopic(p.model.devices.get('wm-kiln-1')!, 'telemetry'), reading(0), { qos: 1 });
    await closed;
    expect(p.refusals.some((r) => r.code === 'SP_ERR_FORBIDDEN_TOPIC' && r.clientId === 'al-cold-1')).toBe(true);
  });

  it('is really TLS: an untrusting client and a plain MQTT client both fail; the packet guard holds', async () => {
    await expect(mqtt.connectAsync(`mqtts://127.0.0.1:${p.broker.ports.mqtts}`, { reconnectPeriod: 0, connectTimeout: 3000, clientId: 'al-cold-1', username: 'al-cold-1', password: p.secrets['al-cold-1'] }))
      .rejects.toThrow(/self[- ]signed/i);
    // a valid CONNECT in the clear to the TLS port: no CONNACK, the connection is closed
    const str = (t: string) => { const b = Buffer.from(t); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]); };
    const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str('al-cold-1'), str('al-cold-1'), str(p.secrets['al-cold-1']!)]);
    const plain = netConnect(p.broker.ports.mqtts, '127.0.0.1');
    const answer: Buffer[] = [];
    plain.on('data', (d: Buffer) => answer.push(d));
    plain.on('error', () => {});
    await new Promise((r) => plain.once('connect', r));
    plain.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    await new Promise((r) => plain.once('close', r));
    expect(Buffer.concat(answer).includes(Buffer.from([0x20, 0x02]))).toBe(false);
    // a CONNECT announcing 100 MB over TLS is cut at its fixed header, as over TCP
    const before = p.broker.metrics.get('mqtt_packet_too_large_total');
    const sock = tlsConnect({ host: '127.0.0.1', port: p.broker.ports.mqtts, ca: cert });
    sock.on('error', () => {});
    await new Promise((r) => sock.once('secureConnect', r));
    sock.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x30]));
    await new Promise((r) => sock.once('close', r));
    expect(p.broker.metrics.get('mqtt_packet_too_large_total')).toBe(before + 1);
  });
});

describe('TLS configuration', () => {
  it('refuses half a configuration or unreadable files, naming the key, the value and what was expected', () => {
    expect(() => brokerConfig({ MQTT_TLS_CERT_FILE: certFile })).toThrow(/MQTT_TLS_KEY_FILE is not set but MQTT_TLS_CERT_FILE is: expected both/);
    expect(() => brokerConfig({ MQTT_TLS_CERT_FILE: '/nonexistent.pem', MQTT_TLS_KEY_FILE: keyFile })).toThrow(/MQTT_TLS_CERT_FILE="\/nonexistent.pem": expected a readable PEM file \(ENOENT\)/);
    expect(() => brokerConfig({ MQTT_TLS_CERT_FILE: keyFile, MQTT_TLS_KEY_FILE: keyFile })).toThrow(/MQTT_TLS_CERT_FILE=.*expected a PEM certificate/);
    expect(() => brokerConfig({ MQTT_TLS_PORT: '88830' })).toThrow(/MQTT_TLS_PORT="88830": expected an integer from -1 to 65535/);
    expect(brokerConfig({}).tlsCertFile).toBe('');
    expect(() => loadApiConfig({ API_TLS_KEY_FILE: keyFile })).toThrow(/API_TLS_CERT_FILE=\(unset\): expected a PEM certificate file/);
    expect(() => loadApiConfig({ API_TLS_CERT_FILE: certFile, API_TLS_KEY_FILE: certFile })).toThrow(/API_TLS_KEY_FILE=.*expected a PEM private key/);
    expect(loadApiConfig({ API_TLS_CERT_FILE: certFile, API_TLS_KEY_FILE: keyFile }).tls).toEqual({ certFile, keyFile });
  });
});

describe('API over HTTPS', () => {
  it('answers over https with the same keys, and serves its live WebSocket over wss', async () => {
    await p.startApi({ certFile, keyFile, ca: cert });
    expect(p.apiUrl).toMatch(/^https:/);
    const r = await httpsGet(`${p.apiUrl}/api/v1/devices?park=banqiao`, cert, { 'x-api-key': p.apiKey });
    expect(r.status).toBe(200);
    expect(JSON.stringify(JSON.parse(r.body))).toContain('al-cold-1');
    expect((await httpsGet(`${p.apiUrl}/api/v1/devices`, cert)).status).toBe(401);
    await expect(fetch(`${p.apiUrl.replace('https', 'http')}/health`)).rejects.toThrow(); // no plain HTTP on that port
    // live feed over wss: a reading published over mqtts shows up
    const ws = new WebSocket(`${p.apiUrl.replace('https', 'wss')}/api/v1/live?device=al-cold-1&key=${p.apiKey}`, { ca: cert });
    const got: string[] = [];
    ws.on('message', (m) => got.push(m.toString()));
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const d = p.model.devices.get('al-cold-1')!;
    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${p.broker.ports.mqtts}`, { clientId: d.id, username: d.id, password: p.secrets[d.id], reconnectPeriod: 0, ca: cert });
    await waitFor('live reading over wss', async () => {
      await c.publishAsync(deviceTopic(d, 'telemetry'), reading(1000), { qos: 1 });
      return got.some((m) => m.includes('al-cold-1'));
    }, 20_000, 300);
    ws.close();
    await c.endAsync();
    // and it stops cleanly on SIGTERM
    const api = p.api!;
    const exited = new Promise<number | null>((r) => api.once('exit', (code) => r(code)));
    api.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
