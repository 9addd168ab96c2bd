/**
 * docker-compose.yml cannot run here (no Docker engine), so this keeps it honest against the
 * code: every variable it sets is one a service reads, every entry file exists, and the
 * provisioning it mounts is there.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { API_ENV } from '../api/env.ts';
import { BROKER_ENV } from '../broker/config.ts';
import { WORKER_ENV } from '../ingest/cluster/config.ts';
import { INGEST_ENV } from '../ingest/config.ts';
import { SPARKPLUG_ENV } from '../ingest/sparkplug/config.ts';
import { sparkplugDeviceIds, loadSparkplugConfig } from '../core/sparkplug/config.ts';
import { loadParkModel } from '../core/model-file.ts';

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, string>; command?: string | string[]; volumes?: string[]; healthcheck?: unknown; depends_on?: Record<string, { condition: string; required?: boolean }>; profiles?: string[]; networks?: Record<string, { aliases?: string[] }> }> };

function sources(dir: string): string {
  let text = '';
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) text += sources(p);
    else if (p.endsWith('.ts')) text += readFileSync(p, 'utf8');
  }
  return text;
}
const code = ['core', 'broker', 'ingest', 'api', 'simulators'].map(sources).join('\n');
const TABLES = [BROKER_ENV, INGEST_ENV, WORKER_ENV, SPARKPLUG_ENV, API_ENV] as const;
/** Declared in a service's env table (a secret also as NAME_FILE), or read directly (simulators, provisioning). */
const declared = (name: string) => TABLES.some((t) => name in t || (name.endsWith('_FILE') && (t as Record<string, { secret?: boolean }>)[name.slice(0, -5)]?.secret === true));
const readsVar = (name: string) => declared(name) || code.includes(`'${name}'`) || code.includes(`env.${name}`) || code.includes(`"${name}"`)
  // NAME_FILE is read through secretFromEnv(env, 'NAME', ...)
  || (name.endsWith('_FILE') && code.includes(`secretFromEnv(env, '${name.slice(0, -5)}'`));

