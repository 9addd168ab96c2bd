/**
 * Runs the platform's services as child processes and keeps them running: a service that
 * exits unexpectedly is started again after a backoff that doubles while it keeps failing
 * quickly (1 s, 2 s, 4 s … up to `backoffMaxMs`) and resets once it has run for `stableMs`;
 * the others keep running. `stop()` ends them in reverse start order (SIGTERM, SIGKILL after
 * `stopTimeoutMs`).
 *
 * No child outlives the supervisor: each is started through `setpriv --pdeathsig SIGTERM`
 * (util-linux), so the kernel sends it SIGTERM when the supervisor dies, even by `kill -9`.
 * Each child runs in its own process group, so a terminal's Ctrl-C reaches only the supervisor,
 * which then stops them in order. The pid of each running child is in `pidDir/NAME.pid`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ServiceSpec {
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** An HTTP URL that answers 2xx once the service is ready. */
  healthUrl?: string;
  healthTimeoutMs?: number;
}

export interface SupervisorOptions {
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** A run at least this long counts as healthy: the backoff starts again from its minimum. */
  stableMs?: number;
  stopTimeoutMs?: number;
  pidDir?: string;
  /** Restarts and crash loops, as lines for a person. */
  onEvent?: (line: string) => void;
}

export interface ServiceState {
  name: string;
  pid: number | undefined;
  state: 'starting' | 'running' | 'waiting' | 'stopped';
  restarts: number;
  /** Quick failures in a row (a crash loop when it grows). */
  failures: number;
  lastExit?: string;
}

interface Entry extends ServiceState { spec: ServiceSpec; proc?: ChildProcess; startedAt: number; timer?: NodeJS.Timeout }

let setprivOk: boolean | undefined;
/** True when util-linux's setpriv can set a parent-death signal here. */
export function hasPdeathsig(): boolean {
  setprivOk ??= process.platform === 'linux' && spawnSync('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'true']).status === 0;
  return setprivOk;
}

export async function waitHttp(url: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`exited before ${url} answered`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`did not answer ${url} within ${timeoutMs / 1000} s`);
}

export class Supervisor {
  private readonly entries: Entry[] = [];
  private stopping = false;
  private readonly o: Required<Omit<SupervisorOptions, 'pidDir'>> & { pidDir?: string };

  constructor(opts: SupervisorOptions = {}) {
    this.o = { backoffMinMs: 1000, backoffMaxMs: 30_000, stableMs: 60_000, stopTimeoutMs: 10_000, onEvent: () => {}, ...opts };
    if (this.o.pidDir) mkdirSync(this.o.pidDir, { recursive: true });
  }

  /** Starts a service and waits until it is ready (its health URL answers). Throws if it does not come up. */
  async start(spec: ServiceSpec): Promise<void> {
    const e: Entry = { spec, name: spec.name, pid: undefined, state: 'starting', restarts: 0, failures: 0, startedAt: 0 };
    this.entries.push(e);
    this.spawn(e);
    if (spec.healthUrl) {
      try {
        await waitHttp(spec.healthUrl, spec.healthTimeoutMs ?? 30_000, () => e.proc?.exitCode === null && e.proc.signalCode === null);
      } catch (err) {
        throw new Error(`${spec.name} ${(err as Error).message}; see ${spec.logFile}`);
      }
    }
    e.state = 'running';
  }

  status(): ServiceState[] {
    return this.entries.map(({ name, pid, state, restarts, failures, lastExit }) => ({ name, pid, state, restarts, failures, lastExit }));
  }

  private spawn(e: Entry): void {
    const { spec } = e;
    const log = openSync(spec.logFile, 'a');
    const [command, args] = hasPdeathsig()
      ? ['setpriv', ['--pdeathsig', 'SIGTERM', '--', spec.command, ...spec.args]]
      : [spec.command, [...spec.args]];
    const proc = spawn(command, args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    e.proc = proc;
    e.pid = proc.pid;
    e.startedAt = Date.now();
    if (this.o.pidDir && proc.pid) writeFileSync(join(this.o.pidDir, `${spec.name}.pid`), `${proc.pid}\n`);
    proc.once('exit', (code, signal) => this.exited(e, proc, code, signal));
  }

  private exited(e: Entry, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (e.proc !== proc) return;
    e.proc = undefined;
    e.pid = undefined;
    e.lastExit = signal ?? `code ${code}`;
    if (this.o.pidDir) rmSync(join(this.o.pidDir, `${e.name}.pid`), { force: true });
    if (this.stopping) {
      e.state = 'stopped';
      return;
    }
    const ranMs = Date.now() - e.startedAt;
    e.failures = ranMs >= this.o.stableMs ? 1 : e.failures + 1;
    const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** (e.failures - 1));
    e.state = 'waiting';
    const loop = e.failures >= 3 ? ` — crash loop: ${e.failures} quick exits in a row, slowed down` : '';
    this.o.onEvent(`${e.name} exited (${e.lastExit}) after ${(ranMs / 1000).toFixed(1)} s; restarting in ${(delay / 1000).toFixed(0)} s${loop}; see ${e.spec.logFile}`);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      if (this.stopping) return;
      e.restarts++;
      e.state = 'running';
      this.spawn(e);
    }, delay);
  }

  /** Stops every service in reverse start order; `onStopped` hears each name. */
  async stop(onStopped: (name: string) => void = () => {}): Promise<void> {
    this.stopping = true;
    for (const e of [...this.entries].reverse()) {
      if (e.timer) clearTimeout(e.timer);
      const proc = e.proc;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), this.o.stopTimeoutMs);
        await gone;
        clearTimeout(t);
      }
      e.state = 'stopped';
      onStopped(e.name);
    }
  }

  /** Last resort when the supervisor itself is exiting: SIGKILL whatever still runs. */
  killAll(): void {
    for (const e of this.entries) if (e.proc && e.proc.exitCode === null) e.proc.kill('SIGKILL');
  }
}
