/**
 * The durable broker profile (MQTT_PERSISTENCE_URL=redis://…): the broker is `kill -9`ed in the
 * middle of a stream and started again on the same ports; devices keep measuring while it is
 * down, reconnect and resend what was not acknowledged; ingest reconnects to its persistent
 * session. Every reading a device got a PUBACK for is stored exactly once (count = acked,
 * seq 0..acked-1), also when ingest is down while the broker dies (its queue survives in Redis).
 * The same scenario with the memory profile loses what was queued for ingest — measured here.
 *
 * Real processes only: redis-server (appendonly, appendfsync always), the broker from
 * broker/main.ts as a child process, ingest as a child process, influxd, mqtt.js devices.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REDIS_QUEUE_PREFIX } from '../broker/aedes/index.ts';
import { brokerConfig } from '../broker/config.ts';
import { openPersistence } from '../broker/persistence.ts';
import { freePort } from '../scripts/influxd.ts';
import { deviceTopic } from '../core/contract.ts';
import { readingStream, ROOT, TestPlatform, waitFor } from './harness/platform.ts';
import { startRedis, type RunningRedis } from './harness/redis.ts';

let redis: RunningRedis;
let redisDir: string;
beforeAll(async () => {
  redisDir = mkdtempSync(join(tmpdir(), 'sp-redis-'));
  redis = await startRedis({ dataDir: redisDir });
});
afterAll(async () => {
  await redis?.stop();
  rmSync(redisDir, { recursive: true, force: true });
});

// every kind here has a `power` metric; half the devices use persistent sessions
const DEVICES: [string, boolean][] = [
  ['wm-mill-1', true], ['wm-press-1', false], ['dj-press-1', true], ['xb-loom-1', false], ['wm-mill-2', false], ['dj-press-2', true],
];
const INGEST_QUEUE = `${REDIS_QUEUE_PREFIX}svc-ingest`;

interface Result { id: string; acked: number; count: number; min: number; max: number }

/**
 * Devices stream QoS 1 readings (one every ~2 ms each, resending what fails); after ~3,000
 * acknowledged the broker is killed with SIGKILL and started again. With `ingestDown`, ingest is
 * killed first and started again only after the broker restart, so everything acknowledged
 * meanwhile waits in the broker's queue for ingest's session.
 */
async function killBrokerMidStream(p: TestPlatform, opts: { ingestDown: boolean }): Promise<{ results: Result[]; queuedAtKill: number }> {
  const base = Date.now() - 3_600_000;
  const clients: MqttClient[] = await Promise.all(DEVICES.map(([id, clean]) => mqtt.connectAsync(p.mqttUrl, {
    clientId: id, username: id, password: p.secrets[id], clean, reconnectPeriod: 100, connectTimeout: 5000, keepalive: 30,
  })));
  const streams = DEVICES.map(([id], k) => ({
    id, c: clients[k]!,
    s: readingStream(clients[k]!, p.model.devices.get(id)!, { base, metric: 'power', inflight: 100_000, paceMs: 2, resendOnError: true }),
  }));
  const acked = () => streams.reduce((a, x) => a + x.s.acked, 0);
  let queuedAtKill = -1;
  try {
    await waitFor('a stream under way', () => acked() > 3000, 30_000, 20);
    if (opts.ingestDown) {
      await p.killIngest('SIGKILL');
      const at = acked();
      await waitFor('readings acknowledged while ingest is down', () => acked() > at + 2000, 30_000, 20);
    }
    // the instant of the kill: whatever is acknowledged now must survive
    if (opts.ingestDown) queuedAtKill = Number((await redis.command('HLEN', INGEST_QUEUE)).slice(1));
    await p.killBroker('SIGKILL');
    const atKill = acked();
    await waitFor('every device knows the broker is gone', () => streams.every((x) => !x.c.connected), 10_000, 10);
    await new Promise((r) => setTimeout(r, 300)); // devices keep measuring: mqtt.js queues their readings
    expect(acked()).toBe(atKill);
    await p.startBrokerProcess();
    await waitFor('devices back and acknowledged', () => acked() > atKill + 2000, 30_000, 20);
    if (opts.ingestDown) await p.startIngest();
    else await waitFor('ingest back', async () => (await p.ingestStats())?.connected === true, 20_000, 100);
    const atBack = acked();
    await waitFor('more after the restart', () => acked() > atBack + 1000, 30_000, 20);
    for (const x of streams) x.s.running = false;
    await Promise.all(streams.map((x) => x.s.done));
  } finally {
    for (const x of streams) x.s.running = false;
    await Promise.all(clients.map((c) => c.endAsync(true)));
  }
  // stored: all of it (or, for a lossy profile, what arrives until nothing more does for 3 s)
  for (const { id, s } of streams) expect(s.acked, `${id}: every reading sent was acknowledged`).toBe(s.sent);
  let last = -1;
  let since = Date.now();
  await waitFor('readings stored', async () => {
    const counts = await Promise.all(streams.map(async (x) => (await p.seqStats(x.id)).count));
    const total = counts.reduce((a, n) => a + n, 0);
    if (total !== last) [last, since] = [total, Date.now()];
    return counts.every((n, k) => n >= streams[k]!.s.acked) || Date.now() - since > 3000;
  }, 40_000, 200);
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would land by now
  const results: Result[] = [];
  for (const { id, s } of streams) results.push({ id, acked: s.acked, ...(await p.seqStats(id)) });
  return { results, queuedAtKill };
}