describe('docker-compose.yml', () => {
  const platform = ['broker', 'ingest', 'api', 'simulators', 'provision', 'sparkplug-host', 'sparkplug-edge', 'broker-1', 'broker-2', 'ingest-1', 'ingest-2'];
  it('sets only environment variables that the services read', () => {
    for (const name of platform) {
      for (const key of Object.keys(compose.services[name]?.environment ?? {})) {
        expect(readsVar(key), `${name}: ${key}`).toBe(true);
      }
    }
  });

  it('starts entry files that exist', () => {
    for (const name of platform) {
      const cmd = compose.services[name]!.command;
      const text = Array.isArray(cmd) ? cmd.join(' ') : String(cmd);
      // The image runs the build (Dockerfile: npm run build): dist/<dir>/<file>.js is compiled from <dir>/<file>.ts.
      const files = (text.match(/dist\/(?:[a-z-]+\/)+[a-z-]+\.js/g) ?? []).map((f) => f.slice('dist/'.length).replace(/\.js$/, '.ts'));
      expect(files.length, name).toBeGreaterThan(0);
      for (const f of files) expect(existsSync(f), `${name}: ${f}`).toBe(true);
      expect(text, `${name} runs tsx in the image`).not.toContain('tsx');
    }
  });

  it('mounts Grafana provisioning that exists, with the datasource uid pinned', () => {
    for (const v of compose.services.grafana!.volumes!) {
      const src = v.split(':')[0]!;
      if (src.startsWith('./')) expect(existsSync(src), src).toBe(true);
    }
    const ds = parse(readFileSync('dashboards/provisioning/datasources/influxdb.yaml', 'utf8'));
    expect(ds.datasources[0]).toMatchObject({ type: 'influxdb', uid: 'smartpark-influxdb', jsonData: { dbName: 'smartpark', httpMode: 'POST' } });
    expect(compose.services.influxdb!.environment!.DOCKER_INFLUXDB_INIT_BUCKET).toBe(ds.datasources[0].jsonData.dbName);
  });

  it('keeps secrets out of the file', () => {
    const text = readFileSync('docker-compose.yml', 'utf8');
    for (const m of text.matchAll(/(TOKEN|PASSWORD)[A-Z_]*:\s*(\S+)/g)) {
      expect(m[2]!.startsWith('${') || m[2]!.startsWith('/secrets/'), m[0]).toBe(true);
    }
  });

  it('has a healthcheck on every long-running service, and waits for health, not for start', () => {
    for (const name of ['influxdb', 'broker', 'ingest', 'api', 'prometheus', 'sparkplug-host', 'nats-1', 'nats-2', 'nats-3', 'broker-1', 'broker-2', 'haproxy', 'ingest-1', 'ingest-2']) expect(compose.services[name]?.healthcheck, name).toBeDefined();
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
        expect(cond.condition, `${name} → ${dep}`).toBe(dep === 'provision' ? 'service_completed_successfully' : 'service_healthy');
      }
    }
  });

  it('has Prometheus scrape every service on the port and address it serves /metrics on', () => {
    const prom = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const targets = Object.fromEntries(prom.scrape_configs.map((j) => [j.job_name, j.static_configs[0]!.targets[0]!]));
    expect(targets).toMatchObject({
      broker: `broker:${BROKER_ENV.BROKER_HTTP_PORT.default}`,
      ingest: `ingest:${INGEST_ENV.INGEST_HTTP_PORT.default}`,
      api: `api:${API_ENV.API_METRICS_PORT.default}`,
    });
    expect(compose.services.broker!.environment!.BROKER_HOST).toBe('0.0.0.0');
    expect(compose.services.ingest!.environment!.INGEST_HTTP_HOST).toBe('0.0.0.0');
    expect(compose.services.api!.environment!.API_METRICS_HOST).toBe('0.0.0.0');
    expect(targets['sparkplug-host']).toBe(`sparkplug-host:${SPARKPLUG_ENV.SPARKPLUG_HTTP_PORT.default}`);
    expect(compose.services['sparkplug-host']!.environment!.SPARKPLUG_HTTP_HOST).toBe('0.0.0.0');
    expect(compose.services.prometheus!.volumes).toContain('./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    if (spawnSync('promtool', ['--version']).status === 0) {
      const r = spawnSync('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml'], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
      expect(r.status).toBe(0);
    }
  });

  it('runs the Sparkplug edge node and leaves the devices it carries out of the JSON simulators', () => {
    const cmd = compose.services.simulators!.command as string[];
    const without = cmd[cmd.indexOf('--without') + 1]!.split(',');
    const carried = [...sparkplugDeviceIds(loadSparkplugConfig(loadParkModel()))];
    expect(carried.length).toBeGreaterThan(0);
    expect(new Set(without)).toEqual(new Set(carried));
  });

  it('has two profiles: single (the default in .env.example) and cluster, each complete on its own', () => {
    const profileOf = (n: string) => compose.services[n]!.profiles ?? [];
    for (const n of ['broker', 'ingest', 'sparkplug-host', 'sparkplug-edge']) expect(profileOf(n), n).toEqual(['single']);
    for (const n of ['nats-1', 'nats-2', 'nats-3', 'broker-1', 'broker-2', 'haproxy', 'ingest-1', 'ingest-2']) expect(profileOf(n), n).toEqual(['cluster']);
    expect(readFileSync('.env.example', 'utf8')).toMatch(/^COMPOSE_PROFILES=single$/m);
    // a dependency on a service of one profile only is optional for a service that runs in both
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
        const mine = profileOf(name), theirs = profileOf(dep);
        const always = theirs.length === 0 || (mine.length > 0 && mine.every((p) => theirs.includes(p)));
        expect(always || cond.required === false, `${name} → ${dep} must be required: false`).toBe(true);
      }
    }
    // in the cluster profile HAProxy answers as "broker", so MQTT_URL is the same in both
    expect(compose.services.haproxy!.networks!.default!.aliases).toEqual(['broker']);
    expect(compose.services.api!.environment!.MQTT_URL).toBe('mqtt://broker:1883');
  });

  it('wires the cluster: brokers and workers on the three NATS servers, HAProxy over both brokers', () => {
    const nats = 'nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222';
    for (const n of ['broker-1', 'broker-2', 'ingest-1', 'ingest-2']) expect(compose.services[n]!.environment!.MQTT_JETSTREAM_URL, n).toBe(nats);
    expect(compose.services['ingest-1']!.environment!.INGEST_WORKER_ID).not.toBe(compose.services['ingest-2']!.environment!.INGEST_WORKER_ID);
    const cfg = readFileSync('deploy/haproxy/haproxy.cfg', 'utf8');
    expect([...cfg.matchAll(/^\s*server (\S+) (\S+):1883 /gm)].map((m) => m[2])).toEqual(['broker-1', 'broker-2']);
    expect(cfg).toMatch(/balance leastconn/);
    if (spawnSync('haproxy', ['-v']).status === 0) {
      const r = spawnSync('haproxy', ['-c', '-f', 'deploy/haproxy/haproxy.cfg'], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain('Configuration file is valid');
    }
  });
});
