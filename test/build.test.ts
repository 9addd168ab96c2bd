/**
 * `npm run build` (scripts/build.sh) emits JavaScript that plain `node` runs, without tsx (issue 11):
 * the broker started from the build provisions its credentials and answers /health.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/influxd.ts';

const out = resolve('data/build-test');
const tmp = mkdtempSync(join(tmpdir(), 'sp-build-'));
let broker: ChildProcess | undefined;

afterAll(() => {
  broker?.kill('SIGKILL');
  rmSync(out, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

describe('npm run build', () => {
  it('emits JavaScript that node runs without tsx', async () => {
    execFileSync('bash', ['scripts/build.sh', out], { stdio: 'pipe' });
    for (const svc of ['broker', 'ingest', 'api', 'gateway']) expect(existsSync(join(out, svc, 'main.js')), svc).toBe(true);
    expect(existsSync(join(out, 'config', 'park.yaml'))).toBe(true);
    // the console bundle beside the built API (api/console/bundle.ts looks for dist/console/dist)
    for (const f of ['index.html', 'app.js', 'app.js.br']) expect(existsSync(join(out, 'console', 'dist', f)), f).toBe(true);
    const env: NodeJS.ProcessEnv = { ...process.env, MQTT_CREDENTIALS_FILE: join(tmp, 'store.json'), SECRETS_FILE: join(tmp, 'secrets.json') };
    delete env.NODE_OPTIONS; // vitest's own loaders must not help the build run
    execFileSync(process.execPath, [join(out, 'broker', 'provision.js')], { env, stdio: 'pipe' });
    const httpPort = await freePort();
    broker = spawn(process.execPath, [join(out, 'broker', 'main.js')], {
      env: { ...env, MQTT_PORT: String(await freePort()), MQTT_WS_PORT: '-1', BROKER_HTTP_PORT: String(httpPort) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    broker.stderr!.on('data', (d) => { stderr += d; });
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline && broker.exitCode === null) {
      status = await fetch(`http://127.0.0.1:${httpPort}/health`).then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status, stderr).toBe(200);
  }, 90_000);
});
