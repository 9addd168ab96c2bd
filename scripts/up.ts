/**
 * Brings the whole platform up on this machine: InfluxDB (Debian's influxd with its data in
 * data/influxdb, unless INFLUX_URL names one), broker, ingest, API and the simulators of the
 * whole park, each a child process logging to data/logs/. Prints where to look and a progress
 * line; Ctrl-C stops everything in reverse order.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadParkModel } from '../core/model-file.ts';
import { generateSecret, hashSecret } from '../core/secrets.ts';
import { provisionCredentials } from '../broker/credentials.ts';
import { edgeNodeAccounts, loadSparkplugConfig, sparkplugDeviceIds } from '../core/sparkplug/config.ts';
import { freePort, influxdCommand } from './influxd.ts';
import { Supervisor } from './supervisor.ts';
import { startClusterProfile, type ClusterProfile } from '../cluster/up-profile.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.DATA_DIR ?? 'data' },
    'no-simulators': { type: 'boolean', default: false },
    'sim-args': { type: 'string', default: '' },
    /** How often the progress line is printed. */
    'progress-ms': { type: 'string', default: '10000' },
    /** `cluster`: 3 NATS, 2 brokers behind HAProxy, 2 ingest workers (docs/cluster.md). */
    profile: { type: 'string', default: 'default' },
  },
});
if (args.profile !== 'default' && args.profile !== 'cluster') {
  console.error(`--profile ${args.profile}: expected default or cluster`);
  process.exit(2);
}
const root = resolve(import.meta.dirname, '..');
const data = resolve(root, args.data!);
const secretsDir = join(data, 'secrets');
const logs = join(data, 'logs');
mkdirSync(logs, { recursive: true });

