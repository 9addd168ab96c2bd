/**
 * Starts 3 (or n) Debian `nats-server` processes clustered with JetStream (file storage under
 * `dataDir`, free loopback ports, full-mesh routes) and waits until a stream with replicas = n can
 * be created — i.e. the meta leader is elected and every peer is current. For tests and for
 * `npm run up -- --profile cluster`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { PlatformError } from '../core/errors.ts';
import { freePort } from '../scripts/influxd.ts';

export interface NatsNode { name: string; port: number; clusterPort: number; url: string; process: ChildProcess | null }
export interface RunningNatsCluster {
  nodes: NatsNode[];
  /** Comma-separated client URLs (the value for MQTT_JETSTREAM_URL). */
  urls: string;
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

function confText(node: NatsNode, all: NatsNode[], dataDir: string): string {
  const routes = all.filter((n) => n !== node).map((n) => `nats-route://127.0.0.1:${n.clusterPort}`);
  return [
    `server_name: ${node.name}`, `listen: 127.0.0.1:${node.port}`,
    `jetstream { store_dir: "${join(dataDir, node.name)}" }`,
    `cluster { name: sp-cluster, listen: 127.0.0.1:${node.clusterPort}, routes: [${routes.join(', ')}] }`, '',
  ].join('\n');
}

export async function startNatsCluster(opts: { dataDir: string; size?: number; bin?: string; readyTimeoutMs?: number }): Promise<RunningNatsCluster> {
  const size = opts.size ?? 3;
  const bin = opts.bin ?? 'nats-server';
  mkdirSync(opts.dataDir, { recursive: true });
  const nodes: NatsNode[] = [];
  for (let i = 0; i < size; i++) {
    const port = await freePort();
    const clusterPort = await freePort();
    nodes.push({ name: `nats-${i}`, port, clusterPort, url: `nats://127.0.0.1:${port}`, process: null });
  }
  const launch = (node: NatsNode) => {
    const conf = join(opts.dataDir, `${node.name}.conf`);
    writeFileSync(conf, confText(node, nodes, opts.dataDir));
    const log = openSync(join(opts.dataDir, `${node.name}.log`), 'a');
    node.process = spawn(bin, ['-c', conf], { stdio: ['ignore', log, log] });
  };
  nodes.forEach(launch);
  const urls = nodes.map((n) => n.url).join(',');
  await waitForReplicatedStream(urls, size, opts.readyTimeoutMs ?? 30_000);
  const kill = async (i: number, signal: NodeJS.Signals = 'SIGKILL') => {
    const p = nodes[i]!.process;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => { p.once('exit', () => r()); p.kill(signal); });
    nodes[i]!.process = null;
  };
  return {
    nodes, urls, kill,
    restart: async (i) => { await kill(i); launch(nodes[i]!); },
    stop: async () => { await Promise.all(nodes.map((_n, i) => kill(i, 'SIGTERM'))); },
  };
}

/** Creates and deletes a probe stream with `replicas` until it succeeds (cluster formed, JetStream meta leader elected). */
export async function waitForReplicatedStream(urls: string, replicas: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    let nc: NatsConnection | undefined;
    try {
      nc = await connect({ servers: urls.split(','), timeout: 2000 });
      const jsm = await nc.jetstreamManager({ timeout: 2000 });
      const name = `probe_${process.pid}_${Date.now()}`;
      await jsm.streams.add({ name, subjects: [`probe.${name}`], num_replicas: replicas });
      await jsm.streams.delete(name);
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    } finally {
      await nc?.close().catch(() => {});
    }
  }
  throw new PlatformError('SP_ERR_NATS_NOT_READY', `no R${replicas} stream could be created within ${timeoutMs} ms: ${String(last)}`);
}
