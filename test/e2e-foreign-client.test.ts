/**
 * "Done when" of the platform issue, literally: a plain MQTT client that is not part of this
 * project (Mosquitto's mosquitto_pub, from Debian) publishes N readings with a device's
 * credentials; exactly N are stored and returned by the API (a real API process); a wrong
 * password and a foreign topic are refused.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../core/contract.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await new TestPlatform().start();
  await p.startApi();
});
afterAll(async () => {
  await p?.stop();
});

/**
 * mosquitto_pub: several lines with -l (one message per stdin line), one message with -m.
 * Async: the broker runs in this process. A kill by the timeout shows as status null.
 */
function pub(id: string, password: string, topic: string, lines: string[]): Promise<{ status: number | null; stderr: string }> {
  const mode = lines.length === 1 ? ['-m', lines[0]!] : ['-l'];
  const c = spawn('mosquitto_pub', [
    '-h', '127.0.0.1', '-p', String(p.broker.ports.mqtt), '-V', 'mqttv311', '-i', id, '-u', id, '-P', password, '-q', '1', '-t', topic, ...mode,
  ], { stdio: ['pipe', 'ignore', 'pipe'], timeout: 15_000 });
  let stderr = '';
  c.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  c.stdin.end(`${lines.join('\n')}\n`);
  return new Promise((resolve) => c.once('close', (status) => resolve({ status, stderr })));
}

describe('a foreign MQTT client (mosquitto_pub)', () => {
  it('publishes N readings; exactly N are stored and returned by the API with their values', async () => {
    const id = 'al-cold-2';
    const d = p.model.devices.get(id)!;
    const N = 240;
    const t0 = Math.floor((Date.now() - 3_600_000) / 600_000) * 600_000; // whole 10 minutes: windows align to the epoch
    const lines = Array.from({ length: N }, (_, i) => JSON.stringify({ ts: t0 + i * 10_000, seq: i, metrics: { temp: 2 + (i % 60) / 10, compressor_on: i % 3 === 0 } }));
    const r = await pub(id, p.secrets[id]!, deviceTopic(d, 'telemetry'), lines);
    expect(r.status, r.stderr).toBe(0);
    await waitFor('N stored', async () => (await p.count(id)) >= N);
    expect(await p.count(id)).toBe(N);
    const from = new Date(t0).toISOString();
    const to = new Date(t0 + (N - 1) * 10_000).toISOString();
    const raw = await p.apiGet(`/api/v1/devices/${id}/telemetry?metric=temp,compressor_on&from=${from}&to=${to}&limit=1000`);
    expect(raw.status).toBe(200);
    expect(raw.body.metrics).toEqual([{ name: 'temp', type: 'number', unit: 'degC' }, { name: 'compressor_on', type: 'boolean' }]);
    expect(raw.body.truncated).toBe(false);
    expect(raw.body.points).toEqual(lines.map((l) => {
      const o = JSON.parse(l);
      return { ts: o.ts, values: o.metrics };
    }));
    // aggregated by the API: 10-minute means over 60 readings each (temp cycles 2.0 … 7.9)
    const agg = await p.apiGet(`/api/v1/devices/${id}/telemetry?metric=temp&from=${from}&to=${to}&agg=mean&window=10m`);
    expect(agg.status).toBe(200);
    expect(agg.body.points).toHaveLength(4);
    for (const pt of agg.body.points) expect(pt.values.temp).toBeCloseTo(4.95, 9);
  });

  it('is refused with a wrong password, and cut when it publishes to a foreign topic', async () => {
    const bad = await pub('al-cold-2', 'wrong', deviceTopic(p.model.devices.get('al-cold-2')!, 'telemetry'), ['{}']);
    expect(bad.status).toBeGreaterThan(0); // exited with an error, not killed by the timeout
    expect(bad.stderr).toMatch(/not authori[sz]ed|bad user|password/i);
    const victim = p.model.devices.get('wm-kiln-1')!;
    const before = await p.count(victim.id);
    const foreign = await pub('al-cold-2', p.secrets['al-cold-2']!, deviceTopic(victim, 'telemetry'), [JSON.stringify({ ts: Date.now(), metrics: { t_firing: 9999 } })]);
    expect(foreign.status, foreign.stderr).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(await p.count(victim.id)).toBe(before);
    expect(p.refusals.some((x) => x.code === 'SP_ERR_FORBIDDEN_TOPIC' && x.clientId === 'al-cold-2')).toBe(true);
  });
});
