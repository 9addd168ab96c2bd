/**
 * Gateway benchmark (npm run bench, gateway section): one gateway (gateway/main.ts, child
 * process) polls N simulated Modbus TCP devices (simulators/field, in this process; the roller
 * kiln's register map, 8 points in one read, one connection per device as PLCs have), publishing
 * through a broker and ingest (child processes) into InfluxDB (Debian's influxd). Reports
 *   - points per second polled in steady state, and the gateway's CPU per point (/proc/PID/stat);
 *   - store-and-forward: the broker cut off for --outage-seconds (a TCP relay resets the
 *     gateway's connection and refuses new ones) while polling goes on, then back: the backlog,
 *     how long it took to drain, readings acknowledged per second meanwhile, the gateway's CPU;
 *   - that every reading polled is stored in InfluxDB (zero loss).
 *   node --import tsx test/bench/gateway.ts [--devices 200] [--interval-ms 200] [--seconds 30] [--outage-seconds 60] [--keep] [--profile DIR]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { parseGatewayConfig } from '../../core/fieldbus/config.ts';
import { InfluxClient } from '../../core/influx/client.ts';
import { ident, influxql } from '../../core/influx/influxql.ts';
import { loadParkModel } from '../../core/model-file.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { provisionCredentials } from '../../broker/credentials.ts';
import { freePort, startInfluxd } from '../../scripts/influxd.ts';
import { startFieldSimulators, withListenerPorts } from '../../simulators/field/fleet.ts';
import { stopChildren } from './children.ts';
import { TcpLink } from '../harness/fault-proxy.ts';

const { values: a } = parseArgs({ options: {
  devices: { type: 'string', default: '200' }, 'interval-ms': { type: 'string', default: '200' },
  seconds: { type: 'string', default: '30' }, 'outage-seconds': { type: 'string', default: '60' }, keep: { type: 'boolean', default: false },
  /** Write the gateway's V8 CPU profile into this folder (open it in Chrome DevTools). */
  profile: { type: 'string' },
} });
const N = Number(a.devices), INTERVAL = Number(a['interval-ms']), SECONDS = Number(a.seconds), OUTAGE = Number(a['outage-seconds']);
const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sp-bench-gw-'));
process.once('exit', () => { if (!a.keep) rmSync(dir, { recursive: true, force: true }); }); // also after a failed start
const say = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cpuSeconds = (pid: number | undefined): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
};

// A park with N roller kilns owned by one gateway, and their register maps: one connection each.
const real = parse(readFileSync(join(ROOT, 'config/park.yaml'), 'utf8'));
const ids = Array.from({ length: N }, (_, i) => `kiln-${String(i).padStart(3, '0')}`);
writeFileSync(join(dir, 'park.yaml'), stringify({
  zone: { id: 'bench', name: 'Bench' }, kinds: { roller_kiln: real.kinds.roller_kiln },
  parks: [{ id: 'bench', name: 'Bench', enterprises: [{ id: 'e', name: 'E', sector: 'bench', workshops: [{ id: 'w', name: 'W', devices: ids.map((id) => ({ id, kind: 'roller_kiln', intervalMs: INTERVAL })) }] }] }],
  gateways: [{ id: 'gw-bench', name: 'Bench gateway', devices: ids }],
}));
process.env.PARK_MODEL = join(dir, 'park.yaml');
process.env.SPARKPLUG_CONFIG = 'none'; // the bench's park has no Sparkplug edge nodes
const model = loadParkModel();
const kiln = parse(readFileSync(join(ROOT, 'config/gateway.yaml'), 'utf8')).profiles['roller-kiln-plc'];
const data = {
  profiles: { kiln: { ...kiln, pollGroups: { default: { intervalMs: INTERVAL } }, points: kiln.points.map(({ group: _g, ...p }: Record<string, unknown>) => p) } },
  gateways: { 'gw-bench': { connections: ids.map((id, i) => ({ id: `plc-${i}`, protocol: 'modbus-tcp', host: '127.0.0.1', port: 20000 + i, maxGap: 16, devices: [{ device: id, unitId: 1, profile: 'kiln' }] })) } },
};
const POINTS = data.profiles.kiln.points.length;

