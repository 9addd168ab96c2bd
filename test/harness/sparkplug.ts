/**
 * The Sparkplug B host application under test: a TestPlatform (real broker, real InfluxDB) with
 * the edge-node and host accounts of a mapping, and the host started from its real entry file
 * (ingest/sparkplug/main.ts) as a child process a test can `kill -9`. Edge nodes in tests are
 * either Eclipse Tahu's sparkplug-client or `RawEdge` (mqtt.js + our encoder, for what Tahu's
 * client cannot do: chosen seq, bdSeq and aliases).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll } from 'vitest';
import { DLQ_TOPIC, type DeadLetter } from '../../core/contract.ts';
import { ident, influxql } from '../../core/influx/influxql.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { DataType, decodePayload, encodePayload, type SpMetricIn, type SpPayload } from '../../core/sparkplug/codec.ts';
import { loadSparkplugConfig, type SparkplugConfig } from '../../core/sparkplug/config.ts';
import { deviceTopicSpb, nodeTopic, SPB_NAMESPACE } from '../../core/sparkplug/topic.ts';
import type { CredentialStore } from '../../broker/credentials.ts';
import { freePort } from '../../scripts/influxd.ts';
import { ROOT, TestPlatform, waitFor, type PlatformOptions } from './platform.ts';

/** A mapping file for tests (JSON is YAML): the shipped node plus the given ones. */
export function writeMapping(dir: string, edgeNodes: unknown[] = []): string {
  const file = join(dir, 'sparkplug.yaml');
  const shipped = { hostId: 'smart-park-host', edgeNodes: [{ group: 'rongchang', node: 'rf-edge-1', devices: [{ sparkplugDevice: 'ChilledStore1', device: 'rf-cold-1', metrics: {
    'Room/Temperature': { metric: 'temp', unit: 'degF' }, 'Room/Humidity': 'humidity', 'Compressor/Running': 'compressor_on', 'Door/Open': 'door_open', 'Compressor/Power': { metric: 'power', unit: 'W' },
  } }] }] };
  shipped.edgeNodes.push(...(edgeNodes as never[]));
  writeFileSync(file, JSON.stringify(shipped, null, 2));
  return file;
}

export class SparkplugRig {
  readonly p: TestPlatform;
  mapping!: SparkplugConfig;
  mappingFile = '';
  host: ChildProcess | undefined;
  hostHttp = 0;
  readonly spoolDir: string;
  private readonly withHost: boolean;

  constructor(private readonly edgeNodes: unknown[] = [], opts: PlatformOptions & { startHost?: boolean } = {}) {
    this.withHost = opts.startHost !== false;
    this.p = new TestPlatform({ startIngest: false, ...opts });
    this.spoolDir = join(this.p.dir, 'spb-spool');
  }

  async start(): Promise<this> {
    this.mappingFile = writeMapping(this.p.dir, this.edgeNodes);
    process.env.SPARKPLUG_CONFIG = this.mappingFile; // the in-process broker's ACL reads it at start
    this.mapping = loadSparkplugConfig(this.p.model, this.mappingFile);
    await this.p.start();
    // the host's service account and each edge node's account, as `npm run credentials` provisions them
    const inner = this.p as unknown as { store: CredentialStore };
    const store = structuredClone(inner.store);
    for (const n of this.mapping.nodes.values()) {
      this.p.secrets[n.account] = generateSecret();
      store.devices[n.account] = hashSecret(this.p.secrets[n.account]!);
    }
    this.p.secrets[this.mapping.hostAccount] = generateSecret();
    store.services[this.mapping.hostAccount] = { role: 'service', hash: hashSecret(this.p.secrets[this.mapping.hostAccount]!) };
    inner.store = store;
    if (this.withHost) await this.startHost();
    return this;
  }

