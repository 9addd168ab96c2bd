/**
 * The cluster profile for a test, all real processes on loopback: 3 nats-servers (R3 JetStream),
 * brokers (broker/main.ts with MQTT_JETSTREAM_URL), optionally HAProxy in front of them (leastconn
 * TCP, a generated haproxy.cfg), ingest workers (ingest/main.ts with MQTT_JETSTREAM_URL) and the
 * shared InfluxDB with a database of its own. Each process can be killed with SIGKILL and started
 * again on the same ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { inject } from 'vitest';
import { provisionCredentials } from '../../broker/credentials.ts';
import { startNatsCluster, type RunningNatsCluster } from '../../cluster/nats-cluster.ts';
import { InfluxClient } from '../../core/influx/client.ts';
import { ident, influxql } from '../../core/influx/influxql.ts';
import { loadParkModel } from '../../core/model-file.ts';
import type { ParkModel } from '../../core/model.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { freePort } from '../../scripts/influxd.ts';
import { seqStats, waitFor, type SeqStats } from './platform.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface Proc { child: ChildProcess | undefined; port: number; http: number }

async function killChild(p: Proc, signal: NodeJS.Signals): Promise<void> {
  const child = p.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 8000);
  await gone;
  clearTimeout(t);
  p.child = undefined;
}

async function httpJson(port: number, path: string): Promise<Record<string, any> | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return (await r.json()) as Record<string, any>;
  } catch {
    return undefined;
  }
}

export interface ClusterOptions {
  /** Environment for every broker (e.g. MQTT_JETSTREAM_MAX_BYTES). */
  brokerEnv?: Record<string, string>;
  /** Environment for every worker (e.g. INGEST_ALARMS_FILE, INGEST_LEASE_TTL_MS). */
  workerEnv?: Record<string, string>;
}

