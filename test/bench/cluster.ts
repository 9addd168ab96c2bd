/**
 * Benchmark of the cluster profile on this machine, the same load as test/bench/pipeline.ts (N roller
 * kilns, 8 metrics a message, QoS 1, a window in flight per device, test/bench/load.ts): 3
 * nats-servers (R3), 2 brokers behind HAProxy (leastconn), 2 ingest workers, influxd — all real
 * processes on loopback. Reports acked msg/s, end-to-end msg/s (all stored), publish → queryable
 * latency of a probe under load, and CPU per message of each tier (from /proc).
 *   node --import tsx test/bench/cluster.ts [--devices 100] [--seconds 20] [--inflight 20] [--profile DIR]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { parse, stringify } from 'yaml';
import { provisionCredentials } from '../../broker/credentials.ts';
import { startNatsCluster } from '../../cluster/nats-cluster.ts';
import { deviceTopic } from '../../core/contract.ts';
import { InfluxClient } from '../../core/influx/client.ts';
import { ident, influxql } from '../../core/influx/influxql.ts';
import { loadParkModel } from '../../core/model-file.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { freePort, startInfluxd } from '../../scripts/influxd.ts';
import { stopChildren } from './children.ts';

const { values: a } = parseArgs({ options: {
  devices: { type: 'string', default: '100' }, seconds: { type: 'string', default: '20' }, inflight: { type: 'string', default: '20' },
  keep: { type: 'boolean', default: false },
  /** Write V8 CPU profiles of the brokers and workers into this folder. */
  profile: { type: 'string' },
} });
const N = Number(a.devices), SECONDS = Number(a.seconds), INFLIGHT = Number(a.inflight);
const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sp-bench-cluster-'));
const say = (s: string) => process.stderr.write(`${s}\n`);
const cpuSeconds = (pid: number | undefined): number => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
};

