/**
 * Starts the real platform for a test: the shared InfluxDB (own database per platform), the
 * broker in this process on free loopback ports with freshly provisioned credentials (or, with
 * `brokerProcess`, as a child process from broker/main.ts that a test can `kill -9` and restart),
 * and ingest as a child process (so a test can `kill -9` it). Nothing is mocked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { inject } from 'vitest';
import { InfluxClient } from '../../core/influx/client.ts';
import { ident, influxql } from '../../core/influx/influxql.ts';
import { loadParkModel } from '../../core/model-file.ts';
import type { DeviceModel, ParkModel } from '../../core/model.ts';
import { deviceTopic } from '../../core/contract.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { brokerConfig, type BrokerConfig } from '../../broker/config.ts';
import { provisionCredentials, readStore, type CredentialStore } from '../../broker/credentials.ts';
import { startBroker, type RunningBroker } from '../../broker/server.ts';
import type { Refusal } from '../../broker/auth.ts';
import { freePort } from '../../scripts/influxd.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

export async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** GET over HTTPS trusting `ca` (fetch cannot be given a CA); returns status and body text. */
export function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface PlatformOptions {
  /** Environment for the ingest child (merged over the defaults). */
  ingestEnv?: Record<string, string>;
  startIngest?: boolean;
  /** An InfluxDB of the test's own (e.g. one it stops and starts) instead of the shared one. */
  influxUrl?: string;
  /** Broker settings over the test defaults (e.g. drainTimeoutMs, TLS files). In-process broker only. */
  brokerConfig?: Partial<BrokerConfig>;
  /**
   * Run the broker as a child process (broker/main.ts, its real entry file) instead of in this
   * process, so a test can kill it (`killBroker`) and start it again on the same ports
   * (`startBrokerProcess`). `broker` is then unset: use `mqttUrl`, `brokerHttp`.
   */
  brokerProcess?: boolean;
  /** Environment for the broker child (e.g. MQTT_PERSISTENCE_URL), over the defaults. */
  brokerEnv?: Record<string, string>;
}

/**
 * A device publishing readings with unique, contiguous seq and ts (base + seq) at QoS 1, with
 * at most `inflight` unacknowledged, until `running` is set false; counts PUBACKs. With
 * `batch` > 1 each message carries that many readings; with `paceMs` it waits that long after
 * each message (a device that measures at its own pace, acknowledged or not); with
 * `resendOnError` a publish that fails (e.g. mqtt.js "Connection closed") is sent again.
 */
export function readingStream(
  c: MqttClient, d: DeviceModel,
  opts: { base: number; metric: string; inflight?: number; batch?: number; paceMs?: number; resendOnError?: boolean },
) {
  const topic = deviceTopic(d, 'telemetry');
  const batch = opts.batch ?? 1;
  const state = { acked: 0, sent: 0, errors: 0, running: true, done: Promise.resolve() };
  // a careful device resends a reading whose publish failed (same ts: harmless if it got through)
  const send = (body: string, n: number): Promise<void> => c.publishAsync(topic, body, { qos: 1 }).then(() => { state.acked += n; }, async (e: Error) => {
    state.errors++;
    if (!opts.resendOnError) throw e;
    await new Promise((r) => setTimeout(r, 50));
    return send(body, n);
  });
  const reading = (s: number) => ({ ts: opts.base + s, seq: s, metrics: { [opts.metric]: s / 10 } });
  state.done = (async () => {
    let seq = 0;
    const inflight = new Set<Promise<unknown>>();
    while (state.running) {
      const first = seq;
      seq += batch;
      const body = batch === 1 ? reading(first) : { readings: Array.from({ length: batch }, (_, k) => reading(first + k)) };
      state.sent += batch;
      const pr = send(JSON.stringify(body), batch).finally(() => inflight.delete(pr));
      inflight.add(pr);
      if (inflight.size >= (opts.inflight ?? 20)) await Promise.race(inflight);
      if (opts.paceMs) await new Promise((r) => setTimeout(r, opts.paceMs));
    }
    await Promise.all(inflight);
  })();
  return state;
}

export interface SeqStats { count: number; min: number; max: number }

/** count, min and max of `seq` stored for a device: {n, 0, n-1} means every reading once. */
export async function seqStats(influx: InfluxClient, model: ParkModel, deviceId: string): Promise<SeqStats> {
  const d = model.devices.get(deviceId)!;
  const res = await influx.query(influxql`SELECT count(${ident('seq')}), min(${ident('seq')}), max(${ident('seq')}) FROM ${ident(d.kind.id)} WHERE "device" = ${deviceId}`);
  const v = res[0]?.[0]?.values[0] as number[] | undefined;
  return { count: v?.[1] ?? 0, min: v?.[2] ?? -1, max: v?.[3] ?? -1 };
}

