/**
 * End-to-end benchmark of the pipeline on this machine (npm run bench):
 *   raw InfluxDB batched-write rate | devices -> broker -> ingest -> InfluxDB, messages/s with
 *   zero loss | publish -> queryable latency p50/p99, idle and under load.
 * Broker and ingest run as their real entry files in child processes, the load generator in a
 * third; InfluxDB is Debian's influxd on a free port with a temporary folder. All on loopback.
 *   node --import tsx test/bench/pipeline.ts [--devices 100] [--seconds 20] [--inflight 20] [--profile DIR] [--client raw|mqttjs]
 * It also reports the CPU time each process used while the load ran (from /proc), per second and
 * per message, and how busy the whole machine was (other work on it shows as the difference):
 * on a shared machine the rates swing between runs, the CPU cost per message much less.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { parse, stringify } from 'yaml';
import { deviceTopic } from '../../core/contract.ts';
import { InfluxClient } from '../../core/influx/client.ts';
import { ident, influxql } from '../../core/influx/influxql.ts';
import { encodePoint } from '../../core/influx/line-protocol.ts';
import { loadParkModel } from '../../core/model-file.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { provisionCredentials } from '../../broker/credentials.ts';
import { freePort, startInfluxd } from '../../scripts/influxd.ts';
import { stopChildren } from './children.ts';
import { lineChart } from './svg-chart.ts';

const { values: a } = parseArgs({ options: {
  devices: { type: 'string', default: '100' }, seconds: { type: 'string', default: '60' }, inflight: { type: 'string', default: '20' },
  'raw-points': { type: 'string', default: '200000' }, keep: { type: 'boolean', default: false },
  /** Write V8 CPU profiles of broker, ingest, API and load generator into this folder (open them in Chrome DevTools). */
  profile: { type: 'string' },
  /** Load generator: raw MQTT sockets (cheap, default) or one mqtt.js client per device (the former generator). */
  client: { type: 'string', default: 'raw' },
} });
const N = Number(a.devices), SECONDS = Number(a.seconds), INFLIGHT = Number(a.inflight);
const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sp-bench-'));
const say = (s: string) => process.stderr.write(`${s}\n`);
/** CPU time [user, system] a process has used so far, seconds; NaN when unknown. */
const cpuSeconds = (pid: number | undefined): [number, number] => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [Number(f[11]) / 100, Number(f[12]) / 100]; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return [NaN, NaN];
  }
};
/** The machine's CPU time so far, seconds: [busy (all but idle and iowait), steal]. */
const machineSeconds = (): [number, number] => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return [(user + nice + system + irq + softirq + steal) / 100, steal / 100];
};
const pct = (xs: number[], q: number) => { const s = [...xs].sort((x, y) => x - y); return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN; };

// A park model with N roller kilns (8 metrics each) plus one latency probe.
const real = parse(readFileSync(join(ROOT, 'config/park.yaml'), 'utf8'));
const ids = Array.from({ length: N }, (_, i) => `kiln-${i}`);
writeFileSync(join(dir, 'park.yaml'), stringify({
  zone: { id: 'bench', name: 'Bench' }, kinds: { roller_kiln: real.kinds.roller_kiln },
  parks: [{ id: 'bench', name: 'Bench', enterprises: [{ id: 'e', name: 'E', sector: 'bench', workshops: [{ id: 'w', name: 'W', devices: [...ids, 'probe'].map((id) => ({ id, kind: 'roller_kiln' })) }] }] }],
}));
process.env.PARK_MODEL = join(dir, 'park.yaml');
process.env.SPARKPLUG_CONFIG = 'none'; // the bench's park has no Sparkplug edge nodes
const model = loadParkModel();

say(`== starting influxd in ${dir}`);
const influxd = await startInfluxd({ dataDir: join(dir, 'influxdb') });
const children: ChildProcess[] = [];
const cleanup = async () => {
  await stopChildren(children);
  await influxd.stop();
  if (!a.keep) rmSync(dir, { recursive: true, force: true });
};