const real = parse(readFileSync(join(ROOT, 'config/park.yaml'), 'utf8'));
const ids = Array.from({ length: N }, (_, i) => `kiln-${i}`);
writeFileSync(join(dir, 'park.yaml'), stringify({
  zone: { id: 'bench', name: 'Bench' }, kinds: { roller_kiln: real.kinds.roller_kiln },
  parks: [{ id: 'bench', name: 'Bench', enterprises: [{ id: 'e', name: 'E', sector: 'bench', workshops: [{ id: 'w', name: 'W', devices: [...ids, 'probe'].map((id) => ({ id, kind: 'roller_kiln' })) }] }] }],
}));
process.env.PARK_MODEL = join(dir, 'park.yaml');
const model = loadParkModel();
const children: ChildProcess[] = [];
const influxd = await startInfluxd({ dataDir: join(dir, 'influxdb') });
const nats = await startNatsCluster({ dataDir: join(dir, 'nats') });
try {
  const secrets = provisionCredentials({
    storeFile: join(dir, 'creds.json'), deviceIds: [...model.devices.keys()], serviceAccounts: ['svc-ingest', 'svc-api'],
    generate: generateSecret, hash: (s) => hashSecret(s),
  });
  const lbPort = await freePort();
  const base = { ...process.env, LOG_LEVEL: 'warn', PARK_MODEL: join(dir, 'park.yaml'), MQTT_CREDENTIALS_FILE: join(dir, 'creds.json'), MQTT_JETSTREAM_URL: nats.urls,
    SPARKPLUG_CONFIG: 'none' }; // the bench model has no Sparkplug edge nodes
  const run = (name: string, file: string, env: Record<string, string>) => {
    const log = openSync(join(dir, `${name}.log`), 'a');
    const prof = a.profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(a.profile)}`] : [];
    const c = spawn(process.execPath, [...prof, '--import', 'tsx', file], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', log, log] });
    children.push(c);
    return c;
  };
  const up = async (url: string) => { for (let i = 0; i < 300; i++) { try { if ((await fetch(url)).ok) return; } catch { /* */ } await new Promise((r) => setTimeout(r, 100)); } throw new Error(`${url} not up`); };
  const brokers: { c: ChildProcess; port: number; http: number }[] = [];
  for (let i = 0; i < 2; i++) {
    const [port, http] = [await freePort(), await freePort()];
    brokers.push({ c: run(`broker-${i}`, 'broker/main.ts', { MQTT_PORT: String(port), MQTT_WS_PORT: '-1', BROKER_HTTP_PORT: String(http) }), port, http });
    await up(`http://127.0.0.1:${http}/health`);
  }
  writeFileSync(join(dir, 'haproxy.cfg'), ['global', '  maxconn 8192', 'defaults', '  mode tcp', '  timeout connect 1s', '  timeout client 120s', '  timeout server 120s',
    'frontend mqtt', `  bind 127.0.0.1:${lbPort}`, '  default_backend brokers', 'backend brokers', '  balance leastconn',
    ...brokers.map((b, i) => `  server b${i} 127.0.0.1:${b.port} check inter 500`), ''].join('\n'));
  const lb = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', openSync(join(dir, 'haproxy.log'), 'a'), 'inherit'] });
  children.push(lb);
  const url = `mqtt://127.0.0.1:${lbPort}`;
  const workers: ChildProcess[] = [];
  for (const w of ['w1', 'w2']) {
    const http = await freePort();
    workers.push(run(`worker-${w}`, 'ingest/main.ts', {
      MQTT_URL: url, INGEST_MQTT_PASSWORD: secrets['svc-ingest']!, INFLUX_URL: influxd.url, INFLUX_DB: 'bench', INGEST_SPOOL_DIR: join(dir, `spool-${w}`),
      INGEST_HTTP_PORT: String(http), INGEST_ALARMS_FILE: 'none', INGEST_WORKER_ID: w,
    }));
    await up(`http://127.0.0.1:${http}/health`);
  }
  const db = new InfluxClient({ url: influxd.url, db: 'bench' });
  await new Promise((r) => setTimeout(r, 2000)); // the workers share the partitions

  const probeDev = model.devices.get('probe')!;
  const probe = await mqtt.connectAsync(url, { clientId: 'probe', username: 'probe', password: secrets.probe, protocolVersion: 4 });
  let probeSeq = 0;
  const lat: number[] = [];
  const probeOnce = async () => {
    const ts = Date.now();
    const t = performance.now();
    await probe.publishAsync(deviceTopic(probeDev, 'telemetry'), JSON.stringify({ ts, seq: probeSeq++, metrics: { t_firing: 1 } }), { qos: 1 });
    for (;;) {
      const r = await db.query(influxql`SELECT ${ident('t_firing')} FROM ${ident('roller_kiln')} WHERE "device" = ${'probe'} AND time = ${new Date(ts)}`).catch(() => []);
      if (r[0]?.[0]?.values.length) break;
      await new Promise((res) => setTimeout(res, 5));
    }
    lat.push(performance.now() - t);
  };
  for (let i = 0; i < 10; i++) await probeOnce();
  const idle = [...lat].sort((x, y) => x - y);
  lat.length = 0;

  say(`== load: ${N} devices x ${SECONDS} s, ${INFLIGHT} in flight each, through HAProxy to 2 brokers`);
  const load = spawn(process.execPath, ['--import', 'tsx', 'test/bench/load.ts'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(load);
  load.send({ url, seconds: SECONDS, inflight: INFLIGHT, base: Date.now() - 2 * 3_600_000, devices: ids.map((id) => ({ id, password: secrets[id], topic: deviceTopic(model.devices.get(id)!, 'telemetry') })) });
  const procs: [string, (number | undefined)[]][] = [
    ['brokers', brokers.map((b) => b.c.pid)], ['nats', nats.nodes.map((n) => n.process?.pid)], ['workers', workers.map((w) => w.pid)],
    ['influxd', [influxd.process.pid]], ['haproxy', [lb.pid]], ['load generator', [load.pid]],
  ];
  const cpuNow = (): number[] => procs.map(([, pids]) => pids.reduce<number>((sum, p) => sum + cpuSeconds(p), 0));
  let tStart = 0;
  let cpu0: number[] = [];
  let probing = true;
  let prober: Promise<void> = Promise.resolve();
  const final = await new Promise<{ total: number }>((res) => {
    load.on('message', (m: { type: string; total?: number }) => {
      if (m.type === 'connected') {
        tStart = performance.now();
        cpu0 = cpuNow();
        prober = (async () => { while (probing) { await probeOnce(); await new Promise((r) => setTimeout(r, 200)); } })();
      }
      if (m.type === 'done') res(m as { total: number });
    });
  });
  const tPublished = performance.now();
  const cpuUsed = cpuNow().map((v, i) => v - cpu0[i]!);
  probing = false;
  await prober;
  const acked = final.total;
  const countStored = async () => Number((await db.query(influxql`SELECT count(${ident('seq')}) FROM ${ident('roller_kiln')} WHERE "device" != ${'probe'}`))[0]?.[0]?.values[0]?.[1] ?? 0);
  let stored = 0;
  for (let i = 0; i < 600 && (stored = await countStored()) < acked; i++) await new Promise((r) => setTimeout(r, 100));
  const tStored = performance.now();
  const secs = (tPublished - tStart) / 1000;
  const q = (s: number[], p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(0) : '-');
  const underLoad = [...lat].sort((x, y) => x - y);
  const retries: Record<string, number> = {};
  for (const b of brokers) {
    const st = (await (await fetch(`http://127.0.0.1:${b.http}/stats`)).json()) as Record<string, number>;
    for (const [k, v] of Object.entries(st)) if (k.startsWith('mqtt_jetstream_retries_total') || k === 'mqtt_jetstream_duplicates_total') retries[k.replace('mqtt_jetstream_', '')] = (retries[k.replace('mqtt_jetstream_', '')] ?? 0) + v;
  }
  const rows: [string, string][] = [
    ['devices x seconds', `${N} x ${SECONDS} s (${INFLIGHT} in flight per device), ${cpus().length} cores`],
    ['messages acked (PUBACK after JetStream R3)', `${acked}`],
    ['points stored (InfluxDB count)', `${stored}${stored === acked ? ' (all)' : ' (NOT all)'}`],
    ['publish rate (acked)', `${(acked / secs).toFixed(0)} msg/s`],
    ['end-to-end rate, publish start -> all stored', `${(stored / ((tStored - tStart) / 1000)).toFixed(0)} msg/s`],
    ['publish -> queryable, idle p50 / p99', `${q(idle, 0.5)} / ${q(idle, 0.99)} ms (n=${idle.length})`],
    ['publish -> queryable, under load p50 / p99', `${q(underLoad, 0.5)} / ${q(underLoad, 0.99)} ms (n=${underLoad.length})`],
    ['CPU while publishing, cores used', procs.map(([name], i) => `${name} ${(cpuUsed[i]! / secs).toFixed(2)}`).join(', ')],
    ['CPU per message, µs', procs.map(([name], i) => `${name} ${(cpuUsed[i]! / acked * 1e6).toFixed(1)}`).join(', ')],
    ['JetStream publishes tried again / de-duplicated', JSON.stringify(retries)],
  ];
  console.log(`\nCluster benchmark (${new Date().toISOString()}, ${process.version})`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(48)} ${v}`);
  await probe.endAsync();
} finally {
  await stopChildren(children);
  await nats.stop();
  await influxd.stop();
  if (!a.keep) rmSync(dir, { recursive: true, force: true });
}
