/**
 * Gateway test helpers: the gateway as a child process from its real entry file (so a test can
 * `kill -9` it and start it again on the same buffer), and a foreign Modbus server (Debian's
 * pymodbus, test/harness/pymodbus-server.py) with a log of the reads it served.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../scripts/influxd.ts';
import { ROOT, waitFor, type TestPlatform } from './platform.ts';

export const PYTHON = '/usr/bin/python3';
let serial = 0;

export interface GatewayChildOptions {
  id: string;
  /** config/gateway.yaml's content (profiles and gateways). */
  config: unknown;
  env?: Record<string, string>;
  /** Broker URL; default the platform's (give a relay's to cut the gateway off). */
  mqttUrl?: string;
}

export class GatewayChild {
  readonly dir: string;
  readonly bufferDir: string;
  httpPort = 0;
  child: ChildProcess | undefined;

  constructor(private readonly p: TestPlatform, private readonly o: GatewayChildOptions) {
    this.dir = join(p.dir, `gw-${++serial}`);
    this.bufferDir = join(this.dir, 'buffer');
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, 'gateway.yaml'), stringify(o.config));
  }

  get log(): string {
    return join(this.dir, 'gateway.log');
  }

  /** Starts the gateway (again after a kill, same buffer and port) and waits until it answers /stats. */
  async start(extraEnv: Record<string, string> = {}): Promise<this> {
    this.httpPort ||= await freePort();
    const env = {
      PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', GATEWAY_ID: this.o.id, GATEWAY_CONFIG: join(this.dir, 'gateway.yaml'),
      MQTT_URL: this.o.mqttUrl ?? this.p.mqttUrl, GATEWAY_MQTT_PASSWORD: this.p.secrets[this.o.id] ?? '',
      GATEWAY_BUFFER_DIR: this.bufferDir, GATEWAY_HTTP_PORT: String(this.httpPort), GATEWAY_MQTT_RECONNECT_MS: '300',
      ...(process.env.PARK_MODEL ? { PARK_MODEL: process.env.PARK_MODEL } : {}),
      ...this.o.env, ...extraEnv,
    };
    const log = openSync(this.log, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], { cwd: ROOT, env, stdio: ['ignore', log, log] });
    this.child = child;
    await waitFor('gateway to answer', async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${readFileSync(this.log, 'utf8').slice(-2000)}`);
      return (await this.stats()) !== undefined;
    });
    return this;
  }

  async stats(): Promise<Record<string, any> | undefined> {
    try {
      return (await (await fetch(`http://127.0.0.1:${this.httpPort}/stats`)).json()) as Record<string, any>;
    } catch {
      return undefined;
    }
  }

  async stat(key: string): Promise<number> {
    return Number((await this.stats())?.[key] ?? 0);
  }

  /** The status the gateway last published for a device. */
  async status(device: string): Promise<{ state: string; info?: string } | undefined> {
    return (await this.stats())?.devices?.[device] ?? undefined;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
    this.child = undefined;
  }
}

/** Debian's pymodbus serving a spec (see pymodbus-server.py); `reads()` lists what it served. */
export class PyModbus {
  port = 0;
  private child: ChildProcess | undefined;
  private readonly logFile: string;
  private readonly specFile: string;

  /** port 0: a free one. */
  constructor(dir: string, readonly framer: 'socket' | 'rtu', spec: unknown, port = 0) {
    this.port = port;
    const n = ++serial;
    this.logFile = join(dir, `pymodbus-${n}.log`);
    this.specFile = join(dir, `pymodbus-${n}.json`);
    writeFileSync(this.specFile, JSON.stringify(spec));
  }

  async start(): Promise<this> {
    this.port ||= await freePort();
    const child = spawn(PYTHON, [join(ROOT, 'test/harness/pymodbus-server.py'), String(this.port), this.framer, this.specFile, this.logFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    await waitFor('pymodbus to listen', () => {
      if (child.exitCode !== null) throw new Error(`pymodbus exited with ${child.exitCode}: ${out}`);
      return out.includes('ready');
    }, 20_000);
    return this;
  }

  /** Reads served so far: unit, function code, address, count. */
  reads(): { unit: number; fc: number; address: number; count: number }[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
      const [unit, fc, address, count] = l.split(' ').map(Number) as [number, number, number, number];
      return { unit, fc, address, count };
    });
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await gone;
  }
}

/** A connection entry of the gateway config, test defaults over the config's. */
export function connection(id: string, protocol: string, port: number, devices: unknown[], extra: Record<string, unknown> = {}) {
  return { id, protocol, host: '127.0.0.1', port, timeoutMs: 300, retries: 1, backoff: { baseMs: 200, maxMs: 1000 }, devices, ...extra };
}