const model = loadParkModel();
const sparkplug = loadSparkplugConfig(model); // the Sparkplug B host, its edge nodes and the devices they carry
const storeFile = join(secretsDir, 'mqtt-credentials.json');
const plainFile = join(secretsDir, 'credentials.json');
provisionCredentials({
  storeFile, secretsFile: plainFile, deviceIds: [...model.devices.keys(), ...edgeNodeAccounts(sparkplug)], gatewayIds: [...model.gateways.keys()],
  serviceAccounts: ['svc-ingest', 'svc-api', sparkplug.hostAccount],
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

const ports = {
  mqtt: Number(process.env.MQTT_PORT ?? 1883), ws: Number(process.env.MQTT_WS_PORT ?? 8083),
  brokerHttp: Number(process.env.BROKER_HTTP_PORT ?? 9101), ingestHttp: Number(process.env.INGEST_HTTP_PORT ?? 9102),
  sparkplugHttp: Number(process.env.SPARKPLUG_HTTP_PORT ?? 9103),
  api: Number(process.env.API_PORT ?? 8080), apiMetrics: Number(process.env.API_METRICS_PORT ?? 9109), gatewayHttp: Number(process.env.GATEWAY_HTTP_PORT ?? 9104),
};
const gatewayPorts: number[] = [];
mkdirSync(join(data, 'run'), { recursive: true });
writeFileSync(join(data, 'run', 'up.pid'), `${process.pid}\n`);
const supervisor = new Supervisor({ pidDir: join(data, 'run'), onEvent: (line) => console.error(`${time()}  ${line}`) });
const time = () => new Date().toISOString().slice(11, 19);

let stopping = false;
async function stop(code = 0, why = ''): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\nstopping${why ? ` (${why})` : ''}…`);
  await supervisor.stop((name) => console.log(`  ${name} stopped`));
  process.exit(code);
}
process.on('exit', () => supervisor.killAll());
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => void stop(0, sig));
// Started by npm (or a shell, a process manager) that died without telling us: stop too.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) void stop(0, `parent process ${parent} is gone`); }, 500).unref();

let influxUrl = process.env.INFLUX_URL;
const node = (name: string, script: string, healthUrl?: string, extra: string[] = []) => supervisor.start({
  name, command: process.execPath, args: ['--import', 'tsx', script, ...extra], cwd: root, env, logFile: join(logs, `${name}.log`), healthUrl,
});
let env: NodeJS.ProcessEnv = process.env;
let cluster: ClusterProfile | undefined;
try {
  if (!influxUrl) {
    const port = await freePort().then(async (p) => ((await portFree(8086)) ? 8086 : p));
    console.log(`starting influxd (data in ${join(data, 'influxdb')}, log ${join(logs, 'influxd.log')})`);
    const cmd = await influxdCommand({ dataDir: join(data, 'influxdb'), port, logFile: join(logs, 'influxd.log') });
    await supervisor.start({ name: 'influxd', command: cmd.command, args: cmd.args, logFile: cmd.logFile, healthUrl: `${cmd.url}/ping` });
    influxUrl = cmd.url;
  }
  if (!process.env.SPARKPLUG_HTTP_PORT && !(await portFree(ports.sparkplugHttp))) ports.sparkplugHttp = await freePort();
  if (!process.env.API_METRICS_PORT && !(await portFree(ports.apiMetrics))) ports.apiMetrics = await freePort();
  env = {
    ...process.env, INFLUX_URL: influxUrl, INFLUX_DB: process.env.INFLUX_DB ?? 'smartpark', LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    MQTT_URL: `mqtt://127.0.0.1:${ports.mqtt}`, MQTT_PORT: String(ports.mqtt), MQTT_WS_PORT: String(ports.ws),
    BROKER_HTTP_PORT: String(ports.brokerHttp), INGEST_HTTP_PORT: String(ports.ingestHttp), API_PORT: String(ports.api), API_METRICS_PORT: String(ports.apiMetrics),
    MQTT_CREDENTIALS_FILE: storeFile, INGEST_MQTT_PASSWORD: secrets['svc-ingest'], API_MQTT_PASSWORD: secrets['svc-api'],
    API_KEYS_FILE: keysFile, CONSOLE_BROKER_PID_FILE: join(data, 'run', 'broker.pid'), INGEST_SPOOL_DIR: join(data, 'spool', 'ingest'), DEVICE_SECRETS_FILE: plainFile,
  };
  if (args.profile === 'cluster') {
    // HAProxy takes the MQTT port; the API, gateways and simulators connect through it
    cluster = await startClusterProfile({ supervisor, root, data, logs, env, mqttPort: ports.mqtt });
    ports.brokerHttp = cluster.brokerHttp[0]!;
    ports.ingestHttp = cluster.workerHttp[0]!;
  }
  // What needs only the broker starts side by side (registered in this order, so stopped in the
  // reverse one): ingest, the Sparkplug B host application (ingest/sparkplug/, docs/sparkplug.md;
  // not in the cluster profile, whose relay does not carry spBv1.0 topics between brokers,
  // docs/cluster.md) and the API.
  if (!cluster) await node('broker', 'broker/main.ts', `http://127.0.0.1:${ports.brokerHttp}/health`);
  await Promise.all([
    cluster ? undefined : node('ingest', 'ingest/main.ts', `http://127.0.0.1:${ports.ingestHttp}/health`),
    cluster ? undefined : supervisor.start({
      name: 'sparkplug-host', command: process.execPath, args: ['--import', 'tsx', 'ingest/sparkplug/main.ts'], cwd: root, logFile: join(logs, 'sparkplug-host.log'),
      env: { ...env, SPARKPLUG_MQTT_PASSWORD: secrets[sparkplug.hostAccount], SPARKPLUG_SPOOL_DIR: join(data, 'spool', 'sparkplug'), SPARKPLUG_HTTP_PORT: String(ports.sparkplugHttp) },
      healthUrl: `http://127.0.0.1:${ports.sparkplugHttp}/health`,
    }),
    node('api', 'api/main.ts', `http://127.0.0.1:${ports.api}/health`),
  ]);
  // Field devices that speak Modbus or DL/T 645 reach the platform through an edge gateway
  // (gateway/, config/gateway.yaml); their simulators answer on loopback ports, the rest of the
  // park publishes over MQTT itself.
  const gateways = args['no-simulators'] ? [] : [...model.gateways.keys()];
  if (gateways.length > 0) await node('field-sim', 'simulators/field-main.ts', undefined, ['--quiet']);
  for (const [i] of gateways.entries()) gatewayPorts.push((await portFree(ports.gatewayHttp + i)) ? ports.gatewayHttp + i : await freePort());
  await Promise.all(gateways.map((id, i) => supervisor.start({
    name: id, command: process.execPath, args: ['--import', 'tsx', 'gateway/main.ts'], cwd: root, logFile: join(logs, `${id}.log`),
    env: { ...env, GATEWAY_ID: id, GATEWAY_SECRETS_FILE: plainFile, GATEWAY_BUFFER_DIR: join(data, 'spool', id), GATEWAY_HTTP_PORT: String(gatewayPorts[i]) },
    healthUrl: `http://127.0.0.1:${gatewayPorts[i]}/health`,
  })));
  if (!args['no-simulators']) {
    // the devices a Sparkplug edge node carries come from the simulated edge node, not the JSON fleet
    const spDevices = [...sparkplugDeviceIds(sparkplug)];
    if (sparkplug.nodes.size > 0 && !cluster) await node('sparkplug-edge', 'simulators/sparkplug/main.ts', undefined, ['--quiet']);
    await node('simulators', 'simulators/main.ts', undefined, ['--duration', '0', '--quiet', ...(gateways.length ? ['--without-gateway-devices'] : []),
      ...(spDevices.length ? ['--without', spDevices.join(',')] : []), ...args['sim-args']!.split(' ').filter(Boolean)]);
  }
} catch (e) {
  console.error((e as Error).message);
  await stop(1, 'a service did not start');
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((r) => {
    const s = createServer().once('error', () => r(false)).listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

// The console's users sit beside the API keys; the API creates `admin` on its first start (api/console/first-run.ts).
const consoleAdminFile = join(secretsDir, 'console-admin.password');
const consoleLogin = existsSync(consoleAdminFile)
  ? `first-run login: admin / ${readFileSync(consoleAdminFile, 'utf8').trim()}  (change it: node --import tsx api/console/users.ts passwd --name admin; then delete ${consoleAdminFile})`
  : `users in ${join(secretsDir, 'console-users.json')} (node --import tsx api/console/users.ts add --name NAME --role viewer|engineer|admin)`;
console.log(`
Smart-park platform is up (${model.devices.size} devices in ${model.parks.length} parks).
  Operator console     http://127.0.0.1:${ports.api}/
                       ${consoleLogin}
  API + OpenAPI docs   http://127.0.0.1:${ports.api}/docs      (API key: ${adminKeyFile})
  API health           http://127.0.0.1:${ports.api}/health
  MQTT                 mqtt://127.0.0.1:${ports.mqtt}   ws://127.0.0.1:${ports.ws}/mqtt
  Device credentials   ${plainFile}
  Ingest counters      http://127.0.0.1:${ports.ingestHttp}/stats
${cluster ? '' : `  Sparkplug host       http://127.0.0.1:${ports.sparkplugHttp}/stats   (STATE spBv1.0/STATE/${sparkplug.hostId}; ${sparkplug.nodes.size} edge node(s))\n`}  Broker counters      http://127.0.0.1:${ports.brokerHttp}/stats
${[...model.gateways.keys()].slice(0, gatewayPorts.length).map((id, i) => `  Gateway ${id.padEnd(12)} http://127.0.0.1:${gatewayPorts[i]}/stats   (${model.gateways.get(id)!.devices.length} field devices over Modbus / DL/T 645)\n`).join('')}  InfluxDB             ${influxUrl} (db ${env.INFLUX_DB})
${cluster ? `${cluster.lines.join('\n')}\n` : ''}  Logs                 ${logs}/
Ctrl-C stops everything.
`);

let last = { written: 0, t: Date.now() };
setInterval(async () => {
  const line = await progressLine(ports, last).catch(() => undefined);
  if (line) {
    last = line.last;
    process.stdout.write(`${time()}  ${line.text}\n`);
  }
}, Number(args['progress-ms'])).unref();

/** One line from the services' own /stats (the figures are theirs, as fetched), and who was restarted. */
async function progressLine(p: typeof ports, prev: { written: number; t: number }) {
  const get = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(2000) })).json()) as Record<string, number>;
  const [s, b] = await Promise.all([get(p.ingestHttp).catch(() => undefined), get(p.brokerHttp).catch(() => undefined)]);
  const now = Date.now();
  const written = s?.ingest_points_written_total ?? prev.written;
  const rate = ((written - prev.written) / ((now - prev.t) / 1000)).toFixed(0);
  const refused = Object.entries(s ?? {}).filter(([k]) => k.startsWith('ingest_messages_refused_total')).reduce((a, [, v]) => a + v, 0);
  const down = supervisor.status().filter((x) => x.state === 'waiting').map((x) => x.name);
  const restarted = supervisor.status().filter((x) => x.restarts > 0).map((x) => `${x.name} ${x.restarts}`);
  const parts = [
    `clients ${b?.mqtt_clients_connected ?? '?'}`,
    s ? `points written ${written} (${rate}/s)  refused ${refused}  spool ${s.ingest_spool_pending_bytes} B` : 'ingest not answering',
  ];
  if (down.length) parts.push(`DOWN, restarting: ${down.join(', ')}`);
  if (restarted.length) parts.push(`restarts: ${restarted.join(', ')}`);
  return { text: parts.join('  '), last: { written, t: now } };
}
