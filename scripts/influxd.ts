/**
 * Starts Debian's `influxd` (InfluxDB 1.x) as a child process on free loopback ports with its
 * data in a given folder, for the test harness and for `npm run up` when INFLUX_URL is not set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface RunningInfluxd {
  url: string;
  port: number;
  dataDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface InfluxdOptions {
  dataDir: string;
  /** HTTP port; a free one when omitted. */
  port?: number;
  binary?: string;
  startTimeoutMs?: number;
  /** Own process group, so a Ctrl-C meant for the parent does not stop it first. */
  detached?: boolean;
}

export async function startInfluxd(opts: InfluxdOptions): Promise<RunningInfluxd> {
  const port = opts.port ?? (await freePort());
  const rpcPort = await freePort();
  mkdirSync(opts.dataDir, { recursive: true });
  const d = (s: string) => JSON.stringify(join(opts.dataDir, s));
  const conf = [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpcPort}"`,
    '[meta]', `  dir = ${d('meta')}`,
    '[data]', `  dir = ${d('data')}`, `  wal-dir = ${d('wal')}`, '  query-log-enabled = false',
    '[monitor]', '  store-enabled = false',
    '[subscriber]', '  enabled = false',
    '[continuous_queries]', '  log-enabled = false',
    '[http]', `  bind-address = "127.0.0.1:${port}"`, '  log-enabled = false', '  max-body-size = 0',
  ].join('\n');
  const confFile = join(opts.dataDir, 'influxd.conf');
  writeFileSync(confFile, `${conf}\n`);
  const log = openSync(join(opts.dataDir, 'influxd.log'), 'a');
  const proc = spawn(opts.binary ?? 'influxd', ['-config', confFile], { stdio: ['ignore', log, log], detached: opts.detached ?? false });
  let exited = false;
  proc.once('exit', () => { exited = true; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`influxd exited at start-up; see ${join(opts.dataDir, 'influxd.log')}`);
    try {
      const r = await fetch(`${url}/ping`);
      if (r.status === 204) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`influxd did not answer /ping on ${url} within ${opts.startTimeoutMs ?? 30_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, port, dataDir: opts.dataDir, process: proc,
    stop: () => new Promise<void>((resolve) => {
      if (exited) return resolve();
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      proc.once('exit', () => { clearTimeout(t); resolve(); });
      proc.kill('SIGTERM');
    }),
  };
}