/** The environment of `npm run up` in a test: data in `dir`, every port free (nothing collides with a parallel run). */
export async function upEnv(dir: string, extraPorts: string[] = []): Promise<{ ports: Record<string, number>; env: NodeJS.ProcessEnv }> {
  const ports: Record<string, number> = {};
  for (const n of ['MQTT_PORT', 'MQTT_WS_PORT', 'BROKER_HTTP_PORT', 'API_METRICS_PORT', 'SPARKPLUG_HTTP_PORT', 'INGEST_HTTP_PORT', 'API_PORT', ...extraPorts]) ports[n] = await freePort();
  return { ports, env: { ...process.env, DATA_DIR: dir, LOG_LEVEL: 'warn', ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) } };
}

export class TestPlatform {
  readonly dir = mkdtempSync(join(tmpdir(), 'sp-test-'));
  readonly model: ParkModel = loadParkModel();
  readonly db = `t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  readonly influx: InfluxClient;
  readonly refusals: Refusal[] = [];
  secrets: Record<string, string> = {};
  broker!: RunningBroker;
  mqttUrl = '';
  ingest: ChildProcess | undefined;
  ingestHttp = 0;
  /** With `brokerProcess`: the broker child, its MQTT and HTTP (/health, /stats) ports. */
  brokerChild: ChildProcess | undefined;
  brokerMqtt = 0;
  brokerHttp = 0;
  private store!: CredentialStore;
  private readonly clients: MqttClient[] = [];

  constructor(private readonly opts: PlatformOptions = {}) {
    this.influx = new InfluxClient({ url: opts.influxUrl ?? inject('influxUrl'), token: inject('influxToken') || undefined, db: this.db });
  }

  async start(): Promise<this> {
    await this.influx.ensureDatabase();
    const storeFile = join(this.dir, 'mqtt-credentials.json');
    this.secrets = provisionCredentials({
      storeFile, deviceIds: [...this.model.devices.keys()], gatewayIds: [...this.model.gateways.keys()], serviceAccounts: ['svc-ingest', 'svc-api'],
      generate: generateSecret, hash: (s) => hashSecret(s),
    });
    this.store = readStore(storeFile);
    if (this.opts.brokerProcess) {
      await this.startBrokerProcess();
    } else {
      this.broker = await startBroker({
        config: brokerConfig({}, { mqttPort: 0, wsPort: 0, httpPort: -1, credentialsFile: storeFile, ...this.opts.brokerConfig }),
        model: this.model, store: () => this.store, onRefused: (r) => this.refusals.push(r),
      });
      this.mqttUrl = `mqtt://127.0.0.1:${this.broker.ports.mqtt}`;
    }
    if (this.opts.startIngest !== false) await this.startIngest();
    return this;
  }

  ingestEnv(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '', MQTT_URL: this.mqttUrl, INGEST_MQTT_PASSWORD: this.secrets['svc-ingest']!,
      INFLUX_URL: this.influx.config.url, INFLUX_TOKEN: this.influx.config.token ?? '', INFLUX_DB: this.db, INGEST_SPOOL_DIR: join(this.dir, 'spool'),
      INGEST_HTTP_PORT: String(this.ingestHttp), INGEST_FLUSH_INTERVAL_MS: '100', LOG_LEVEL: 'warn',
      ...this.opts.ingestEnv,
    };
  }

  apiUrl = '';
  apiKey = '';
  api: ChildProcess | undefined;

  /**
   * Starts the API as a child process (its real entry file) with an admin key. With `tls`, it
   * serves HTTPS with that certificate (API_TLS_CERT_FILE/API_TLS_KEY_FILE) and `apiUrl` is https.
   */
  async startApi(tls?: { certFile: string; keyFile: string; ca: Buffer }, extraEnv: Record<string, string> = {}): Promise<void> {
    const port = await freePort();
    this.apiKey = generateSecret();
    const keysFile = join(this.dir, 'api-keys.json');
    writeFileSync(keysFile, JSON.stringify({ keys: [{ id: 'test-admin', role: 'admin', hash: hashSecret(this.apiKey) }] }));
    const log = openSync(join(this.dir, 'api.log'), 'a');
    const env = {
      PATH: process.env.PATH ?? '', MQTT_URL: this.mqttUrl, API_MQTT_PASSWORD: this.secrets['svc-api']!, API_PORT: String(port), API_METRICS_PORT: '0',
      INFLUX_URL: this.influx.config.url, INFLUX_TOKEN: this.influx.config.token ?? '', INFLUX_DB: this.db, API_KEYS_FILE: keysFile, LOG_LEVEL: 'warn',
      ...(tls ? { API_TLS_CERT_FILE: tls.certFile, API_TLS_KEY_FILE: tls.keyFile } : {}),
      API_KPI_ROLLUP_INTERVAL_MS: '0', // the KPI rollup only where a test asks for it (test/kpi-rollup.test.ts)
      ...extraEnv,
    };
    this.api = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], { cwd: ROOT, env, stdio: ['ignore', log, log] });
    this.apiUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const api = this.api;
    await waitFor('api to answer', async () => {
      if (api.exitCode !== null) throw new Error(`api exited with ${api.exitCode}; see ${join(this.dir, 'api.log')}`);
      try {
        return tls ? (await httpsGet(`${this.apiUrl}/health`, tls.ca)).status === 200 : (await fetch(`${this.apiUrl}/health`)).ok;
      } catch {
        return false;
      }
    });
  }

  /** GET on the API with the admin key; returns status and parsed body. */
  async apiGet(path: string): Promise<{ status: number; body: any }> {
    const r = await fetch(`${this.apiUrl}${path}`, { headers: { 'x-api-key': this.apiKey } });
    return { status: r.status, body: await r.json() };
  }

  /**
   * (`brokerProcess`) Starts the broker child — again on the same ports after `killBroker` — and
   * waits until it answers /health.
   */
  async startBrokerProcess(): Promise<void> {
    this.brokerMqtt ||= await freePort();
    this.brokerHttp ||= await freePort();
    this.mqttUrl = `mqtt://127.0.0.1:${this.brokerMqtt}`;
    const log = openSync(join(this.dir, 'broker.log'), 'a');
    const env = {
      PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', MQTT_CREDENTIALS_FILE: join(this.dir, 'mqtt-credentials.json'),
      MQTT_PORT: String(this.brokerMqtt), MQTT_WS_PORT: '-1', BROKER_HTTP_PORT: String(this.brokerHttp),
      ...this.opts.brokerEnv,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], { cwd: ROOT, env, stdio: ['ignore', log, log] });
    this.brokerChild = child;
    await waitFor('broker to answer', async () => {
      if (child.exitCode !== null) throw new Error(`broker exited with ${child.exitCode}; see ${join(this.dir, 'broker.log')}`);
      try {
        return (await fetch(`http://127.0.0.1:${this.brokerHttp}/health`)).ok;
      } catch {
        return false;
      }
    });
  }

  /** (`brokerProcess`) Kills the broker child (default SIGKILL: nothing is flushed) and waits for it to be gone. */
  async killBroker(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.brokerChild;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 5000); // a broker that does not stop on SIGTERM
    await gone;
    clearTimeout(t);
    this.brokerChild = undefined;
  }

  /** Starts ingest as a child process and waits until it is subscribed. */
  async startIngest(): Promise<void> {
    // a second ingest would fight the first over the svc-ingest session, and the first would be orphaned
    if (this.ingest && this.ingest.exitCode === null && this.ingest.signalCode === null) throw new Error('ingest is already running (start() starts it unless startIngest: false); kill it first');
    this.ingestHttp ||= await freePort();
    const log = openSync(join(this.dir, 'ingest.log'), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'ingest/main.ts'], { cwd: ROOT, env: this.ingestEnv(), stdio: ['ignore', log, log] });
    this.ingest = child;
    await waitFor('ingest to connect', async () => {
      if (child.exitCode !== null) throw new Error(`ingest exited with ${child.exitCode}; see ${join(this.dir, 'ingest.log')}`);
      return (await this.ingestStats())?.connected === true;
    });
  }

  async ingestStats(): Promise<Record<string, unknown> | undefined> {
    try {
      const r = await fetch(`http://127.0.0.1:${this.ingestHttp}/stats`);
      return (await r.json()) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  /** One of ingest's counters; `absent` when it has none or ingest is not answering. */
  async ingestStat(key: string, absent = 0): Promise<number> {
    return Number((await this.ingestStats())?.[key] ?? absent);
  }

  /** Kills ingest with a signal (default SIGKILL: no clean-up runs) and waits for it to be gone. */
  async killIngest(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.ingest;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await gone;
    this.ingest = undefined;
  }

  /** An MQTT connection as a device (or service) with its real credentials. */
  async connect(id: string, extra: IClientOptions = {}): Promise<MqttClient> {
    const c = await mqtt.connectAsync(this.mqttUrl, {
      clientId: id, username: id, password: this.secrets[id], reconnectPeriod: 0, connectTimeout: 5000, ...extra,
    });
    this.clients.push(c);
    return c;
  }

  /** Gives a device a chosen secret (stored as scrypt, as `npm run credentials` does for chosen ones); in-process broker only. */
  setDeviceSecret(id: string, secret: string): void {
    this.store = { ...this.store, devices: { ...this.store.devices, [id]: hashSecret(secret, 'scrypt') } };
    this.secrets[id] = secret;
  }

  /** Number of points stored for a device in its kind's measurement. */
  async count(deviceId: string, field = 'seq'): Promise<number> {
    const d = this.model.devices.get(deviceId)!;
    const res = await this.influx.query(influxql`SELECT count(${ident(field)}) FROM ${ident(d.kind.id)} WHERE "device" = ${deviceId}`);
    return Number(res[0]?.[0]?.values[0]?.[1] ?? 0);
  }

  /** count, min and max of `seq` stored for a device: {n, 0, n-1} means every reading once. */
  seqStats(deviceId: string): Promise<SeqStats> {
    return seqStats(this.influx, this.model, deviceId);
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true).catch(() => {})));
    await this.killIngest('SIGTERM');
    if (this.api && this.api.exitCode === null) {
      const gone = new Promise((r) => this.api!.once('exit', r));
      this.api.kill('SIGKILL');
      await gone;
    }
    await this.broker?.close();
    await this.killBroker('SIGTERM');
    await this.influx.query(influxql`DROP DATABASE ${ident(this.db)}`, { db: null }).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
