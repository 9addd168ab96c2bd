/**
 * docker-compose.yml cannot run here (no Docker engine), so this keeps it honest against the
 * code: every variable it sets is one a service reads, every entry file exists, and the
 * provisioning it mounts is there.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, string>; command?: string | string[]; volumes?: string[] }> };

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
const readsVar = (name: string) => code.includes(`'${name}'`) || code.includes(`env.${name}`) || code.includes(`"${name}"`)
  // NAME_FILE is read through secretFromEnv(env, 'NAME', ...)
  || (name.endsWith('_FILE') && code.includes(`secretFromEnv(env, '${name.slice(0, -5)}'`));

describe('docker-compose.yml', () => {
  const platform = ['broker', 'ingest', 'api', 'simulators', 'provision'];
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
      const files = (text.match(/dist\/[a-z]+\/[a-z-]+\.js/g) ?? []).map((f) => f.slice('dist/'.length).replace(/\.js$/, '.ts'));
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
});
