/**
 * `npm run up -- --profile cluster`: the cluster profile's processes on this machine, under the same
 * supervisor as the rest (restarted when they exit): 3 nats-servers (JetStream, R3; data in
 * DATA/nats), 2 brokers (MQTT_JETSTREAM_URL), HAProxy on the MQTT port in front of them (leastconn
 * TCP) and 2 ingest workers. The API, gateways and simulators then connect through HAProxy.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PlatformError } from '../core/errors.ts';
import type { Supervisor } from '../scripts/supervisor.ts';
import { freePort } from '../scripts/influxd.ts';
import { waitForReplicatedStream } from './nats-cluster.ts';

export interface ClusterProfileOptions {
  supervisor: Supervisor;
  root: string;
  data: string;
  logs: string;
  /** The services' environment (InfluxDB, credentials, MQTT_URL = HAProxy). */
  env: NodeJS.ProcessEnv;
  /** HAProxy listens here (the platform's MQTT port). */
  mqttPort: number;
  brokers?: number;
  workers?: number;
}

export interface ClusterProfile {
  natsUrls: string;
  brokerHttp: number[];
  workerHttp: number[];
  lines: string[];
}

function need(bin: string): void {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) {
    throw new PlatformError('SP_ERR_CONFIG', `--profile cluster needs ${bin} on the PATH: expected it installed (Debian: apt-get install nats-server haproxy)`);
  }
}

export async function startClusterProfile(o: ClusterProfileOptions): Promise<ClusterProfile> {
  need('nats-server');
  need('haproxy');
  const run = join(o.data, 'run');
  mkdirSync(run, { recursive: true });
  const nodes = [];
  for (let i = 0; i < 3; i++) nodes.push({ name: `nats-${i}`, port: await freePort(), cluster: await freePort(), monitor: await freePort() });
  for (const n of nodes) {
    const conf = join(run, `${n.name}.conf`);
    writeFileSync(conf, [
      `server_name: ${n.name}`, `listen: 127.0.0.1:${n.port}`, `http: 127.0.0.1:${n.monitor}`,
      `jetstream { store_dir: "${join(o.data, 'nats', n.name)}" }`,
      `cluster { name: sp-cluster, listen: 127.0.0.1:${n.cluster}, routes: [${nodes.filter((m) => m !== n).map((m) => `nats-route://127.0.0.1:${m.cluster}`).join(', ')}] }`, '',
    ].join('\n'));
    await o.supervisor.start({ name: n.name, command: 'nats-server', args: ['-c', conf], logFile: join(o.logs, `${n.name}.log`), healthUrl: `http://127.0.0.1:${n.monitor}/varz` });
  }
  const natsUrls = nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(',');
  await waitForReplicatedStream(natsUrls, 3, 60_000);

  const brokerPorts: { mqtt: number; http: number }[] = [];
  for (let i = 0; i < (o.brokers ?? 2); i++) {
    const p = { mqtt: await freePort(), http: await freePort() };
    brokerPorts.push(p);
    await o.supervisor.start({
      name: `broker-${i + 1}`, command: process.execPath, args: ['--import', 'tsx', 'broker/main.ts'], cwd: o.root, logFile: join(o.logs, `broker-${i + 1}.log`),
      env: { ...o.env, MQTT_PORT: String(p.mqtt), MQTT_WS_PORT: '-1', BROKER_HTTP_PORT: String(p.http), MQTT_JETSTREAM_URL: natsUrls },
      healthUrl: `http://127.0.0.1:${p.http}/health`,
    });
  }
  const cfg = join(run, 'haproxy.cfg');
  writeFileSync(cfg, [
    // maxconn: HAProxy needs 2 descriptors a connection, so 8,000 fits a 20,000 open-files limit (raise both for more devices)
    'global', '  maxconn 8000', 'defaults', '  mode tcp', '  timeout connect 2s', '  timeout client 120s', '  timeout server 120s', '  retries 3', '  option redispatch',
    'frontend mqtt', `  bind 127.0.0.1:${o.mqttPort}`, '  default_backend brokers', 'backend brokers', '  balance leastconn',
    ...brokerPorts.map((p, i) => `  server broker-${i + 1} 127.0.0.1:${p.mqtt} check inter 1s fall 2 rise 2`), '',
  ].join('\n'));
  await o.supervisor.start({ name: 'haproxy', command: 'haproxy', args: ['-f', cfg, '-db'], logFile: join(o.logs, 'haproxy.log') });

  const workerHttp: number[] = [];
  for (let i = 0; i < (o.workers ?? 2); i++) {
    const http = await freePort();
    workerHttp.push(http);
    await o.supervisor.start({
      name: `ingest-w${i + 1}`, command: process.execPath, args: ['--import', 'tsx', 'ingest/main.ts'], cwd: o.root, logFile: join(o.logs, `ingest-w${i + 1}.log`),
      env: { ...o.env, MQTT_JETSTREAM_URL: natsUrls, INGEST_WORKER_ID: `w${i + 1}`, INGEST_HTTP_PORT: String(http), INGEST_SPOOL_DIR: join(o.data, 'spool', `ingest-w${i + 1}`) },
      healthUrl: `http://127.0.0.1:${http}/health`,
    });
  }
  return {
    natsUrls, brokerHttp: brokerPorts.map((p) => p.http), workerHttp,
    lines: [
      `  NATS JetStream (R3)  ${natsUrls}   monitoring ${nodes.map((n) => `http://127.0.0.1:${n.monitor}/jsz`).join(' ')}`,
      `  Brokers              ${brokerPorts.map((p) => `mqtt://127.0.0.1:${p.mqtt} (stats http://127.0.0.1:${p.http}/stats)`).join(', ')} behind HAProxy on ${o.mqttPort}`,
      `  Ingest workers       ${workerHttp.map((h) => `http://127.0.0.1:${h}/stats`).join(', ')}`,
    ],
  };
}
