/**
 * The fleet runner: one MQTT connection per simulated device, all devices concurrently, a
 * progress callback every few seconds and a summary at the end. Library code: it logs nothing.
 *
 *   const summary = await runFleet({ model, secrets, select: { kinds: ['cold_room'] }, readings: 10 });
 */
import { setMaxListeners } from 'node:events';
import { hasModel } from './models/index.ts';
import { runDevice, type DeviceRun } from './device-runner.ts';
import { resolveFleetOptions, type DeviceState, type FleetOptions, type FleetProgress } from './fleet-options.ts';
import { emptyDeviceSummary, totals, type FleetSummary } from './summary.ts';

export type { FleetOptions, FleetProgress } from './fleet-options.ts';
export type { DeviceSummary, FleetSummary } from './summary.ts';

export async function runFleet(options: FleetOptions): Promise<FleetSummary> {
  const f = resolveFleetOptions(options);
  const started = Date.now();
  // One internal controller: the caller's signal stops the run; so does an unexpected error.
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // every device waits on it
  const onAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();

  const runs: DeviceRun[] = f.devices.map((d) => ({
    device: d, summary: emptyDeviceSummary(d.id, d.kind.id, hasModel(d.kind.id)), state: 'connecting', reachedMs: f.originMs,
  }));

  let lastAcked = 0;
  let lastAt = started;
  const progress = (): FleetProgress => {
    const states: Record<DeviceState, number> = { connecting: 0, online: 0, offline: 0, done: 0, failed: 0 };
    for (const r of runs) states[r.state]++;
    const t = totals(runs.map((r) => r.summary));
    const now = Date.now();
    const p: FleetProgress = {
      elapsedMs: now - started, states,
      readingsPublished: t.readings.published, readingsAcked: t.readings.acked, messagesAcked: t.messages.acked,
      messagesPerS: now > lastAt ? ((t.messages.acked - lastAcked) * 1000) / (now - lastAt) : 0,
      malformed: t.malformed.published, errors: t.errors,
    };
    if (f.mode === 'backfill') {
      const span = f.endMs - f.originMs;
      p.done = runs.reduce((a, r) => a + Math.min(1, (r.reachedMs - f.originMs) / span), 0) / runs.length;
    }
    lastAcked = t.messages.acked;
    lastAt = now;
    return p;
  };
  const timer = options.onProgress ? setInterval(() => options.onProgress?.(progress()), f.progressIntervalMs) : undefined;

  try {
    await Promise.all(runs.map(async (r) => {
      try {
        await runDevice(f, r, stop.signal);
      } catch (e) {
        r.summary.errors++;
        r.summary.lastError = e instanceof Error ? e.message : String(e);
        r.state = 'failed';
      }
    }));
  } finally {
    if (timer) clearInterval(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
  const ended = Date.now();
  const devices = runs.map((r) => r.summary);
  return {
    seed: f.seed, mode: f.mode, url: f.url,
    startedAt: new Date(started).toISOString(), endedAt: new Date(ended).toISOString(), durationMs: ended - started,
    fromMs: f.originMs,
    toMs: Number.isFinite(f.endMs) ? f.endMs : Math.max(f.originMs, ...runs.map((r) => r.reachedMs + 1)),
    stoppedBy: options.signal?.aborted ? 'signal' : 'complete',
    devices,
    failedDevices: runs.filter((r) => r.state === 'failed').map((r) => r.device.id),
    totals: totals(devices),
  };
}
