/** API start-up checks: config fails fast naming key, value and expectation; the key CLI and key file. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../api/config.ts';
import { loadKeyStore, roleAllows } from '../api/key-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'api-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'api/keys.ts', ...args], { encoding: 'utf8' });

describe('api config', () => {
  it('has the documented defaults', () => {
    const c = loadApiConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, keysFile: 'data/secrets/api-keys.json', mqtt: { username: 'svc-api', url: 'mqtt://127.0.0.1:1883' } });
    expect(c.mqtt.clientId).toMatch(/^svc-api-[0-9a-f]{8}$/);
    expect(c.influx).toMatchObject({ url: 'http://127.0.0.1:8086', db: 'smartpark' });
  });

  it.each([
    [{ API_PORT: '80a' }, /API_PORT="80a": expected an integer from 0 to 65535/],
    [{ MQTT_URL: 'http://x' }, /MQTT_URL="http:\/\/x": expected a URL with scheme/],
    [{ INFLUX_URL: 'nope' }, /INFLUX_URL="nope": expected a URL/],
    [{ API_MQTT_CLIENT_ID: 'a/b' }, /API_MQTT_CLIENT_ID="a\/b"/],
    [{ API_LAST_VALUES_LOOKBACK: '1 day' }, /API_LAST_VALUES_LOOKBACK="1 day": expected an InfluxQL duration/],
  ])('fails fast on %o', (env, message) => {
    expect(() => loadApiConfig(env)).toThrow(message);
  });
});

describe('api keys', () => {
  const file = join(dir, 'secrets', 'api-keys.json');

  it('adds a key, prints it once and stores only its hash', () => {
    const key = execFileSync(process.execPath, ['--import', 'tsx', 'api/keys.ts', 'add', '--id', 'ops', '--role', 'engineer', '--file', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = readFileSync(file, 'utf8');
    expect(stored).not.toContain(key);
    expect(JSON.parse(stored).keys[0]).toMatchObject({ id: 'ops', role: 'engineer', hash: expect.stringMatching(/^sha256\$/) });
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(loadKeyStore(file).find(key)).toEqual({ id: 'ops', role: 'engineer' });
    expect(loadKeyStore(file).find(`${key}x`)).toBeUndefined();
  });

  it('refuses a duplicate id, a bad role, and removes a key', () => {
    expect(cli(['add', '--id', 'ops', '--role', 'viewer', '--file', file]).status).toBe(1);
    expect(cli(['add', '--id', 'x', '--role', 'root', '--file', file]).stderr).toMatch(/--role root: expected one of viewer, engineer, admin/);
    expect(cli(['list', '--file', file]).stdout).toBe('ops\tengineer\n');
    expect(cli(['remove', '--id', 'ops', '--file', file]).status).toBe(0);
    expect(cli(['list', '--file', file]).stdout).toBe('');
  }, 20_000);

  it('refuses a key file with a bad entry, naming it', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ keys: [{ id: 'a', role: 'boss', hash: 'sha256$00$' + '0'.repeat(64) }] }));
    expect(() => loadKeyStore(bad)).toThrow(/keys\[0\]\.role: "boss" — expected one of viewer, engineer, admin/);
    expect(() => loadKeyStore(join(dir, 'missing.json'))).toThrow(/api\/keys\.ts add/);
  });

  it('orders roles viewer < engineer < admin', () => {
    expect(roleAllows('admin', 'engineer')).toBe(true);
    expect(roleAllows('engineer', 'admin')).toBe(false);
    expect(roleAllows('viewer', 'viewer')).toBe(true);
  });
});
