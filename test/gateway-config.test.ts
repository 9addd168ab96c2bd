/**
 * The gateway's configuration fails fast: environment keys are checked once, with the key, the
 * value and what was expected; a field configuration that binds a device the gateway does not
 * own in the park model stops the real entry file before it polls or connects anything.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { gatewayConfig } from '../gateway/config.ts';

const ROOT = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'sp-gw-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = { GATEWAY_ID: 'gw-weimei-1', GATEWAY_MQTT_PASSWORD: 'secret' };

describe('gateway configuration', () => {
  it('has documented defaults, and is frozen', () => {
    const c = gatewayConfig(base);
    expect(c).toMatchObject({
      gatewayId: 'gw-weimei-1', mqttUrl: 'mqtt://127.0.0.1:1883', maxInflight: 32, bufferMaxBytes: 256 * 1024 * 1024,
      bufferSegmentBytes: 16 * 1024 * 1024, bufferWarnRatio: 0.8, httpPort: 9104, mqttReconnectMs: 2000,
      bufferDir: resolve('data/spool/gw-weimei-1'), configFile: resolve('config/gateway.yaml'),
    });
    expect(c.limits).toMatchObject({ maxBatch: 1000, maxPayloadBytes: 256 * 1024, maxPastMs: 7 * 24 * 3_600_000 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names the key, the value and what was expected', () => {
    expect(() => gatewayConfig({})).toThrow(/GATEWAY_ID=undefined: expected a gateway id starting with gw-/);
    expect(() => gatewayConfig({ ...base, GATEWAY_ID: 'wm-kiln-1' })).toThrow(/GATEWAY_ID="wm-kiln-1": expected a gateway id/);
    expect(() => gatewayConfig({ ...base, GATEWAY_BUFFER_MAX_BYTES: '10' })).toThrow(/GATEWAY_BUFFER_MAX_BYTES="10": expected an integer from 262144 to/);
    expect(() => gatewayConfig({ ...base, GATEWAY_MAX_INFLIGHT: 'many' })).toThrow(/GATEWAY_MAX_INFLIGHT="many": expected an integer from 1 to 1000/);
    expect(() => gatewayConfig({ ...base, MQTT_URL: 'http://x' })).toThrow(/MQTT_URL="http:\/\/x": expected mqtt:\/\//);
    expect(() => gatewayConfig({ GATEWAY_ID: 'gw-weimei-1', GATEWAY_SECRETS_FILE: join(dir, 'none.json') })).toThrow(/GATEWAY_MQTT_PASSWORD is not set and GATEWAY_SECRETS_FILE=.*none\.json.* cannot be read/);
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ 'gw-aolong-1': 'x' }));
    expect(() => gatewayConfig({ GATEWAY_ID: 'gw-weimei-1', GATEWAY_SECRETS_FILE: join(dir, 'secrets.json') })).toThrow(/has no secret for gw-weimei-1/);
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ 'gw-weimei-1': 'from-file' }));
    expect(gatewayConfig({ GATEWAY_ID: 'gw-weimei-1', GATEWAY_SECRETS_FILE: join(dir, 'secrets.json') }).mqttPassword).toBe('from-file');
  });

  it('refuses at start a field configuration that binds a device the gateway does not own', () => {
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, stringify({
      profiles: { cold: { protocol: 'modbus', points: [{ metric: 'temp', register: 'input', address: 0, type: 'int16', scale: 0.1, unit: 'degC' }] } },
      gateways: { 'gw-weimei-1': { connections: [{ id: 'c1', protocol: 'modbus-tcp', host: '127.0.0.1', port: 1502, devices: [{ device: 'al-cold-1', unitId: 1, profile: 'cold' }] }] } },
    }));
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
      cwd: ROOT, encoding: 'utf8', timeout: 30_000,
      env: { PATH: process.env.PATH ?? '', ...base, GATEWAY_CONFIG: file, GATEWAY_HTTP_PORT: '-1', GATEWAY_BUFFER_DIR: join(dir, 'buf') },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/gateways\.gw-weimei-1\.connections\[0\]\.devices\[0\]\.device: "al-cold-1" — expected a device owned by gw-weimei-1/);
  });
});
