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

export interface InfluxdCommand { command: string; args: string[]; port: number; url: string; logFile: string }

/** Writes the configuration of an influxd for `opts` and returns how to start it. */
export async function influxdCommand(opts: InfluxdOptions & { logFile?: string }): Promise<InfluxdCommand> {
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
  return {
    command: opts.binary ?? 'influxd', args: ['-config', confFile], port, url: `http://127.0.0.1:${port}`,
    logFile: opts.logFile ?? join(opts.dataDir, 'influxd.log'),
  };
}

export async function startInfluxd(opts: InfluxdOptions): Promise<RunningInfluxd> {
  const { command, args, port, url, logFile } = await influxdCommand(opts);
  const log = openSync(logFile, 'a');
  const proc = spawn(command, args, { stdio: ['ignore', log, log], detached: opts.detached ?? false });
  let exited = false;
  proc.once('exit', () => { exited = true; });
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`influxd exited at start-up; see ${logFile}`);
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