const exactlyOnce = (results: Result[]) => {
  for (const r of results) expect(r).toEqual({ id: r.id, acked: r.acked, count: r.acked, min: 0, max: r.acked - 1 });
};
const report = (label: string, results: Result[]) => {
  const acked = results.reduce((a, r) => a + r.acked, 0);
  const stored = results.reduce((a, r) => a + r.count, 0);
  console.log(`[broker-restart] ${label}: acknowledged ${acked}, stored ${stored}, lost ${acked - stored}`);
  return { acked, stored };
};

it('Redis profile: kill -9 of the broker mid-stream, ingest connected: every acknowledged reading stored once', async () => {
  await redis.command('FLUSHALL');
  const p = await new TestPlatform({ brokerProcess: true, brokerEnv: { MQTT_PERSISTENCE_URL: redis.url } }).start();
  try {
    const { results } = await killBrokerMidStream(p, { ingestDown: false });
    report('redis, ingest up', results);
    exactlyOnce(results);
  } finally {
    await p.stop();
  }
}, 60_000);

it('Redis profile: ingest down while the broker is killed: its queue survives in Redis, every reading stored once', async () => {
  await redis.command('FLUSHALL');
  const p = await new TestPlatform({ brokerProcess: true, brokerEnv: { MQTT_PERSISTENCE_URL: redis.url } }).start();
  try {
    const { results, queuedAtKill } = await killBrokerMidStream(p, { ingestDown: true });
    report(`redis, ingest down (${queuedAtKill} queued for ingest in Redis at the kill)`, results);
    expect(queuedAtKill).toBeGreaterThan(2000);
    exactlyOnce(results);
    // ingest acknowledged the whole backlog: nothing left in its queue
    await waitFor('ingest queue drained', async () => (await redis.command('HLEN', INGEST_QUEUE)) === ':0', 10_000, 100);
  } finally {
    await p.stop();
  }
}, 60_000);

