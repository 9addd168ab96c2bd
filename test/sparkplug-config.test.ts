/**
 * Start-up validation of the Sparkplug host's environment (ingest/sparkplug/config.ts) and of the
 * mapping's accounts (core/sparkplug/config.ts): every problem named with its key or path.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { loadParkModel } from '../core/model-file.ts';
import { edgeNodeAccounts, parseSparkplugConfig } from '../core/sparkplug/config.ts';
import { sparkplugHostConfig } from '../ingest/sparkplug/config.ts';
import { refusalMessage } from './harness/refusal.ts';

describe('Sparkplug host environment', () => {
  it('refuses a missing password and InfluxDB URL and bad numbers, naming every key', () => {
    const msg = refusalMessage(() => sparkplugHostConfig({ SPARKPLUG_HTTP_PORT: 'x', SPARKPLUG_REBIRTH_RETRY_MS: '5', MQTT_URL: 'http://a' }), 'SP_ERR_CONFIG', 'bad environment');
    for (const k of ['SPARKPLUG_MQTT_PASSWORD is not set', 'INFLUX_URL is not set', 'SPARKPLUG_HTTP_PORT="x"', 'SPARKPLUG_REBIRTH_RETRY_MS="5"', 'MQTT_URL="http://a"']) expect(msg).toContain(k);
  });

  it('has its defaults, with units in the names', () => {
    const c = sparkplugHostConfig({ SPARKPLUG_MQTT_PASSWORD: 'pw', INFLUX_URL: 'http://127.0.0.1:8086' });
    expect(c).toMatchObject({ mqttUrl: 'mqtt://127.0.0.1:1883', httpPort: 9103, rebirthRetryMs: 30_000, flushIntervalMs: 50, maxSpoolBytes: 2 * 1024 ** 3 });
    expect(c.spoolDir.endsWith('data/spool/sparkplug')).toBe(true);
    expect(c.mappingFile.endsWith('config/sparkplug.yaml')).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });
});

describe('Sparkplug mapping accounts', () => {
  const model = loadParkModel();
  const shipped = () => parseYaml(readFileSync('config/sparkplug.yaml', 'utf8'));
  it('gives each edge node the account spb-{group}-{node} and the host svc-sparkplug by default', () => {
    const cfg = parseSparkplugConfig(shipped(), model);
    expect(edgeNodeAccounts(cfg)).toEqual(['spb-rongchang-rf-edge-1']);
    expect(cfg.hostAccount).toBe('svc-sparkplug');
  });

  it('refuses accounts that are not spb- ids, shared accounts and a host account that is no service account', () => {
    const data = shipped();
    data.hostAccount = 'sparkplug';
    data.edgeNodes.push({ group: 'G', node: 'Node.A', devices: [] }, { group: 'g', node: 'n2', account: 'spb-rongchang-rf-edge-1', devices: [] },
      { group: 'g', node: 'n3', account: 'wm-kiln-1', devices: [] }, { group: 'g', node: 'n4', account: 'spb-' + 'x'.repeat(60), devices: [] });
    const msg = refusalMessage(() => parseSparkplugConfig(data, model), 'SP_ERR_CONFIG', 'bad accounts');
    expect(msg).toContain('sparkplug.hostAccount: "sparkplug"');
    expect(msg).toContain('sparkplug.edgeNodes[2].account: "spb-rongchang-rf-edge-1" — expected an account used by one edge node only');
    expect(msg).toContain('sparkplug.edgeNodes[3].account: "wm-kiln-1"');
    expect(msg).toContain('sparkplug.edgeNodes[4].account');
    // G/Node.A: a valid Sparkplug id, but "spb-g-node.a" is no account id ("." is not allowed): the file must name one
    expect(msg).toContain('sparkplug.edgeNodes[1].account: "spb-g-node.a"');
    expect(msg).toContain('set it when spb-{group}-{node} is not one');
  });
});