const sims = await startFieldSimulators({ config: parseGatewayConfig(data, model), model, ports: 'ephemeral' });
const influxd = await startInfluxd({ dataDir: join(dir, 'influxdb') });
const children: ChildProcess[] = [];
let link: TcpLink | undefined;
const cleanup = async () => {
  await stopChildren(children);
  await link?.close();
  await sims.close();
  await influxd.stop();
  if (!a.keep) rmSync(dir, { recursive: true, force: true });
};

try {
  writeFileSync(join(dir, 'gateway.yaml'), stringify(withListenerPorts(data, sims.ports())));
  const secrets = provisionCredentials({
    storeFile: join(dir, 'creds.json'), deviceIds: ids, gatewayIds: ['gw-bench'], serviceAccounts: ['svc-ingest'],
    generate: generateSecret, hash: (s) => hashSecret(s),
  });
  const [mqttPort, brokerHttp, ingestHttp, gwHttp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  link = new TcpLink(mqttPort);
  const env = { ...process.env, LOG_LEVEL: 'warn', PARK_MODEL: join(dir, 'park.yaml'), MQTT_CREDENTIALS_FILE: join(dir, 'creds.json'),
    MQTT_PORT: String(mqttPort), MQTT_WS_PORT: '-1', BROKER_HTTP_PORT: String(brokerHttp), INGEST_HTTP_PORT: String(ingestHttp),
    MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`, INGEST_MQTT_PASSWORD: secrets['svc-ingest'], INFLUX_URL: influxd.url, INFLUX_DB: 'bench',
    INGEST_SPOOL_DIR: join(dir, 'spool'), INGEST_ALARMS_FILE: 'none',
    GATEWAY_ID: 'gw-bench', GATEWAY_CONFIG: join(dir, 'gateway.yaml'), GATEWAY_MQTT_PASSWORD: secrets['gw-bench'],
    GATEWAY_BUFFER_DIR: join(dir, 'gw-buffer'), GATEWAY_HTTP_PORT: String(gwHttp), GATEWAY_MQTT_RECONNECT_MS: '500' };
  const run = (name: string, file: string, extra: Record<string, string> = {}) => {
    const log = openSync(join(dir, `${name}.log`), 'a');
    const prof = a.profile && name === 'gateway' ? ['--cpu-prof', `--cpu-prof-dir=${resolve(a.profile)}`] : [];
    const c = spawn(process.execPath, [...prof, '--import', 'tsx', file], { cwd: ROOT, env: { ...env, ...extra }, stdio: ['ignore', log, log] });
    children.push(c);
    return c;
  };
  const up = async (url: string) => { for (let i = 0; i < 300; i++) { try { if ((await fetch(url)).ok) return; } catch { /* */ } await sleep(100); } throw new Error(`${url} not up`); };
  run('broker', 'broker/main.ts');
  await up(`http://127.0.0.1:${brokerHttp}/health`);
  run('ingest', 'ingest/main.ts');
  await up(`http://127.0.0.1:${ingestHttp}/health`);
  await link.start();
  const gw = run('gateway', 'gateway/main.ts', { MQTT_URL: `mqtt://127.0.0.1:${link.port}` });
  await up(`http://127.0.0.1:${gwHttp}/health`);
  const stats = async () => (await (await fetch(`http://127.0.0.1:${gwHttp}/stats`)).json()) as Record<string, number>;
  for (let i = 0; ((await stats()).gateway_devices_online ?? 0) < N; i++) {
    if (i > 600) throw new Error('devices did not come online');
    await sleep(100);
  }

  say(`== steady state: ${N} devices every ${INTERVAL} ms for ${SECONDS} s`);
  await sleep(2000);
  const s0 = await stats();
  const c0 = cpuSeconds(gw.pid);
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const s1 = await stats();
  const c1 = cpuSeconds(gw.pid);
  const dt = (performance.now() - t0) / 1000;
  const delta = (name: string) => Object.keys(s1).filter((k) => k === name || k.startsWith(`${name}{`)).reduce((n, k) => n + s1[k]! - (s0[k] ?? 0), 0);
  const points = delta('gateway_points_read_total');
  const requests = delta('gateway_requests_total');
  const acked = s1.gateway_readings_acked_total! - s0.gateway_readings_acked_total!;
  const skipped = delta('gateway_polls_skipped_total');

  say(`== broker cut off for ${OUTAGE} s`);
  link.cut();
  const tCut = performance.now();
  await sleep(OUTAGE * 1000);
  const sBack = await stats();
  const backlog = sBack.gateway_buffer_pending_readings!;
  const cBack = cpuSeconds(gw.pid);
  link.restore();
  const tBack = performance.now();
  let sDrained = sBack;
  for (;;) {
    await sleep(50);
    sDrained = await stats();
    if (sDrained.gateway_mqtt_connected === 1 && sDrained.gateway_buffer_pending_readings! < N && sDrained.gateway_publishes_inflight! <= 1) break;
    if (performance.now() - tBack > 600_000) throw new Error('the backlog did not drain in 10 minutes');
  }
  const drainS = (performance.now() - tBack) / 1000;
  const drainCpu = cpuSeconds(gw.pid) - cBack;
  const drained = sDrained.gateway_readings_acked_total! - sBack.gateway_readings_acked_total!;

  say('== checking that every reading is stored');
  for (const id of ids) sims.device(id).fault = 'silent';
  for (let i = 0; ; i++) {
    const s = await stats();
    if (s.gateway_devices_offline === N && s.gateway_buffer_pending_readings === 0 && s.gateway_publishes_inflight === 0) break;
    if (i > 600) throw new Error('gateway did not settle');
    await sleep(100);
  }
  const polled = (await stats()).gateway_readings_buffered_total!;
  const db = new InfluxClient({ url: influxd.url, db: 'bench' });
  let stored = 0;
  for (let i = 0; i < 600; i++) {
    const res = await db.query(influxql`SELECT count(${ident('t_firing')}) FROM ${ident('roller_kiln')}`);
    stored = Number(res[0]?.[0]?.values[0]?.[1] ?? 0);
    if (stored >= polled) break;
    await sleep(200);
  }
  const end = await stats();
  const rows: [string, string][] = [
    ['devices x points, interval', `${N} x ${POINTS} points (2 reads: holding and input registers), every ${INTERVAL} ms, one Modbus TCP connection per device`],
    ['points polled per second (steady state)', `${(points / dt).toFixed(0)} (${(requests / dt).toFixed(0)} requests/s, ${(acked / dt).toFixed(0)} readings/s acknowledged, ${skipped} ticks skipped)`],
    ['gateway CPU per point, µs (steady state)', `${(((c1 - c0) / points) * 1e6).toFixed(1)} (${((c1 - c0) / dt).toFixed(2)} of a core, ${cpus().length} cores)`],
    [`backlog after a ${OUTAGE} s broker outage (polling went on)`, `${backlog} readings, ${(sBack.gateway_buffer_pending_bytes! / 1024 / 1024).toFixed(1)} MiB on disk`],
    ['store-and-forward drain', `${drainS.toFixed(1)} s; ${(drained / drainS).toFixed(0)} readings/s acknowledged meanwhile (backlog plus new polls)`],
    ['gateway CPU while draining, µs per reading', ((drainCpu / drained) * 1e6).toFixed(1)],
    ['readings polled / stored in InfluxDB', `${polled} / ${stored} ${stored === polled ? '(all)' : 'MISMATCH'}; dropped ${end.gateway_readings_dropped_total}, expired ${end.gateway_readings_expired_total}`],
    ['outage seen by the gateway', `${((tBack - tCut) / 1000).toFixed(1)} s`],
  ];
  console.log(`\nGateway benchmark (${new Date().toISOString()}, ${process.version})`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(52)} ${v}`);
  if (stored !== polled) process.exitCode = 1;
} finally {
  await cleanup();
}
