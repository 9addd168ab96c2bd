/**
 * Runs one device: connect, then for each reporting slot sample the physics, apply faults and
 * publish, counting into the device's summary. Live mode waits for each slot's time; backfill
 * runs through its range as fast as the in-flight window allows.
 */
import { DEFAULT_LIMITS, type Reading } from '../core/contract.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { DeviceModel } from '../core/model.ts';
import { DeviceLink, sleep } from './device-link.ts';
import type { DeviceState, ResolvedFleet } from './fleet-options.ts';
import { phaseMs, DeviceStream } from './stream.ts';
import { addRefused, type DeviceSummary } from './summary.ts';

export interface DeviceRun {
  readonly device: DeviceModel;
  readonly summary: DeviceSummary;
  state: DeviceState;
  /** Backfill progress: slot time reached. */
  reachedMs: number;
}

/** Room left in a payload for the batch wrapper. */
const WRAPPER_BYTES = 32;

export async function runDevice(f: ResolvedFleet, run: DeviceRun, signal: AbortSignal): Promise<void> {
  const { device, summary: s } = run;
  const intervalMs = f.intervalOf(device);
  const stream = new DeviceStream(device, {
    seed: f.seed, originMs: f.originMs, firstMs: f.originMs + phaseMs(f.seed, device.id, intervalMs),
    intervalMs, faults: f.faults, model: f.model, tickMs: f.tickMs,
  });
  const error = (e: unknown): void => {
    s.errors++;
    s.lastError = e instanceof Error ? e.message : String(e);
  };

  let link: DeviceLink;
  try {
    link = await DeviceLink.open({
      url: f.url, device, password: f.secrets[device.id] ?? '', connectTimeoutMs: f.connectTimeoutMs,
      reconnectPeriodMs: f.reconnectPeriodMs, keepaliveS: f.keepaliveS,
    });
  } catch (e) {
    error(e);
    run.state = 'failed';
    return;
  }
  run.state = 'online';
  link.on('online', () => (run.state = 'online'));
  link.on('offline', () => (run.state = 'offline'));

  let parts: string[] = [];
  let partsReadings: Reading[] = [];
  let bytes = 0;

  const publishReadings = async (): Promise<void> => {
    if (parts.length === 0) return;
    const payload = f.batch > 1 ? `{"readings":[${parts.join(',')}]}` : (parts[0] as string);
    const rs = partsReadings;
    parts = [];
    partsReadings = [];
    bytes = 0;
    await link.capacity(f.maxInflight);
    s.readings.published += rs.length;
    s.messages.published++;
    for (const r of rs) {
      s.firstTs = Math.min(s.firstTs ?? Infinity, r.ts);
      s.lastTs = Math.max(s.lastTs ?? -Infinity, r.ts);
      s.seqFirst ??= r.seq;
      s.seqLast = r.seq;
    }
    link.publish(payload, (err) => {
      if (err) return error(err);
      s.readings.acked += rs.length;
      s.messages.acked++;
      s.expectedStored += rs.length;
    });
  };

  /** A message ingest will refuse: sent alone, so it cannot take good readings down with it. */
  const publishRefused = async (payload: string, code: ErrorCode, count: { published: number; acked: number }): Promise<void> => {
    await publishReadings();
    await link.capacity(f.maxInflight);
    count.published++;
    link.publish(payload, (err) => {
      if (err) return error(err);
      count.acked++;
      addRefused(s, code);
    });
  };

  const live = f.mode === 'live';
  while (!signal.aborted) {
    if (f.readings !== undefined && stream.nextSeq >= f.readings) break;
    const ts = stream.nextTs;
    if (ts >= f.endMs) break;
    if (live) {
      await sleep(ts - Date.now(), signal);
      if (signal.aborted) break;
    }
    const slot = stream.next(Date.now());
    run.reachedMs = slot.ts;
    s.slots++;
    if (slot.type === 'dropped') {
      s.silentSlots++;
      if (slot.dropoutStart) {
        s.dropouts++;
        if (slot.disconnect) {
          await publishReadings();
          s.disconnects++;
          // Live: away for the dropout; backfill: simulated time is not wall time, come back soon.
          link.dropConnection(live ? slot.untilMs - Date.now() : 0);
        }
      }
      continue;
    }
    if (slot.type === 'malformed') {
      s.malformed.byType[slot.malformed] = (s.malformed.byType[slot.malformed] ?? 0) + 1;
      await publishRefused(slot.payload, slot.code, s.malformed);
      continue;
    }
    if (slot.skewed) s.skewed++;
    if (slot.spiked) s.spikes++;
    if (slot.stuck) s.stuck++;
    const json = JSON.stringify(slot.reading);
    if (slot.refusal) {
      await publishRefused(json, slot.refusal, s.outOfRange);
      continue;
    }
    if (bytes + json.length + 1 > DEFAULT_LIMITS.maxPayloadBytes - WRAPPER_BYTES) await publishReadings();
    parts.push(json);
    partsReadings.push(slot.reading);
    bytes += json.length + 1;
    if (parts.length >= f.batch) await publishReadings();
  }
  await publishReadings();
  await link.close(f.drainTimeoutMs);
  s.status.published = link.statusPublished;
  s.status.acked = link.statusAcked;
  run.state = 'done';
}
