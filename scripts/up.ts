/**
 * Brings the whole platform up on this machine: InfluxDB (Debian's influxd with its data in
 * data/influxdb, unless INFLUX_URL names one), broker, ingest, API and the simulators of the
 * whole park, each a child process logging to data/logs/. Prints where to look and a progress
 * line; Ctrl-C stops everything in reverse order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadParkModel } from '../core/model-file.ts';
import { generateSecret, hashSecret } from '../core/secrets.ts';
import { provisionCredentials } from '../broker/credentials.ts';
import { freePort, startInfluxd, type RunningInfluxd } from './influxd.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.DATA_DIR ?? 'data' },
    'no-simulators': { type: 'boolean', default: false },
    'sim-args': { type: 'string', default: '' },
  },
});
const root = resolve(import.meta.dirname, '..');
const data = resolve(root, args.data!);
const secretsDir = join(data, 'secrets');
const logs = join(data, 'logs');
mkdirSync(logs, { recursive: true });

const model = loadParkModel();
const storeFile = join(secretsDir, 'mqtt-credentials.json');
const plainFile = join(secretsDir, 'credentials.json');
provisionCredentials({
  storeFile, secretsFile: plainFile, deviceIds: [...model.devices.keys()], serviceAccounts: ['svc-ingest', 'svc-api'],
  generate: generateSecret, hash: (s) => hashSecret(s),
});
const secrets = JSON.parse(readFileSync(plainFile, 'utf8')) as Record<string, string>;

// An admin API key for the operator, created once.
const keysFile = join(secretsDir, 'api-keys.json');
const adminKeyFile = join(secretsDir, 'api-admin.key');
if (!existsSync(keysFile)) {
  const key = generateSecret();
  writeFileSync(keysFile, `${JSON.stringify({ keys: [{ id: 'admin', role: 'admin', hash: hashSecret(key) }] }, null, 2)}\n`, { mode: 0o600 });
  writeFileSync(adminKeyFile, `${key}\n`, { mode: 0o600 });
}

let influxd: RunningInfluxd | undefined;
let influxUrl = process.env.INFLUX_URL;
if (!influxUrl) {
  const port = await freePort().then(async (p) => ((await portFree(8086)) ? 8086 : p));
  console.log(`starting influxd (data in ${join(data, 'influxdb')})`);
  influxd = await startInfluxd({ dataDir: join(data, 'influxdb'), port, detached: true });
  influxUrl = influxd.url;
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((r) => {
    const s = createServer().once('error', () => r(false)).listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

const ports = {
  mqtt: Number(process.env.MQTT_PORT ?? 1883), ws: Number(process.env.MQTT_WS_PORT ?? 8083),
  brokerHttp: Number(process.env.BROKER_HTTP_PORT ?? 9101), ingestHttp: Number(process.env.INGEST_HTTP_PORT ?? 9102),
  api: Number(process.env.API_PORT ?? 8080),
};
const env = {
  ...process.env, INFLUX_URL: influxUrl, INFLUX_DB: process.env.INFLUX_DB ?? 'smartpark', LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  MQTT_URL: `mqtt://127.0.0.1:${ports.mqtt}`, MQTT_PORT: String(ports.mqtt), MQTT_WS_PORT: String(ports.ws),
  BROKER_HTTP_PORT: String(ports.brokerHttp), INGEST_HTTP_PORT: String(ports.ingestHttp), API_PORT: String(ports.api),
  MQTT_CREDENTIALS_FILE: storeFile, INGEST_MQTT_PASSWORD: secrets['svc-ingest'], API_MQTT_PASSWORD: secrets['svc-api'],
  API_KEYS_FILE: keysFile, INGEST_SPOOL_DIR: join(data, 'spool', 'ingest'), DEVICE_SECRETS_FILE: plainFile,
};

const children: { name: string; proc: ChildProcess }[] = [];
function start(name: string, script: string, extra: string[] = []): ChildProcess {
  const log = openSync(join(logs, `${name}.log`), 'a');
  // Own process group: Ctrl-C reaches only this script, which then stops the services in order.
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...extra], { cwd: root, env, stdio: ['ignore', log, log], detached: true });
  proc.once('exit', (code, sig) => {
    if (!stopping) {
      console.error(`${name} exited (${code ?? sig}); see ${join(logs, `${name}.log`)}. Stopping.`);
      void stop(1);
    }
  });
  children.push({ name, proc });
  return proc;
}

async function waitHttp(url: string, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not come up at ${url}; see ${logs}`);
}

let stopping = false;
async function stop(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping…');
  for (const { name, proc } of [...children].reverse()) {
    if (proc.exitCode !== null || proc.signalCode !== null) continue;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
    console.log(`  ${name} stopped`);
  }
  await influxd?.stop();
  if (influxd) console.log('  influxd stopped');
  process.exit(code);
}
process.on('exit', () => {
  for (const { proc } of children) if (proc.exitCode === null) proc.kill('SIGKILL');
  influxd?.process.kill('SIGKILL');
});
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

try {
  start('broker', 'broker/main.ts');
  await waitHttp(`http://127.0.0.1:${ports.brokerHttp}/health`, 'broker');
  start('ingest', 'ingest/main.ts');
  await waitHttp(`http://127.0.0.1:${ports.ingestHttp}/health`, 'ingest');
  start('api', 'api/main.ts');
  await waitHttp(`http://127.0.0.1:${ports.api}/health`, 'api');
  if (!args['no-simulators']) start('simulators', 'simulators/main.ts', ['--duration', '0', '--quiet', ...args['sim-args']!.split(' ').filter(Boolean)]);
} catch (e) {
  console.error((e as Error).message);
  await stop(1);
}

console.log(`
Smart-park platform is up (${model.devices.size} devices in ${model.parks.length} parks).
  API + OpenAPI docs   http://127.0.0.1:${ports.api}/docs      (API key: ${adminKeyFile})
  API health           http://127.0.0.1:${ports.api}/health
  MQTT                 mqtt://127.0.0.1:${ports.mqtt}   ws://127.0.0.1:${ports.ws}/mqtt
  Device credentials   ${plainFile}
  Ingest counters      http://127.0.0.1:${ports.ingestHttp}/stats
  Broker counters      http://127.0.0.1:${ports.brokerHttp}/stats
  InfluxDB             ${influxUrl} (db ${env.INFLUX_DB})
  Logs                 ${logs}/
Ctrl-C stops everything.
`);

let last = { written: 0, t: Date.now() };
setInterval(async () => {
  try {
    const s = (await (await fetch(`http://127.0.0.1:${ports.ingestHttp}/stats`)).json()) as Record<string, number>;
    const b = (await (await fetch(`http://127.0.0.1:${ports.brokerHttp}/stats`)).json()) as Record<string, number>;
    const written = s.ingest_points_written_total ?? 0;
    const now = Date.now();
    const rate = ((written - last.written) / ((now - last.t) / 1000)).toFixed(0);
    last = { written, t: now };
    const refused = Object.entries(s).filter(([k]) => k.startsWith('ingest_messages_refused_total')).reduce((a, [, v]) => a + v, 0);
    process.stdout.write(`${new Date().toISOString().slice(11, 19)}  clients ${b.mqtt_clients_connected ?? 0}  points written ${written} (${rate}/s)  refused ${refused}  spool ${s.ingest_spool_pending_bytes ?? 0} B\n`);
  } catch { /* a service is restarting */ }
}, 10_000).unref();