it('a PUBACK means the reading is stored in Redis: none while Redis refuses writes, a kill -9 then loses nothing; the dead broker\'s wills are settled', async () => {
  await redis.command('FLUSHALL');
  const p = await new TestPlatform({ brokerProcess: true, brokerEnv: { MQTT_PERSISTENCE_URL: redis.url } }).start();
  const id = 'wm-kiln-1';
  const d = p.model.devices.get(id)!;
  let c: MqttClient | undefined;
  try {
    await p.killIngest('SIGKILL'); // its session stays: readings queue for it
    // as the contract recommends (and the simulators do): a retained "offline" last will
    c = await mqtt.connectAsync(p.mqttUrl, {
      clientId: id, username: id, password: p.secrets[id], reconnectPeriod: 100, connectTimeout: 5000,
      will: { topic: deviceTopic(d, 'status'), payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
    });
    const willKeys = async () => ((await redis.query('LRANGE', 'will', '0', '-1')) as string[]).filter((k) => k.endsWith(`:${id}`));
    const [oldWill] = await willKeys();
    expect(oldWill).toMatch(/^will:[0-9a-f-]{36}:/);
    const base = Date.now() - 60_000;
    const body = (seq: number) => JSON.stringify({ ts: base + seq, seq, metrics: { t_firing: 1190 } });
    for (let seq = 0; seq < 50; seq++) {
      await c.publishAsync(deviceTopic(d, 'telemetry'), body(seq), { qos: 1 });
      // acknowledged => already in ingest's queue in Redis (status messages may be there too)
      expect(Number((await redis.command('HLEN', `${INGEST_QUEUE}`)).slice(1))).toBeGreaterThanOrEqual(seq + 1);
    }
    const before = Number((await redis.command('HLEN', INGEST_QUEUE)).slice(1));
    // Redis stops taking writes: the broker cannot store, so it must not acknowledge
    expect(await redis.command('CLIENT', 'PAUSE', '3000', 'WRITE')).toBe('+OK');
    let acked = false;
    const client = c;
    // a careful device: resend if mqtt.js gives up on it (same ts: harmless)
    const send = (): Promise<void> => client.publishAsync(deviceTopic(d, 'telemetry'), body(50), { qos: 1 })
      .then(() => { acked = true; }, () => new Promise((r) => setTimeout(r, 50)).then(send));
    const pr = send();
    await new Promise((r) => setTimeout(r, 500));
    expect(acked).toBe(false);
    // the broker dies holding the unacknowledged reading; Redis comes back; the device resends it
    await p.killBroker('SIGKILL');
    expect(await redis.command('CLIENT', 'UNPAUSE')).toBe('+OK');
    await p.startBrokerProcess();
    await pr;
    expect(acked).toBe(true);
    expect(Number((await redis.command('HLEN', INGEST_QUEUE)).slice(1))).toBeGreaterThanOrEqual(before + 1);
    await p.startIngest();
    await waitFor('all 51 stored', async () => (await p.seqStats(id)).count >= 51, 20_000, 100);
    expect(await p.seqStats(id)).toEqual({ count: 51, min: 0, max: 50 });
    // The will of the killed broker's connection was published at the restart, before the device
    // was back, and removed: aedes would publish it ~4 min later and mark the device offline.
    expect(await redis.query('EXISTS', oldWill!)).toBe(0);
    const now = await willKeys();
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(oldWill);
    const watcher = await p.connect('svc-api', { clientId: 'svc-api-status' });
    const status = new Promise<string>((r) => watcher.once('message', (_t, payload) => r(payload.toString())));
    await watcher.subscribeAsync(deviceTopic(d, 'status'), { qos: 1 });
    expect(JSON.parse(await status)).toMatchObject({ state: 'online' });
  } finally {
    await redis.command('CLIENT', 'UNPAUSE').catch(() => {});
    await c?.endAsync(true);
    await p.stop();
  }
}, 60_000);

it('memory profile, same scenario with ingest down: what was queued for ingest is lost (why the Redis profile exists)', async () => {
  const p = await new TestPlatform({ brokerProcess: true }).start();
  try {
    const { results } = await killBrokerMidStream(p, { ingestDown: true });
    const { acked, stored } = report('memory, ingest down', results);
    expect(stored).toBeLessThan(acked - 1000); // at least the ~2,000 acknowledged while ingest was down
    for (const r of results) expect(r.count).toBeLessThanOrEqual(r.acked); // lost, never doubled
  } finally {
    await p.stop();
  }
}, 60_000);

it('refuses a bad MQTT_PERSISTENCE_URL or an unreachable Redis at start, naming key, value and expectation', async () => {
  expect(() => brokerConfig({ MQTT_PERSISTENCE_URL: 'http://127.0.0.1:6379' }))
    .toThrow(/^MQTT_PERSISTENCE_URL="http:\/\/127.0.0.1:6379": unsupported scheme http:; expected empty \(memory, the default\) or redis:\/\//);
  expect(() => brokerConfig({ MQTT_PERSISTENCE_URL: 'redis://u:secret@h:6379/x' })).toThrow(/"redis:\/\/u:\*\*\*@h:6379\/x": database "x" is not a number/);
  expect(brokerConfig({ MQTT_PERSISTENCE_URL: redis.url }).persistenceUrl).toBe(redis.url);
  expect(brokerConfig({}).persistenceUrl).toBe(''); // default: memory
  const closed = await freePort();
  await expect(openPersistence(`redis://127.0.0.1:${closed}/0`, { connectTimeoutMs: 3000 }))
    .rejects.toThrow(new RegExp(`MQTT_PERSISTENCE_URL="redis://127.0.0.1:${closed}/0": cannot reach Redis`));
  // the real entry file stops with that message
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'broker/main.ts'], {
    cwd: ROOT, encoding: 'utf8', timeout: 20_000,
    env: { PATH: process.env.PATH ?? '', MQTT_PERSISTENCE_URL: 'redis://127.0.0.1:6379/db0', MQTT_PORT: '0', MQTT_WS_PORT: '-1', BROKER_HTTP_PORT: '-1' },
  });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('MQTT_PERSISTENCE_URL="redis://127.0.0.1:6379/db0": database "db0" is not a number');
}, 30_000);
