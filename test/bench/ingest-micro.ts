/**
 * Ingest's own ceiling, known apart from the machine it shares: messages/s through ingest's
 * work for the payloads of the pipeline benchmark (roller kilns, 8 metrics, distinct ts/seq).
 *   node --import tsx test/bench/ingest-micro.ts [--seconds 3] [--devices 100] [--group 200] [--alarms] [--service] [--profile DIR]
 * In-process stages, each run for --seconds:
 *   parse          core/contract.ts parseTelemetry (UTF-8 + JSON + validation)
 *   toRecords      topic + parse + line protocol (ingest/records.ts), the validation+encoding step
 *   + spool/msg    and one spool append (write(2)) per message, as ingest did before grouping
 *   + spool/group  and the appends of --group messages in one write(2) (ingest/ack-batcher.ts)
 *   + alarms       (with --alarms) the alarm rules of config/alarms.yaml evaluated too, grouped
 * The spool lives in a temporary folder and is read back and committed (as the writer would) so
 * the file does not grow without bound.
 * With --service, the whole ingest service (startIngest: mqtt.js, validation, spool, PUBACKs,
 * writer, HTTP /write) runs in this process against a stand-in broker and a stand-in InfluxDB
 * in a child process that cost little (pre-serialised PUBLISH packets, a window of 2,000
 * unacknowledged; /write answers 204 after counting the lines): messages/s and CPU µs/message
 * of ingest alone. --profile DIR writes a CPU profile of that stage.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { loadAlarmRules } from '../../core/alarms/file.ts';
import { DEFAULT_LIMITS, deviceTopic, parseTelemetry } from '../../core/contract.ts';
import { Registry } from '../../core/metrics.ts';
import { parseParkModel } from '../../core/model.ts';
import { IngestAlarms } from '../../ingest/alarms.ts';
import { toRecords } from '../../ingest/records.ts';
import { Spool } from '../../ingest/spool.ts';

const { values: a } = parseArgs({ options: {
  seconds: { type: 'string', default: '3' }, devices: { type: 'string', default: '100' }, group: { type: 'string', default: '200' },
  alarms: { type: 'boolean', default: false }, service: { type: 'boolean', default: false }, profile: { type: 'string' },
  /** --service: PUBLISH packets per socket write of the stand-in broker (Aedes writes each packet on its own) */
  chunk: { type: 'string', default: '1' },
  /** internal: run as the stand-in broker + InfluxDB */
  'stand-in': { type: 'boolean', default: false },
} });
const SECONDS = Number(a.seconds), N = Number(a.devices), GROUP = Number(a.group);
const ROOT = resolve(import.meta.dirname, '../..');

const real = parse(readFileSync(join(ROOT, 'config/park.yaml'), 'utf8'));
const ids = Array.from({ length: N }, (_, i) => `kiln-${i}`);
// the real park (so config/alarms.yaml applies) plus a park of N kilns
const model = parseParkModel({
  ...real, parks: [...real.parks, { id: 'bench', name: 'Bench', enterprises: [{ id: 'e', name: 'E', sector: 'bench', workshops: [{ id: 'w', name: 'W', devices: ids.map((id) => ({ id, kind: 'roller_kiln' })) }] }] }],
});
const devices = ids.map((id) => model.devices.get(id)!);
const topics = devices.map((d) => deviceTopic(d, 'telemetry'));
const base = Date.now() - 3_600_000;

// Payloads as the load generator sends them; made before the clock runs (1,000 per device, cycled
// with a fresh ts/seq patched in would cost as much as the thing measured, so the set repeats:
// the work per message does not depend on the values being new).
const PER = 1000;
const payloads = Array.from({ length: N * PER }, (_, k) => {
  const s = Math.floor(k / N), v = s % 1000;
  return Buffer.from(`{"ts":${base + s},"seq":${s},"metrics":{"t_preheat":${850 + v / 10},"t_firing":${1180 + v / 100},"t_cooling":${600 + v / 10},"sp_firing":1190,"gas_flow":${600 + v / 7},"fan_power":${400 + v / 50},"output_rate":${480 + v / 20},"run_state":"running"}}`);
});

function run(name: string, step: (k: number) => void, after?: () => void): void {
  // warm up, then count whole rounds of 10,000 until the time is up
  for (let k = 0; k < 20_000; k++) step(k % payloads.length);
  after?.();
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  let n = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 10_000; i++, n++) step(n % payloads.length);
    after?.();
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`  ${name.padEnd(28)} ${(n / s).toFixed(0).padStart(9)} msg/s  ${(s / n * 1e6).toFixed(2).padStart(6)} µs/msg`);
}

