/**
 * How many devices one broker holds: N device connections (default 10,000), each with its own
 * credentials, connected in waves through the real broker entry file; prints the broker's
 * resident memory before and after, memory per connection, connect rate, and proves every
 * connection alive by one QoS 1 publish each.
 *   node --import tsx test/bench/connections.ts [--devices 10000] [--wave 500]
 * The clients run in a child process of this script (same file, --clients), so the broker's
 * memory is its own.
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { provisionCredentials } from '../../broker/credentials.ts';
import { freePort } from '../../scripts/influxd.ts';

const { values: a } = parseArgs({ options: {
  devices: { type: 'string', default: '10000' }, wave: { type: 'string', default: '500' }, clients: { type: 'boolean', default: false },
} });

interface Job { url: string; wave: number; devices: { id: string; password: string; topic: string }[] }

if (a.clients) {
  // Child: open the connections in waves, report, publish once each, then wait to be killed.
  const job = await new Promise<Job>((r) => process.once('message', (m) => r(m as Job)));
  const clients: MqttClient[] = [];
  const t0 = performance.now();
  for (let i = 0; i < job.devices.length; i += job.wave) {
    const wave = job.devices.slice(i, i + job.wave);
    clients.push(...await Promise.all(wave.map((d) => mqtt.connectAsync(job.url, {
      clientId: d.id, username: d.id, password: d.password, reconnectPeriod: 0, keepalive: 300, protocolVersion: 4,
    }))));
    process.send!({ type: 'progress', connected: clients.length });
  }
  const connectSeconds = (performance.now() - t0) / 1000;
  process.send!({ type: 'connected', connected: clients.length, connectSeconds });
  await new Promise((r) => process.once('message', r));
  let acked = 0;
  for (let i = 0; i < clients.length; i += job.wave) {
    await Promise.all(clients.slice(i, i + job.wave).map((c, k) => c.publishAsync(job.devices[i + k]!.topic, JSON.stringify({ ts: Date.now(), metrics: { power: 1 } }), { qos: 1 }).then(() => { acked++; })));
  }
  process.send!({ type: 'published', acked });
  await new Promise(() => {});
}

const N = Number(a.devices);
const dir = mkdtempSync(join(tmpdir(), 'sp-conn-'));
const ROOT = resolve(import.meta.dirname, '../..');
const say = (s: string) => process.stderr.write(`${s}\n`);
const ids = Array.from({ length: N }, (_, i) => `meter-${i}`);
writeFileSync(join(dir, 'park.yaml'), stringify({
  zone: { id: 'bench', name: 'Bench' },
  kinds: { electricity_meter: { description: 'Meter', metrics: { power: { type: 'number', unit: 'kW' } } } },
  parks: [{ id: 'bench', name: 'Bench', enterprises: [{ id: 'e', name: 'E', sector: 'bench', workshops: [{ id: 'w', name: 'W', devices: ids.map((id) => ({ id, kind: 'electricity_meter' })) }] }] }],
}));
say(`== provisioning ${N} device credentials`);
const secrets = provisionCredentials({ storeFile: join(dir, 'creds.json'), deviceIds: ids, serviceAccounts: [], generate: generateSecret, hash: (s) => hashSecret(s) });
const [mqttPort, httpPort] = [await freePort(), await freePort()];
const broker = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], {
  cwd: ROOT, stdio: ['ignore', openSync(join(dir, 'broker.log'), 'a'), openSync(join(dir, 'broker.log'), 'a')],
  env: { ...process.env, LOG_LEVEL: 'warn', PARK_MODEL: join(dir, 'park.yaml'), SPARKPLUG_CONFIG: 'none', MQTT_CREDENTIALS_FILE: join(dir, 'creds.json'), MQTT_PORT: String(mqttPort), MQTT_WS_PORT: '-1', BROKER_HTTP_PORT: String(httpPort) },
});
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${broker.pid}/status`, 'utf8'))![1]) * 1024;
const clientsProc = fork(new URL(import.meta.url), ['--clients'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
try {
  for (let i = 0; ; i++) {
    try { if ((await fetch(`http://127.0.0.1:${httpPort}/health`)).ok) break; } catch { /* not yet */ }
    if (i > 300) throw new Error('broker did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 500));
  const before = rss();
  const msg = (type: string) => new Promise<Record<string, number>>((r) => {
    const on = (m: { type: string }) => {
      if (m.type === 'progress') say(`  connected ${(m as unknown as { connected: number }).connected} / ${N}  broker RSS ${(rss() / 2 ** 20).toFixed(0)} MiB`);
      if (m.type === type) { clientsProc.off('message', on); r(m as unknown as Record<string, number>); }
    };
    clientsProc.on('message', on);
  });
  clientsProc.send({ url: `mqtt://127.0.0.1:${mqttPort}`, wave: Number(a.wave), devices: ids.map((id) => ({ id, password: secrets[id], topic: `sp/v1/bench/e/w/${id}/telemetry` })) });
  const c = await msg('connected');
  await new Promise((r) => setTimeout(r, 1000));
  const after = rss();
  clientsProc.send({ go: true });
  const p = await msg('published');
  const stats = (await (await fetch(`http://127.0.0.1:${httpPort}/stats`)).json()) as Record<string, number>;
  console.log(`\nConnections benchmark (${new Date().toISOString()}, ${process.version})`);
  const rows: [string, string][] = [
    ['device connections held', `${c.connected} (broker reports ${stats.mqtt_clients_connected})`],
    ['connect time, waves of ' + a.wave, `${c.connectSeconds!.toFixed(1)} s = ${(c.connected! / c.connectSeconds!).toFixed(0)} connections/s`],
    ['broker RSS before / after', `${(before / 2 ** 20).toFixed(0)} MiB / ${(after / 2 ** 20).toFixed(0)} MiB`],
    ['memory per connection', `${((after - before) / c.connected! / 1024).toFixed(1)} KiB`],
    ['one QoS 1 publish per connection, acked', String(p.acked)],
  ];
  for (const [k, v] of rows) console.log(`  ${k.padEnd(40)} ${v}`);
} finally {
  clientsProc.kill('SIGKILL');
  broker.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
