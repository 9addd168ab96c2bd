/** Stopping the benchmarks' child processes: SIGTERM first (services exit cleanly and write their --cpu-prof profiles), SIGKILL after graceMs. */
import type { ChildProcess } from 'node:child_process';

export function stopChildren(children: readonly ChildProcess[], graceMs = 5000): Promise<void> {
  return Promise.all(children.map((c) => new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r();
    const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
    c.once('exit', () => { clearTimeout(t); r(); });
    c.kill('SIGTERM');
  }))).then(() => {});
}
