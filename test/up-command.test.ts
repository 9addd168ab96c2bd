/**
 * README's run command, for real: scripts/up.ts starts InfluxDB, broker, ingest, API and the
 * simulated park (on free ports, with its data in a temporary folder) — part of it behind the edge
 * gateways, polled over Modbus and DL/T 645 from the field simulators; within a minute the API
 * returns live data for every device; SIGINT stops everything.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadParkModel } from '../core/model-file.ts';
const model = loadParkModel();
import { ROOT, upEnv, waitFor } from './harness/platform.ts';

const dir = mkdtempSync(join(tmpdir(), 'sp-up-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('brings the platform up with live data for every simulated device, and stops it on Ctrl-C', async () => {
  const { ports, env } = await upEnv(dir);
  delete env.INFLUX_URL;
  let out = '';
  const up = spawn(process.execPath, ['--import', 'tsx', 'scripts/up.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  up.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  try {
    await waitFor('the platform to be up', () => out.includes('Ctrl-C stops everything'), 60_000, 200);
    expect(out).toContain(`http://127.0.0.1:${ports.API_PORT}/docs`);
    const key = readFileSync(join(dir, 'secrets', 'api-admin.key'), 'utf8').trim();
    let devices: { id: string; lastSeen: number | null; status: { state: string } }[] = [];
    const started = Date.now();
    await waitFor('live data from every device', async () => {
      const r = await fetch(`http://127.0.0.1:${ports.API_PORT}/api/v1/devices`, { headers: { 'x-api-key': key } });
      devices = ((await r.json()) as { devices: typeof devices }).devices;
      return devices.every((d) => d.lastSeen !== null && d.lastSeen > started - 60_000);
    }, 60_000, 1000);
    expect(devices).toHaveLength(model.devices.size);
    expect(devices.every((d) => d.status.state === 'online')).toBe(true);
    // the field devices came through their gateway (Modbus / DL/T 645), not over MQTT themselves
    const gw = (await (await fetch(out.match(/Gateway gw-weimei-1 +(http:\S+\/stats)/)![1]!)).json()) as Record<string, number>;
    expect(gw.gateway_readings_acked_total).toBeGreaterThan(0);
  } finally {
    const gone = new Promise((r) => up.once('exit', r));
    up.kill('SIGINT');
    await gone;
  }
  for (const s of ['simulators', ...model.gateways.keys(), 'field-sim', 'api', 'ingest', 'broker', 'influxd']) expect(out).toContain(`${s} stopped`);
  expect(up.exitCode).toBe(0);
}, 150_000);