export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'sp-cluster-'));
  readonly model: ParkModel = loadParkModel();
  readonly db = `c_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  readonly influx = new InfluxClient({ url: inject('influxUrl'), token: inject('influxToken') || undefined, db: this.db });
  secrets: Record<string, string> = {};
  nats!: RunningNatsCluster;
  nc!: NatsConnection;
  readonly brokers: Proc[] = [];
  readonly workers = new Map<string, Proc>();
  lb: Proc | undefined;
  private readonly clients: MqttClient[] = [];
  private readonly credFile = join(this.dir, 'mqtt-credentials.json');

  constructor(private readonly opts: ClusterOptions = {}) {}

  async start(brokers: number): Promise<this> {
    await this.influx.ensureDatabase();
    this.secrets = provisionCredentials({
      storeFile: this.credFile, deviceIds: [...this.model.devices.keys()], gatewayIds: [...this.model.gateways.keys()],
      serviceAccounts: ['svc-ingest', 'svc-api'], generate: generateSecret, hash: (s) => hashSecret(s),
    });
    this.nats = await startNatsCluster({ dataDir: join(this.dir, 'nats') });
    this.nc = await connect({ servers: this.nats.urls.split(','), reconnectTimeWait: 200, maxReconnectAttempts: -1 });
    for (let i = 0; i < brokers; i++) this.brokers.push({ child: undefined, port: await freePort(), http: await freePort() });
    await Promise.all(this.brokers.map((_b, i) => this.startBroker(i)));
    return this;
  }

  brokerUrl(i: number): string {
    return `mqtt://127.0.0.1:${this.brokers[i]!.port}`;
  }

  get lbUrl(): string {
    return `mqtt://127.0.0.1:${this.lb!.port}`;
  }

  async startBroker(i: number): Promise<void> {
    const b = this.brokers[i]!;
    const log = openSync(join(this.dir, `broker-${i}.log`), 'a');
    b.child = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], {
      cwd: ROOT, stdio: ['ignore', log, log],
      env: {
        PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', MQTT_CREDENTIALS_FILE: this.credFile, MQTT_PORT: String(b.port), MQTT_WS_PORT: '-1',
        BROKER_HTTP_PORT: String(b.http), MQTT_JETSTREAM_URL: this.nats.urls, ...this.opts.brokerEnv,
      },
    });
    const child = b.child;
    await waitFor(`broker ${i} up`, async () => {
      if (child.exitCode !== null) throw new Error(`broker ${i} exited with ${child.exitCode}; see ${join(this.dir, `broker-${i}.log`)}`);
      return (await httpJson(b.http, '/health')) !== undefined;
    }, 30_000, 100);
  }

  killBroker(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return killChild(this.brokers[i]!, signal);
  }

  brokerStats(i: number): Promise<Record<string, any> | undefined> {
    return httpJson(this.brokers[i]!.http, '/stats');
  }

  /** HAProxy in TCP mode, leastconn over the brokers, health-checked every 300 ms, redispatching a failed connect. */
  async startHaproxy(): Promise<void> {
    const port = await freePort();
    const cfg = join(this.dir, 'haproxy.cfg');
    writeFileSync(cfg, [
      'global', '  maxconn 4096', 'defaults', '  mode tcp', '  timeout connect 1s', '  timeout client 120s', '  timeout server 120s',
      '  retries 3', '  option redispatch', 'frontend mqtt', `  bind 127.0.0.1:${port}`, '  default_backend brokers',
      'backend brokers', '  balance leastconn',
      ...this.brokers.map((b, i) => `  server broker${i} 127.0.0.1:${b.port} check inter 300 fall 2 rise 2`), '',
    ].join('\n'));
    const log = openSync(join(this.dir, 'haproxy.log'), 'a');
    this.lb = { child: spawn('haproxy', ['-f', cfg, '-db'], { stdio: ['ignore', log, log] }), port, http: -1 };
    const child = this.lb.child!;
    await waitFor('haproxy to accept', async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}; see ${join(this.dir, 'haproxy.log')}`);
      try {
        const c = await mqtt.connectAsync(this.lbUrl, { clientId: 'svc-api-probe', username: 'svc-api', password: this.secrets['svc-api'], reconnectPeriod: 0, connectTimeout: 1000 });
        await c.endAsync();
        return true;
      } catch {
        return false;
      }
    }, 20_000, 100);
  }

  async startWorker(id: string, env: Record<string, string> = {}): Promise<void> {
    let w = this.workers.get(id);
    if (!w) this.workers.set(id, (w = { child: undefined, port: -1, http: await freePort() }));
    const log = openSync(join(this.dir, `worker-${id}.log`), 'a');
    w.child = spawn(process.execPath, ['--import', 'tsx', 'ingest/main.ts'], {
      cwd: ROOT, stdio: ['ignore', log, log],
      env: {
        PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', MQTT_URL: this.lb ? this.lbUrl : this.brokerUrl(0), INGEST_MQTT_PASSWORD: this.secrets['svc-ingest']!,
        INFLUX_URL: this.influx.config.url, INFLUX_TOKEN: this.influx.config.token ?? '', INFLUX_DB: this.db, INGEST_SPOOL_DIR: join(this.dir, `spool-${id}`), INGEST_HTTP_PORT: String(w.http),
        INGEST_FLUSH_INTERVAL_MS: '50', MQTT_JETSTREAM_URL: this.nats.urls, INGEST_WORKER_ID: id, INGEST_ALARMS_FILE: 'none',
        ...this.opts.workerEnv, ...env,
      },
    });
    const child = w.child;
    const http = w.http;
    await waitFor(`worker ${id} up`, async () => {
      if (child.exitCode !== null) throw new Error(`worker ${id} exited with ${child.exitCode}; see ${join(this.dir, `worker-${id}.log`)}`);
      return (await httpJson(http, '/health')) !== undefined;
    }, 30_000, 100);
  }

  killWorker(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return killChild(this.workers.get(id)!, signal);
  }

  workerStats(id: string): Promise<Record<string, any> | undefined> {
    return httpJson(this.workers.get(id)!.http, '/stats');
  }

  async jsm(): Promise<JetStreamManager> {
    return this.nc.jetstreamManager({ checkAPI: false });
  }

  /** Messages in the TELE stream now (asked again while its leader moves). */
  async streamMessages(): Promise<number> {
    const jsm = await this.jsm();
    for (let attempt = 0; ; attempt++) {
      try {
        return (await jsm.streams.info('TELE')).state.messages;
      } catch (e) {
        if (attempt > 20) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** A device (or service) connection with its real credentials. */
  async connect(id: string, url: string, extra: IClientOptions = {}): Promise<MqttClient> {
    const c = await mqtt.connectAsync(url, { clientId: id, username: id, password: this.secrets[id], reconnectPeriod: 0, connectTimeout: 5000, ...extra });
    this.clients.push(c);
    return c;
  }

  /** count, min and max of `seq` stored for a device: {n, 0, n-1} means every reading once. */
  seqStats(deviceId: string): Promise<SeqStats> {
    return seqStats(this.influx, this.model, deviceId);
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true).catch(() => {})));
    await Promise.all([...this.workers.values()].map((w) => killChild(w, 'SIGKILL')));
    await Promise.all(this.brokers.map((b) => killChild(b, 'SIGKILL')));
    if (this.lb) await killChild(this.lb, 'SIGKILL');
    await this.nc?.close().catch(() => {});
    await this.nats?.stop();
    await this.influx.query(influxql`DROP DATABASE ${ident(this.db)}`, { db: null }).catch(() => {});
    if (!process.env.KEEP_TEST_DIR) rmSync(this.dir, { recursive: true, force: true });
    else console.log(`kept ${this.dir}`);
  }
}