if (a['stand-in']) await standIn();
else if (a.service) await serviceStage();
else stages();

function stages(): void {
  const dir = mkdtempSync(join(tmpdir(), 'sp-micro-'));
  try {
    const spool = new Spool({ dir, segmentBytes: 64 * 1024 * 1024 });
    const drain = () => { for (let c = spool.read(4 << 20); c; c = spool.read(4 << 20)) spool.commit(c); };
    const dev = (k: number) => k % N;
    const now = () => base + 3_600_000;
    console.log(`ingest micro-benchmark: ${N} kilns, 8 metrics a message, ${SECONDS} s a stage (${process.version})`);
    run('parse', (k) => { if (!parseTelemetry(payloads[k]!, devices[dev(k)]!, now(), DEFAULT_LIMITS).ok) throw new Error('refused'); });
    run('toRecords', (k) => { if (toRecords(model, topics[dev(k)]!, payloads[k]!, now(), DEFAULT_LIMITS).kind !== 'points') throw new Error('refused'); });
    run('toRecords + spool/msg', (k) => {
      const o = toRecords(model, topics[dev(k)]!, payloads[k]!, now(), DEFAULT_LIMITS);
      if (o.kind !== 'points') throw new Error('refused');
      spool.append(o.records);
    }, drain);
    let group = '';
    let inGroup = 0;
    run(`toRecords + spool/group ${GROUP}`, (k) => {
      const o = toRecords(model, topics[dev(k)]!, payloads[k]!, now(), DEFAULT_LIMITS);
      if (o.kind !== 'points') throw new Error('refused');
      group += o.records;
      if (++inGroup === GROUP) { spool.append(group); group = ''; inGroup = 0; }
    }, drain);
    if (a.alarms) {
      const alarms = new IngestAlarms({
        rules: loadAlarmRules(join(ROOT, 'config/alarms.yaml'), model), model, metrics: new Registry(), tickMs: 1000, retryMaxMs: 1000,
        influx: undefined as never, append: () => {},
      });
      run(`+ alarms, group ${GROUP}`, (k) => {
        const o = toRecords(model, topics[dev(k)]!, payloads[k]!, now(), DEFAULT_LIMITS);
        if (o.kind !== 'points') throw new Error('refused');
        group += o.records + alarms.evaluate(o.device!, o.readings!);
        if (++inGroup === GROUP) { spool.append(group); group = ''; inGroup = 0; }
      }, drain);
    }
    spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The real ingest service in this process, fed by the stand-in child. */
async function serviceStage(): Promise<void> {
  const { startIngest } = await import('../../ingest/service.ts');
  const child = fork(import.meta.filename, ['--stand-in', '--devices', String(N), '--chunk', a.chunk!], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<{ mqtt: number; http: number }>((r) => child.once('message', (m) => r(m as never)));
  const dir = mkdtempSync(join(tmpdir(), 'sp-micro-svc-'));
  const cfg = {
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`, mqttUsername: 'svc-ingest', mqttPassword: 'x', clientId: 'svc-ingest', topics: ['sp/v1/#'],
    influx: { url: `http://127.0.0.1:${ports.http}`, db: 'micro' }, spoolDir: dir, segmentBytes: 64 * 1024 * 1024, maxSpoolBytes: 2 * 1024 ** 3,
    spoolWarnRatio: 0.8, batchBytes: 1024 * 1024, flushIntervalMs: 50, retryMinMs: 200, retryMaxMs: 30_000, httpPort: -1, httpHost: '127.0.0.1',
    limits: { ...DEFAULT_LIMITS }, alarmTickMs: 1000, ...(a.alarms ? { alarmsFile: join(ROOT, 'config/alarms.yaml') } : {}),
  };
  const { Session } = a.profile ? await import('node:inspector/promises') : { Session: undefined };
  const session = Session && new Session();
  let stopping = false; // the stand-in floods on while ingest disconnects: its complaints then are expected
  const ingest = await startIngest(cfg, model, { warn: (m, d) => { if (!stopping) console.error(m, d); }, fatal: (m, e) => { console.error(m, e); process.exit(1); } });
  process.once('exit', () => child.kill());
  const received = () => ingest.metrics.get('ingest_messages_received_total');
  await new Promise((r) => setTimeout(r, 1000)); // warm up
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const n0 = received(), c0 = process.cpuUsage(), t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const n = received() - n0, c = process.cpuUsage(c0), s = (performance.now() - t0) / 1000;
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(a.profile!, { recursive: true });
    const f = join(resolve(a.profile!), `ingest-micro-service-${Date.now()}.cpuprofile`);
    writeFileSync(f, JSON.stringify(profile));
    console.log(`  profile: ${f}`);
  }
  const written = ingest.metrics.get('ingest_points_written_total');
  console.log(`ingest service alone (stand-in broker and InfluxDB in a child process), ${N} kilns${a.alarms ? ', alarms on' : ''}, ${a.chunk} PUBLISH per broker write, ${SECONDS} s (${process.version})`);
  console.log(`  ${'messages through ingest'.padEnd(28)} ${(n / s).toFixed(0).padStart(9)} msg/s  ${((c.user + c.system) / n).toFixed(2).padStart(6)} µs CPU/msg (user ${(c.user / n).toFixed(2)}, system ${(c.system / n).toFixed(2)}), ${((c.user + c.system) / 1e6 / s).toFixed(2)} cores`);
  console.log(`  ${'spool appends'.padEnd(28)} ${ingest.metrics.get('ingest_spool_writes_total')} (${(received() / ingest.metrics.get('ingest_spool_writes_total')).toFixed(1)} messages each), points written ${written}`);
  stopping = true;
  await ingest.stop().catch(() => {});
  child.kill();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

/** Stand-in broker (CONNACK, SUBACK, then PUBLISH QoS 1 as fast as acknowledged) and InfluxDB (/write: 204). */
async function standIn(): Promise<void> {
  const WINDOW = 2000, CHUNK = Number(a.chunk);
  const tcp = createTcpServer((sock: Socket) => {
    sock.setNoDelay(true);
    let mid = 0, seq = 0, outstanding = 0, subscribed = false, rest: Buffer | undefined;
    const publish = () => {
      const parts: Buffer[] = [];
      while (outstanding < WINDOW) {
        const d = seq % N, s = Math.floor(seq / N);
        seq++;
        mid = mid >= 65535 ? 1 : mid + 1;
        const v = s % 1000;
        const payload = Buffer.from(`{"ts":${base + s},"seq":${s},"metrics":{"t_preheat":${850 + v / 10},"t_firing":${1180 + v / 100},"t_cooling":${600 + v / 10},"sp_firing":1190,"gas_flow":${600 + v / 7},"fan_power":${400 + v / 50},"output_rate":${480 + v / 20},"run_state":"running"}}`);
        const topic = Buffer.from(topics[d]!);
        const len = 2 + topic.length + 2 + payload.length;
        const head = len < 128 ? Buffer.from([0x32, len]) : Buffer.from([0x32, (len & 0x7f) | 0x80, len >> 7]);
        parts.push(Buffer.concat([head, Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.from([mid >> 8, mid & 0xff]), payload]));
        outstanding++;
      }
      for (let k = 0; k < parts.length; k += CHUNK) sock.write(CHUNK === 1 ? parts[k]! : Buffer.concat(parts.slice(k, k + CHUNK)));
    };
    sock.on('data', (chunk: Buffer) => {
      let b = rest ? Buffer.concat([rest, chunk]) : chunk;
      rest = undefined;
      let i = 0;
      for (;;) {
        let len = 0, mult = 1, j = i + 1, whole = false;
        while (j < b.length) { const c = b[j++]!; len += (c & 0x7f) * mult; mult *= 128; if ((c & 0x80) === 0) { whole = true; break; } }
        if (i >= b.length || !whole || j + len > b.length) break;
        const type = b[i]! >> 4;
        if (type === 1) sock.write(Buffer.from([0x20, 2, 0, 0])); // CONNECT -> CONNACK
        else if (type === 8) { sock.write(Buffer.from([0x90, 3, b[j]!, b[j + 1]!, 1])); subscribed = true; } // SUBSCRIBE -> SUBACK qos 1
        else if (type === 4) outstanding--; // PUBACK
        else if (type === 12) sock.write(Buffer.from([0xd0, 0])); // PINGREQ -> PINGRESP
        i = j + len;
      }
      if (i < b.length) rest = Buffer.from(b.subarray(i));
      if (subscribed) publish();
    });
    sock.on('error', () => {});
  });
  const http = createHttpServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      if (req.url?.startsWith('/write')) { res.statusCode = 204; res.end(); } else { res.setHeader('content-type', 'application/json'); res.end('{"results":[{"statement_id":0}]}'); }
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  process.send!({ mqtt: (tcp.address() as AddressInfo).port, http: (http.address() as AddressInfo).port });
}