  hostEnv(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '', MQTT_URL: this.p.mqttUrl, SPARKPLUG_MQTT_PASSWORD: this.p.secrets[this.mapping.hostAccount]!,
      INFLUX_URL: this.p.influx.config.url, INFLUX_TOKEN: this.p.influx.config.token ?? '', INFLUX_DB: this.p.db, SPARKPLUG_SPOOL_DIR: this.spoolDir, SPARKPLUG_CONFIG: this.mappingFile,
      SPARKPLUG_HTTP_PORT: String(this.hostHttp), SPARKPLUG_FLUSH_INTERVAL_MS: '50', LOG_LEVEL: 'warn',
    };
  }

  async startHost(extraEnv: Record<string, string> = {}): Promise<void> {
    this.hostHttp ||= await freePort();
    const log = openSync(join(this.p.dir, 'sparkplug-host.log'), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'ingest/sparkplug/main.ts'], { cwd: ROOT, env: { ...this.hostEnv(), ...extraEnv }, stdio: ['ignore', log, log] });
    this.host = child;
    await waitFor('the Sparkplug host to connect', async () => {
      if (child.exitCode !== null) throw new Error(`the Sparkplug host exited with ${child.exitCode}: ${this.log().slice(-2000)}`);
      return (await this.stats() as Record<string, unknown> | undefined)?.connected === true;
    });
  }

  log(): string {
    try {
      return readFileSync(join(this.p.dir, 'sparkplug-host.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stats(): Promise<Record<string, number> | undefined> {
    try {
      return (await (await fetch(`http://127.0.0.1:${this.hostHttp}/stats`)).json()) as Record<string, number>;
    } catch {
      return undefined;
    }
  }

  async stat(key: string): Promise<number> {
    return Number((await this.stats())?.[key] ?? 0);
  }

  async killHost(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.host;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await gone;
    this.host = undefined;
  }

  /** A watcher (a service account) recording dead letters, NCMDs and STATE as they pass. */
  async watch(): Promise<Watcher> {
    const c = await this.p.connect(this.mapping.hostAccount, { clientId: `${this.mapping.hostAccount}-watch-${Math.random().toString(36).slice(2, 8)}` });
    const w: Watcher = { client: c, letters: [], ncmd: [], state: [] };
    c.on('message', (topic, payload) => {
      if (topic === DLQ_TOPIC) w.letters.push(JSON.parse(payload.toString()) as DeadLetter);
      else if (topic.includes('/NCMD/')) w.ncmd.push({ topic, payload: decodePayload(payload) });
      else if (topic.startsWith(`${SPB_NAMESPACE}/STATE/`)) w.state.push(JSON.parse(payload.toString()) as { online: boolean; timestamp: number });
    });
    await c.subscribeAsync({ [DLQ_TOPIC]: { qos: 1 }, [`${SPB_NAMESPACE}/+/NCMD/#`]: { qos: 0 }, [`${SPB_NAMESPACE}/STATE/#`]: { qos: 1 } });
    return w;
  }

  /** Points of a park device in its kind's measurement: time and fields. */
  async rows(deviceId: string, fields: string[]): Promise<Record<string, unknown>[]> {
    const d = this.p.model.devices.get(deviceId)!;
    const res = await this.p.influx.query(influxql`SELECT * FROM ${ident(d.kind.id)} WHERE "device" = ${deviceId}`);
    const s = res[0]?.[0];
    if (!s) return [];
    return s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]).filter(([c]) => c === 'time' || fields.includes(c as string))));
  }

  /** device_status rows of a device: time, state, info. */
  async statuses(deviceId: string): Promise<{ time: number; state: string; info: string }[]> {
    const res = await this.p.influx.query(influxql`SELECT "state", "info" FROM "device_status" WHERE "device" = ${deviceId}`);
    const s = res[0]?.[0];
    return s ? s.values.map((v) => ({ time: v[0] as number, state: v[1] as string, info: v[2] as string })) : [];
  }

  /** The watcher of `use()`: set in its beforeAll. */
  w!: Watcher;

  /** The file's lifecycle: starts the rig and a watcher before all tests, stops it after. */
  use(): this {
    beforeAll(async () => {
      await this.start();
      this.w = await this.watch();
    });
    afterAll(async () => {
      await this.stop();
    });
    return this;
  }

  async stop(): Promise<void> {
    await this.killHost('SIGTERM');
    await this.p.stop();
  }
}

export interface Watcher {
  client: MqttClient;
  letters: DeadLetter[];
  ncmd: { topic: string; payload: SpPayload }[];
  state: { online: boolean; timestamp: number }[];
}

/**
 * An edge node written by hand (mqtt.js and core/sparkplug/codec.ts): chosen seq, bdSeq and
 * aliases, QoS 1, the NDEATH will with its bdSeq. Counts PUBACKs of data messages.
 */
export class RawEdge {
  seq = 0;
  bdSeq = 0;
  client!: MqttClient;
  constructor(private readonly rig: SparkplugRig, readonly group: string, readonly node: string) {}

  get account(): string {
    return this.rig.mapping.nodes.get(`${this.group}/${this.node}`)!.account;
  }

  death(bdSeq = this.bdSeq): Buffer {
    return Buffer.from(encodePayload({ timestamp: Date.now(), metrics: [{ name: 'bdSeq', datatype: DataType.UInt64, value: BigInt(bdSeq) }] }));
  }

  async connect(): Promise<MqttClient> {
    this.client = await mqtt.connectAsync(this.rig.p.mqttUrl, {
      clientId: this.account, username: this.account, password: this.rig.p.secrets[this.account], reconnectPeriod: 0, connectTimeout: 5000,
      will: { topic: nodeTopic(this.group, 'NDEATH', this.node), payload: this.death(), qos: 1, retain: false },
    });
    return this.client;
  }

  private next(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) % 256;
    return s;
  }

  async nbirth(metrics: SpMetricIn[] = []): Promise<void> {
    this.seq = 0;
    await this.client.publishAsync(nodeTopic(this.group, 'NBIRTH', this.node), Buffer.from(encodePayload({
      timestamp: Date.now(), seq: this.next(), metrics: [...metrics, { name: 'bdSeq', datatype: DataType.UInt64, value: BigInt(this.bdSeq) }, { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: false }],
    })), { qos: 1 });
  }

  async dbirth(device: string, metrics: SpMetricIn[]): Promise<void> {
    await this.client.publishAsync(deviceTopicSpb(this.group, 'DBIRTH', this.node, device), Buffer.from(encodePayload({ timestamp: Date.now(), seq: this.next(), metrics })), { qos: 1 });
  }

  ddataPayload(metrics: SpMetricIn[], ts = Date.now(), seq = this.next()): Buffer {
    return Buffer.from(encodePayload({ timestamp: ts, seq, metrics }));
  }

  async ddata(device: string, metrics: SpMetricIn[], ts = Date.now()): Promise<void> {
    await this.client.publishAsync(deviceTopicSpb(this.group, 'DDATA', this.node, device), this.ddataPayload(metrics, ts), { qos: 1 });
  }

  async ddeath(device: string): Promise<void> {
    await this.client.publishAsync(deviceTopicSpb(this.group, 'DDEATH', this.node, device), Buffer.from(encodePayload({ timestamp: Date.now(), seq: this.next(), metrics: [] })), { qos: 1 });
  }

  async ndeath(bdSeq = this.bdSeq): Promise<void> {
    await this.client.publishAsync(nodeTopic(this.group, 'NDEATH', this.node), this.death(bdSeq), { qos: 1 });
  }
}