try {
  // 1. Raw batched writes, 5,000 lines of 8 metrics + seq per request (the line shape ingest
  // writes), one request at a time; measured now and again after the load (fresh databases),
  // the ratio uses their mean.
  const RAW = Number(a['raw-points']);
  const base0 = Date.now() - 3_600_000;
  // the bodies are built before the clock starts: the figure is InfluxDB's, not our encoder's
  const bodies: string[] = [];
  for (let off = 0; off < RAW; off += 5000) {
    let body = '';
    for (let i = off; i < Math.min(RAW, off + 5000); i++) {
      const v = i % 1000;
      body += `${encodePoint('roller_kiln', { park: 'bench', enterprise: 'e', workshop: 'w', device: `kiln-${i % N}` }, {
        t_preheat: { type: 'float', value: 850 + v / 10 }, t_firing: { type: 'float', value: 1180 + v / 100 }, t_cooling: { type: 'float', value: 600 + v / 10 },
        sp_firing: { type: 'float', value: 1190 }, gas_flow: { type: 'float', value: 600 + v / 7 }, fan_power: { type: 'float', value: 400 + v / 50 },
        output_rate: { type: 'float', value: 480 + v / 20 }, run_state: { type: 'string', value: 'running' }, seq: { type: 'integer', value: i },
      }, base0 + Math.floor(i / N))}\n`;
    }
    bodies.push(body);
  }
  const rawWrite = async (dbName: string): Promise<number> => {
    const raw = new InfluxClient({ url: influxd.url, db: dbName });
    await raw.ensureDatabase();
    const t0r = performance.now();
    for (const body of bodies) {
      const r = await raw.write(body);
      if (r.kind !== 'ok') throw new Error(`raw write failed: ${JSON.stringify(r)}`);
    }
    const rate = RAW / ((performance.now() - t0r) / 1000);
    say(`raw InfluxDB batched write: ${RAW} points in ${((performance.now() - t0r) / 1000).toFixed(1)} s = ${rate.toFixed(0)} points/s`);
    return rate;
  };
  const rawBefore = await rawWrite('rawbench');

  // 2. The platform: broker and ingest as child processes.
  const secrets = provisionCredentials({
    storeFile: join(dir, 'creds.json'), deviceIds: [...model.devices.keys()], serviceAccounts: ['svc-ingest', 'svc-api'],
    generate: generateSecret, hash: (s) => hashSecret(s),
  });
  const [mqttPort, brokerHttp, ingestHttp, apiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const apiKey = generateSecret();
  writeFileSync(join(dir, 'api-keys.json'), JSON.stringify({ keys: [{ id: 'bench', role: 'admin', hash: hashSecret(apiKey) }] }));
  const env = { ...process.env, LOG_LEVEL: 'warn', PARK_MODEL: join(dir, 'park.yaml'), MQTT_CREDENTIALS_FILE: join(dir, 'creds.json'),
    MQTT_PORT: String(mqttPort), MQTT_WS_PORT: '-1', BROKER_HTTP_PORT: String(brokerHttp), INGEST_HTTP_PORT: String(ingestHttp),
    MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`, INGEST_MQTT_PASSWORD: secrets['svc-ingest'], INFLUX_URL: influxd.url, INFLUX_DB: 'bench',
    INGEST_SPOOL_DIR: join(dir, 'spool'), INGEST_ALARMS_FILE: 'none', API_PORT: String(apiPort), API_METRICS_PORT: '0', API_MQTT_PASSWORD: secrets['svc-api'], API_KEYS_FILE: join(dir, 'api-keys.json') };
  const run = (name: string, file: string) => {
    const log = openSync(join(dir, `${name}.log`), 'a');
    const prof = a.profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(a.profile)}`] : [];
    const c = spawn(process.execPath, [...prof, '--import', 'tsx', file], { cwd: ROOT, env, stdio: ['ignore', log, log] });
    children.push(c);
    return c;
  };
  const up = async (url: string) => { for (let i = 0; i < 300; i++) { try { if ((await fetch(url)).ok) return; } catch { /* */ } await new Promise((r) => setTimeout(r, 100)); } throw new Error(`${url} not up`); };
  const broker = run('broker', 'broker/main.ts');
  await up(`http://127.0.0.1:${brokerHttp}/health`);
  const ingest = run('ingest', 'ingest/main.ts');
  await up(`http://127.0.0.1:${ingestHttp}/health`);
  const api = run('api', 'api/main.ts');
  await up(`http://127.0.0.1:${apiPort}/health`);
  const db = new InfluxClient({ url: influxd.url, db: 'bench' });

  // A day of 5-second readings of one kiln, for the API latency of a day of 1-minute aggregates.
  const dayEnd = Math.floor(Date.now() / 60_000) * 60_000;
  for (let t = dayEnd - 86_400_000; t < dayEnd; t += 5000 * 5000) {
    let body = '';
    for (let u = t; u < Math.min(dayEnd, t + 5000 * 5000); u += 5000) body += `${encodePoint('roller_kiln', { park: 'bench', enterprise: 'e', workshop: 'w', device: 'probe' }, { t_firing: { type: 'float', value: 1190 + (u % 7) } }, u)}\n`;
    const r = await db.write(body);
    if (r.kind !== 'ok') throw new Error(`day fixture write failed: ${JSON.stringify(r)}`);
  }
  const apiLatency: number[] = [];
  const apiOnce = async () => {
    const t = performance.now();
    const r = await fetch(`http://127.0.0.1:${apiPort}/api/v1/devices/probe/telemetry?metric=t_firing&from=${dayEnd - 86_400_000}&to=${dayEnd - 1}&agg=mean&window=1m`, { headers: { 'x-api-key': apiKey } });
    const body = (await r.json()) as { points?: unknown[] };
    if (r.status !== 200 || body.points?.length !== 1440) throw new Error(`API answered ${r.status} with ${body.points?.length} points`);
    apiLatency.push(performance.now() - t);
  };
  await apiOnce();

  // 3. Latency probe: publish one reading, poll until InfluxDB returns it.
  const probeDev = model.devices.get('probe')!;
  const probe = await mqtt.connectAsync(env.MQTT_URL, { clientId: 'probe', username: 'probe', password: secrets.probe, protocolVersion: 4 });
  let probeSeq = 0;
  const latencies: { idle: number[]; load: number[] } = { idle: [], load: [] };
  const probeOnce = async (bucket: number[]) => {
    const ts = Date.now();
    const t = performance.now();
    await probe.publishAsync(deviceTopic(probeDev, 'telemetry'), JSON.stringify({ ts, seq: probeSeq++, metrics: { t_firing: 1 } }), { qos: 1 });
    for (;;) {
      const r = await db.query(influxql`SELECT ${ident('t_firing')} FROM ${ident('roller_kiln')} WHERE "device" = ${'probe'} AND time = ${new Date(ts)}`);
      if (r[0]?.[0]?.values.length) break;
      await new Promise((res) => setTimeout(res, 5));
    }
    bucket.push(performance.now() - t);
  };
  for (let i = 0; i < 30; i++) await probeOnce(latencies.idle);

  // 4. Load.
  say(`== load: ${N} devices x ${SECONDS} s, ${INFLIGHT} in flight each, 8 metrics per message`);
  const loadProf = a.profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(a.profile)}`] : [];
  const load = spawn(process.execPath, [...loadProf, '--import', 'tsx', 'test/bench/load.ts'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(load);
  const base = Date.now() - 2 * 3_600_000;
  load.send({ url: env.MQTT_URL, seconds: SECONDS, inflight: INFLIGHT, base, client: a.client, devices: ids.map((id) => ({ id, password: secrets[id], topic: deviceTopic(model.devices.get(id)!, 'telemetry') })) });
  let tStart = 0;
  const ackedAt: [number, number][] = [];
  const storedAt: [number, number][] = [];
  const countStored = async () => Number((await db.query(influxql`SELECT count(${ident('seq')}) FROM ${ident('roller_kiln')} WHERE "device" != ${'probe'}`))[0]?.[0]?.values[0]?.[1] ?? 0);
  let final: { acked: Record<string, number>; total: number } | undefined;
  let probing = true;
  const prober = (async () => { while (probing) { await probeOnce(latencies.load); await new Promise((r) => setTimeout(r, 200)); } })();
  const storedSampler = (async () => {
    while (probing) {
      if (tStart) storedAt.push([(performance.now() - tStart) / 1000, await countStored()]);
      for (let i = 0; i < 20 && probing; i++) await new Promise((r) => setTimeout(r, 100)); // 2 s, but ends at once when publishing stops
    }
  })();
  const apiProber = (async () => { while (probing) { await apiOnce(); await new Promise((r) => setTimeout(r, 100)); } })();
  const procs: [string, number | undefined][] = [['broker', broker.pid], ['ingest', ingest.pid], ['influxd', influxd.process.pid], ['api', api.pid], ['load generator', load.pid]];
  let cpuAtStart: [number, number][] = [];
  let machineAtStart: [number, number] = [0, 0];
  await new Promise<void>((resolveDone, rejectDone) => {
    load.once('exit', (code) => rejectDone(new Error(`load generator exited (${code}) before it finished`)));
    load.on('message', (m: { type: string; acked?: number; total?: number }) => {
      if (m.type === 'connected') {
        tStart = performance.now();
        cpuAtStart = procs.map(([, pid]) => cpuSeconds(pid));
        machineAtStart = machineSeconds();
      }
      if (m.type === 'progress') ackedAt.push([(performance.now() - tStart) / 1000, m.acked!]);
      if (m.type === 'progress') say(`  ${((performance.now() - tStart) / 1000).toFixed(1)} s  acked ${m.acked}  (${(m.acked! / ((performance.now() - tStart) / 1000)).toFixed(0)} msg/s)`);
      if (m.type === 'done') { final = m as never; resolveDone(); }
    });
  });
  const tPublished = performance.now();
  const cpuSplit = procs.map(([, pid], i) => { const [u, s] = cpuSeconds(pid); return [u - cpuAtStart[i]![0], s - cpuAtStart[i]![1]] as const; });
  const cpuUsed = cpuSplit.map(([u, s]) => u + s);
  const machine = machineSeconds().map((v, i) => v - machineAtStart[i]!) as [number, number];
  // where the backlog is when publishing stops: not yet received by ingest, or spooled and not yet written
  const atEnd = (await (await fetch(`http://127.0.0.1:${ingestHttp}/stats`)).json()) as Record<string, number>;
  const backlog = { unreceived: Math.max(0, final!.total + probeSeq - (atEnd.ingest_messages_received_total ?? 0)), spooledBytes: atEnd.ingest_spool_pending_bytes ?? 0 };
  probing = false;
  const acked = final!.total;
  // All stored = ingest has had every acknowledged reading (and the probes') confirmed by InfluxDB
  // (204: queryable from then on), polled cheaply every 20 ms; then InfluxDB's own count must
  // agree (if it did not, the time is taken when it does).
  const probesSent = probeSeq;
  let tStored = 0;
  for (;;) {
    const st = (await (await fetch(`http://127.0.0.1:${ingestHttp}/stats`)).json()) as Record<string, number>;
    if ((st.ingest_points_written_total ?? 0) >= acked + probesSent) { tStored = performance.now(); break; }
    if (performance.now() - tPublished > 120_000) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  await Promise.all([prober, apiProber, storedSampler]);
  let stored = 0;
  for (;;) {
    stored = await countStored();
    if (stored >= acked) break;
    tStored = 0;
    if (performance.now() - tPublished > 120_000) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  tStored ||= performance.now();
  storedAt.push([(tStored - tStart) / 1000, stored]);
  const e2e = acked / ((tStored - tStart) / 1000);
  const rawAfter = await rawWrite('rawbench2');
  const rawRate = (rawBefore + rawAfter) / 2;
  const per = await db.query(influxql`SELECT count(${ident('seq')}) FROM ${ident('roller_kiln')} WHERE "device" != ${'probe'} GROUP BY "device"`);
  const mismatched = (per[0] ?? []).filter((s) => Number(s.values[0]?.[1]) !== final!.acked[s.tags!.device!]).length;
  const stats = (await (await fetch(`http://127.0.0.1:${ingestHttp}/stats`)).json()) as Record<string, unknown>;
  const rows: [string, string][] = [
    ['devices x seconds', `${N} x ${SECONDS} s (${INFLIGHT} in flight per device)`],
    ['messages acked by broker', String(acked)],
    ['points stored (InfluxDB count)', `${stored}  ${stored === acked && mismatched === 0 ? '(all, per device exact)' : `MISMATCH (${mismatched} devices)`}`],
    ['end-to-end rate, publish start -> all stored', `${e2e.toFixed(0)} msg/s = ${(e2e * 8).toFixed(0)} field values/s`],
    ['publish rate (broker acks)', `${(acked / ((tPublished - tStart) / 1000)).toFixed(0)} msg/s`],
    ['drain after publishing stopped', `${((tStored - tPublished) / 1000).toFixed(1)} s (backlog then: ${backlog.unreceived} messages not yet at ingest, ${(backlog.spooledBytes / 1024).toFixed(0)} KiB spooled, not yet written)`],
    ['raw InfluxDB batched write (5,000 lines): mean of before / after', `${rawRate.toFixed(0)} points/s (${rawBefore.toFixed(0)} / ${rawAfter.toFixed(0)})`],
    ['ingest / raw ratio', (e2e / rawRate).toFixed(2)],
    ['publish -> queryable, idle p50 / p99', `${pct(latencies.idle, 0.5).toFixed(0)} / ${pct(latencies.idle, 0.99).toFixed(0)} ms (n=${latencies.idle.length})`],
    ['publish -> queryable, under load p50 / p99', `${pct(latencies.load, 0.5).toFixed(0)} / ${pct(latencies.load, 0.99).toFixed(0)} ms (n=${latencies.load.length})`],
    ['API, a day of 1-min means (1,440 points), under load p50 / p99', `${pct(apiLatency, 0.5).toFixed(0)} / ${pct(apiLatency, 0.99).toFixed(0)} ms (n=${apiLatency.length})`],
    ['ingest write latency p50 / p99', (({ p50, p99 }) => `${p50.toFixed(0)} / ${p99.toFixed(0)} ms`)(stats.writeLatencyMs as { p50: number; p99: number })],
    [`CPU while publishing (${((tPublished - tStart) / 1000).toFixed(1)} s, ${cpus().length} cores), cores used`, procs.map(([name], i) => `${name} ${(cpuUsed[i]! / ((tPublished - tStart) / 1000)).toFixed(2)}`).join(', ')],
    ['  the whole machine meanwhile: busy cores (of which stolen by the hypervisor)', `${(machine[0] / ((tPublished - tStart) / 1000)).toFixed(2)} (${(machine[1] / ((tPublished - tStart) / 1000)).toFixed(2)}); these processes ${(cpuUsed.reduce((x, y) => x + y, 0) / ((tPublished - tStart) / 1000)).toFixed(2)}`],
    ['CPU per message, µs (less noisy than rates on a shared machine)', procs.map(([name], i) => `${name} ${(cpuUsed[i]! / acked * 1e6).toFixed(1)}`).join(', ')],
    ['  of which in the kernel (system time), µs', procs.map(([name], i) => `${name} ${(cpuSplit[i]![1] / acked * 1e6).toFixed(1)}`).join(', ')],
    ['ingest spool appends (write(2)), messages per append', `${stats.ingest_spool_writes_total ?? '-'}, ${(Number(stats.ingest_messages_received_total) / Number(stats.ingest_spool_writes_total)).toFixed(1)}`],
    ['load generator', a.client!],
  ];
  console.log(`\nPipeline benchmark (${new Date().toISOString()}, ${process.version})`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(62)} ${v}`);
  await probe.endAsync();
  // the same run as a picture: messages acknowledged by the broker and stored in InfluxDB over time
  mkdirSync(join(ROOT, 'data', 'bench'), { recursive: true });
  const svg = join(ROOT, 'data', 'bench', `pipeline-${new Date().toISOString().replace(/[:.]/g, '-')}.svg`);
  writeFileSync(svg, lineChart(`Pipeline: ${N} devices, ${e2e.toFixed(0)} msg/s end to end, zero loss`, 'seconds since the first publish', 'messages',
    [{ name: 'acknowledged by the broker', points: [[0, 0], ...ackedAt] }, { name: 'stored in InfluxDB', points: storedAt }]));
  console.log(`  chart: ${svg}`);
} finally {
  await cleanup();
}
