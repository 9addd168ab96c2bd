/**
 * Broker-only relay rate: one device publishing 200-byte JSON as fast as the broker takes it,
 * one service subscriber receiving, through the real broker entry file (authentication, ACL,
 * packet guard, session fix all on). QoS 0 and QoS 1, N messages each.
 *   node --import tsx test/bench/relay.ts [--messages 200000] [--inflight 100]
 *     [--persistence memory|redis] [--appendfsync always|everysec] [--subscriber clean|persistent]
 * `--persistence redis` starts a redis-server (test/harness/redis.ts; appendonly, fsync as given)
 * and runs the broker with MQTT_PERSISTENCE_URL. Only a persistent subscriber (clean=false, as
 * ingest) has its messages queued in the persistence: compare the profiles with it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { deviceTopic } from '../../core/contract.ts';
import { loadParkModel } from '../../core/model-file.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { provisionCredentials } from '../../broker/credentials.ts';
import { freePort } from '../../scripts/influxd.ts';
import { startRedis, type RunningRedis } from '../harness/redis.ts';

const { values: a } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' }, inflight: { type: 'string', default: '100' },
    persistence: { type: 'string', default: 'memory' }, appendfsync: { type: 'string', default: 'always' },
    subscriber: { type: 'string', default: 'clean' },
  },
});
const N = Number(a.messages);
if (!['memory', 'redis'].includes(a.persistence!)) throw new Error('--persistence: memory or redis');
if (!['always', 'everysec', 'no'].includes(a.appendfsync!)) throw new Error('--appendfsync: always, everysec or no');
if (!['clean', 'persistent'].includes(a.subscriber!)) throw new Error('--subscriber: clean or persistent');
const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sp-relay-'));
let redis: RunningRedis | undefined;
if (a.persistence === 'redis') redis = await startRedis({ dataDir: join(dir, 'redis'), appendfsync: a.appendfsync as 'always' });
const model = loadParkModel();
const dev = model.devices.get('wm-kiln-1')!;
const secrets = provisionCredentials({ storeFile: join(dir, 'creds.json'), deviceIds: [dev.id], serviceAccounts: ['svc-api'], generate: generateSecret, hash: (s) => hashSecret(s) });
const [port, http] = [await freePort(), await freePort()];
const log = openSync(join(dir, 'broker.log'), 'a');
const broker = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], {
  cwd: ROOT, stdio: ['ignore', log, log],
  env: {
    ...process.env, LOG_LEVEL: 'warn', MQTT_CREDENTIALS_FILE: join(dir, 'creds.json'), MQTT_PORT: String(port), MQTT_WS_PORT: '-1', BROKER_HTTP_PORT: String(http),
    MQTT_PERSISTENCE_URL: redis?.url ?? '',
  },
});
try {
  for (let i = 0; ; i++) {
    try { if ((await fetch(`http://127.0.0.1:${http}/health`)).ok) break; } catch { /* not yet */ }
    if (i > 300) throw new Error('broker did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `mqtt://127.0.0.1:${port}`;
  const topic = deviceTopic(dev, 'telemetry');
  const payload = Buffer.from(JSON.stringify({ ts: Date.now(), seq: 0, metrics: { t_firing: 1190.12, t_preheat: 880.5, gas_flow: 640.25, fan_power: 401.7, output_rate: 478.3, run_state: 'running', sp_firing: 1190 } }).padEnd(200, ' '));
  const rows: [string, string][] = [];
  for (const qos of [0, 1] as const) {
    const sub = await mqtt.connectAsync(url, {
      clientId: `svc-api-relay${qos}`, username: 'svc-api', password: secrets['svc-api'], protocolVersion: 4, clean: a.subscriber === 'clean',
    });
    const pub = await mqtt.connectAsync(url, { clientId: dev.id, username: dev.id, password: secrets[dev.id], protocolVersion: 4 });
    let got = 0;
    const done = new Promise<void>((r) => sub.on('message', () => { if (++got === N) r(); }));
    await sub.subscribeAsync(topic, { qos });
    const t0 = performance.now();
    const inflight = new Set<Promise<unknown>>();
    for (let i = 0; i < N; i++) {
      if (qos === 0) {
        pub.publish(topic, payload, { qos });
        if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
      } else {
        const pr: Promise<unknown> = pub.publishAsync(topic, payload, { qos }).finally(() => inflight.delete(pr));
        inflight.add(pr);
        if (inflight.size >= Number(a.inflight)) await Promise.race(inflight);
      }
    }
    const timeout = new Promise<void>((r) => setTimeout(r, 120_000).unref());
    await Promise.race([done, timeout]);
    const s = (performance.now() - t0) / 1000;
    rows.push([`QoS ${qos}: ${N} messages of 200 B`, `${got === N ? 'all' : `ONLY ${got}`} received in ${s.toFixed(1)} s = ${(got / s).toFixed(0)} msg/s`]);
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  }
  const profile = a.persistence === 'redis' ? `redis persistence (appendfsync ${a.appendfsync})` : 'memory persistence';
  console.log(`\nBroker relay benchmark (${new Date().toISOString()}, ${process.version}), 1 publisher -> 1 ${a.subscriber} subscriber, ${profile}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(34)} ${v}`);
} finally {
  broker.kill('SIGKILL');
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}
