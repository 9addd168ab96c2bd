/**
 * Several brokers on one Redis (broker/aedes/session-queue.ts, redis-queue-store.ts,
 * redis-subscription-sync.ts): two broker processes (broker/main.ts) share a redis-server; devices
 * publish QoS 1 through both; a persistent subscriber (clean=false, fixed client id) is cut without
 * a DISCONNECT (as kill -9 cuts it) on one broker and resumes its session on the other, then back.
 * Every reading a device got a PUBACK for reaches the subscriber at least once: its queue moves with
 * it, and acknowledgements on one broker clear what the other wrote. Live delivery across brokers
 * is not in scope (no shared emitter in Aedes 1.x): what a broker queued for a subscriber connected
 * elsewhere is delivered at the subscriber's next CONNECT — here the last reconnect.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { provisionCredentials } from '../broker/credentials.ts';
import { deviceTopic } from '../core/contract.ts';
import { loadParkModel } from '../core/model-file.ts';
import { generateSecret, hashSecret } from '../core/secrets.ts';
import { freePort } from '../scripts/influxd.ts';
import { waitFor } from './harness/platform.ts';
import { startRedis, type RunningRedis } from './harness/redis.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SUB_ID = 'svc-ingest-shared';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let dir: string;
let redis: RunningRedis;
const brokers: ChildProcess[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sp-shared-redis-'));
  redis = await startRedis({ dataDir: join(dir, 'redis') });
});
afterAll(async () => {
  for (const b of brokers) b.kill('SIGKILL');
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startBroker(name: string): Promise<string> {
  const [port, http] = [await freePort(), await freePort()];
  const log = openSync(join(dir, `broker-${name}.log`), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], {
    cwd: ROOT, stdio: ['ignore', log, log],
    env: {
      ...process.env, LOG_LEVEL: 'warn', MQTT_CREDENTIALS_FILE: join(dir, 'creds.json'), MQTT_PORT: String(port), MQTT_WS_PORT: '-1',
      BROKER_HTTP_PORT: String(http), MQTT_PERSISTENCE_URL: redis.url,
    },
  });
  brokers.push(child);
  await waitFor(`broker ${name} up`, async () => {
    try { return (await fetch(`http://127.0.0.1:${http}/health`)).ok; } catch { return false; }
  }, 30_000, 100);
  return `mqtt://127.0.0.1:${port}`;
}

it('a persistent session moves between two brokers on one Redis and loses nothing acknowledged', async () => {
  const model = loadParkModel();
  const devices = [...model.devices.values()].slice(0, 4);
  const secrets = provisionCredentials({
    storeFile: join(dir, 'creds.json'), deviceIds: devices.map((d) => d.id), serviceAccounts: ['svc-ingest'],
    generate: generateSecret, hash: (s) => hashSecret(s),
  });
  const [urlA, urlB] = await Promise.all([startBroker('a'), startBroker('b')]);

  const received = new Set<string>();
  const connectSubscriber = async (url: string): Promise<MqttClient> => {
    const c = mqtt.connect(url, { clientId: SUB_ID, username: 'svc-ingest', password: secrets['svc-ingest'], clean: false, reconnectPeriod: 100, resubscribe: false });
    c.on('message', (_t, payload) => { received.add(payload.toString()); });
    c.on('error', () => {});
    const connack = await new Promise<{ sessionPresent: boolean }>((r) => c.once('connect', r));
    if (!connack.sessionPresent) await c.subscribeAsync('sp/v1/#', { qos: 1 });
    return c;
  };
  /** As kill -9 does: the socket closes without a DISCONNECT. */
  const cut = (c: MqttClient) => {
    (c.stream as Socket).destroy();
    c.end(true);
  };

  let sub = await connectSubscriber(urlA);
  await sleep(300); // the subscription reaches broker B through Redis

  // two devices publish through A, two through B, QoS 1, 20 in flight each, until told to stop
  const acked: string[] = [];
  let stop = false;
  const pubs = await Promise.all(devices.map((d, i) => mqtt.connectAsync(i % 2 === 0 ? urlA : urlB, {
    clientId: d.id, username: d.id, password: secrets[d.id], reconnectPeriod: 100,
  })));
  const publishing = Promise.all(devices.map(async (d, i) => {
    const topic = deviceTopic(d, 'telemetry');
    let seq = 0;
    const lane = async () => {
      while (!stop) {
        const id = `${d.id}:${seq++}`;
        try {
          await pubs[i]!.publishAsync(topic, id, { qos: 1 });
          acked.push(id);
        } catch { /* not acknowledged: not counted */ }
      }
    };
    await Promise.all(Array.from({ length: 20 }, lane));
  }));

  const moves: string[] = [];
  for (const url of [urlB, urlA, urlB, urlA]) {
    await waitFor('deliveries under way', () => received.size > acked.length / 4 && acked.length > 500, 20_000, 20);
    await sleep(400);
    cut(sub);
    sub = await connectSubscriber(url);
    moves.push(url === urlA ? 'A' : 'B');
  }
  await sleep(500);
  stop = true;
  await publishing;

  // what each broker queued while the subscriber was on the other one: delivered at the next CONNECT
  sub.end(true);
  sub = await connectSubscriber(urlB);
  await waitFor('every acknowledged reading delivered', () => acked.every((id) => received.has(id)), 20_000, 100).catch(() => {});
  const lost = acked.filter((id) => !received.has(id));
  console.log(`[broker-shared-redis] moves=${moves.join('>')}>B acked=${acked.length} received=${received.size} lost=${lost.length}`);
  sub.end(true);
  for (const p of pubs) p.end(true);

  expect(acked.length).toBeGreaterThan(3000);
  expect(lost.slice(0, 10)).toEqual([]);
  expect(lost.length).toBe(0);
}, 120_000);
