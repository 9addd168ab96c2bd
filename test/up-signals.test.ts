/**
 * `npm run up` as a process manager would run it: SIGTERM or SIGINT to the npm process stops
 * everything in order; `kill -9` of the up script itself leaves no child behind (each one has a
 * parent-death signal); a service killed with `kill -9` is restarted with a growing backoff
 * while the others keep running, and the progress line says so with the services' own figures.
 * Afterwards no process of the platform is left and its ports are free.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ROOT, upEnv, waitFor } from './harness/platform.ts';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** Pids of every process whose environment names this platform's data folder. */
function platformPids(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(`DATA_DIR=${dir}`)) out.push(Number(name));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

const portFree = (port: number) => new Promise<boolean>((r) => {
  const s = createServer().once('error', () => r(false)).listen(port, '127.0.0.1', () => s.close(() => r(true)));
});

interface Up { dir: string; npm: ChildProcess; out: () => string; ports: Record<string, number>; pid(name: string): number }

async function up(opts: { ownInfluxd?: boolean } = {}): Promise<Up> {
  const dir = mkdtempSync(join(tmpdir(), 'sp-sig-'));
  dirs.push(dir);
  const { ports, env } = await upEnv(dir);
  if (opts.ownInfluxd) delete env.INFLUX_URL;
  else env.INFLUX_URL = inject('influxUrl');
  let out = '';
  // the way a person or a process manager starts it: through npm
  const npm = spawn('npm', ['run', 'up', '--', '--no-simulators', '--progress-ms', '500'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  npm.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  npm.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  await waitFor('the platform to be up', () => out.includes('Ctrl-C stops everything') || npm.exitCode !== null, 60_000, 100);
  if (!out.includes('Ctrl-C stops everything')) {
    // say why: the tail of every service's log (the directory is removed after the run)
    const logs = join(dir, 'logs');
    let tails = '';
    try { for (const f of readdirSync(logs)) tails += `\n--- ${f}\n${readFileSync(join(logs, f), 'utf8').split('\n').slice(-15).join('\n')}`; } catch { /* no logs */ }
    expect.fail(`the platform did not come up:\n${out}${tails}`);
  }
  return { dir, npm, out: () => out, ports, pid: (name) => Number(readFileSync(join(dir, 'run', `${name}.pid`), 'utf8')) };
}

async function expectAllGone(u: Up): Promise<void> {
  await waitFor('no process of the platform left', () => platformPids(u.dir).length === 0, 20_000, 100);
  for (const [name, port] of Object.entries(u.ports)) expect(await portFree(port), `${name} ${port} free`).toBe(true);
}

const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

describe('npm run up under signals', () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig} to the npm process stops every service in order and leaves nothing running`, async () => {
      const u = await up();
      const services = ['broker', 'ingest', 'api'].map((n) => u.pid(n));
      expect(services.every((p) => platformPids(u.dir).includes(p))).toBe(true);
      u.npm.kill(sig);
      await exited(u.npm);
      await expectAllGone(u);
      const o = u.out();
      expect(o).toContain(`stopping (${sig})`);
      // reverse start order: api, ingest, broker
      expect(o.indexOf('api stopped')).toBeGreaterThan(-1);
      expect(o.indexOf('api stopped')).toBeLessThan(o.indexOf('ingest stopped'));
      expect(o.indexOf('ingest stopped')).toBeLessThan(o.indexOf('broker stopped'));
    }, 90_000);
  }

  it('kill -9 of npm: the script notices its parent is gone and stops everything in order', async () => {
    const u = await up();
    u.npm.kill('SIGKILL');
    await expectAllGone(u);
    const log = u.out(); // the pipe outlives npm: the script's own children still write to it
    expect(log).toMatch(/stopping \(parent process \d+ is gone\)/);
  }, 90_000);

  it('kill -9 of the up script itself: its children (influxd included) do not outlive it', async () => {
    const u = await up({ ownInfluxd: true });
    const influxd = u.pid('influxd');
    expect(platformPids(u.dir)).toContain(influxd);
    process.kill(u.pid('up'), 'SIGKILL');
    await expectAllGone(u);
    u.npm.kill('SIGKILL');
  }, 90_000);
});

describe('npm run up supervises', () => {
  it('restarts a service killed with kill -9 (with a growing backoff), the others keep running, the progress line says so', async () => {
    const u = await up();
    try {
      const [broker, api] = [u.pid('broker'), u.pid('api')];
      const ingestHealth = `http://127.0.0.1:${u.ports.INGEST_HTTP_PORT}/health`;
      const healthy = async () => (await fetch(ingestHealth).catch(() => undefined))?.ok === true;
      const pids: number[] = [];
      for (let i = 1; i <= 3; i++) {
        const before = u.pid('ingest');
        pids.push(before);
        process.kill(before, 'SIGKILL');
        await waitFor(`ingest restarted (${i})`, async () => {
          try { return u.pid('ingest') !== before && await healthy(); } catch { return false; }
        }, 30_000, 100);
      }
      const o = u.out();
      const delays = [...o.matchAll(/ingest exited \(SIGKILL\) after [\d.]+ s; restarting in (\d+) s/g)].map((m) => Number(m[1]));
      expect(delays).toEqual([1, 2, 4]);
      expect(o).toMatch(/ingest exited \(SIGKILL\).*crash loop: 3 quick exits in a row/);
      expect(u.pid('broker')).toBe(broker);
      expect(u.pid('api')).toBe(api);
      expect(new Set(pids).size).toBe(3);
      await waitFor('progress line with the restart', () => /restarts: ingest 3/.test(u.out()), 5000, 100);

      // the progress line's figures are the services' own: publish nothing more and compare with /stats
      const stats = (await (await fetch(`http://127.0.0.1:${u.ports.INGEST_HTTP_PORT}/stats`)).json()) as Record<string, number>;
      const broker2 = (await (await fetch(`http://127.0.0.1:${u.ports.BROKER_HTTP_PORT}/stats`)).json()) as Record<string, number>;
      const mark = u.out().length;
      await waitFor('a fresh progress line', () => /\n\d\d:\d\d:\d\d {2}clients/.test(u.out().slice(mark)), 5000, 50);
      const line = u.out().slice(mark).match(/clients (\d+) {2}points written (\d+) \(\d+\/s\) {2}refused (\d+) {2}spool (\d+) B/)!;
      expect(Number(line[1])).toBe(broker2.mqtt_clients_connected);
      expect(Number(line[2])).toBe(stats.ingest_points_written_total ?? 0);
      expect(Number(line[4])).toBe(stats.ingest_spool_pending_bytes);
    } finally {
      u.npm.kill('SIGTERM');
      await exited(u.npm);
    }
    await expectAllGone(u);
  }, 120_000);
});
