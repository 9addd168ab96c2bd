/**
 * What a fleet run did, per device and in total, counted so that a test can predict exactly
 * what ingest stores and what it refuses:
 *   expectedStored  = well-formed readings within the contract's time limits, acknowledged (PUBACK)
 *   expectedRefused = acknowledged messages ingest must refuse, by error code (malformed payloads,
 *                     and readings whose timestamp is beyond DEFAULT_LIMITS, each sent alone)
 */
import type { ErrorCode } from '../core/errors.ts';
import type { MalformedType } from './faults.ts';

export interface Count { published: number; acked: number }

export interface DeviceSummary {
  device: string;
  kind: string;
  /** False when the kind had no model and the generic simulator stood in. */
  modelled: boolean;
  /** Reporting slots processed (readings, malformed messages and silent slots). */
  slots: number;
  /** Well-formed readings within the time limits. */
  readings: Count;
  /** Telemetry messages carrying those readings (a batch is one message). */
  messages: Count;
  firstTs?: number;
  lastTs?: number;
  seqFirst?: number;
  seqLast?: number;
  /** Malformed messages (one reading slot each), by type. */
  malformed: Count & { byType: Partial<Record<MalformedType, number>> };
  /** Readings whose timestamp is beyond the contract's limits (each sent alone). */
  outOfRange: Count;
  /** Readings with a skewed clock, within or beyond the limits. */
  skewed: number;
  spikes: number;
  stuck: number;
  dropouts: number;
  silentSlots: number;
  disconnects: number;
  status: Count;
  errors: number;
  lastError?: string;
  expectedStored: number;
  expectedRefused: Partial<Record<ErrorCode, number>>;
}

export type Totals = Omit<DeviceSummary, 'device' | 'kind' | 'modelled' | 'firstTs' | 'lastTs' | 'seqFirst' | 'seqLast' | 'lastError'>;

export interface FleetSummary {
  seed: string;
  mode: 'live' | 'backfill';
  url: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Simulated time range: [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  stoppedBy: 'complete' | 'signal';
  devices: DeviceSummary[];
  /** Devices that could not connect (also listed in devices with their error). */
  failedDevices: string[];
  totals: Totals;
}

export function emptyDeviceSummary(device: string, kind: string, modelled: boolean): DeviceSummary {
  return {
    device, kind, modelled, slots: 0,
    readings: { published: 0, acked: 0 }, messages: { published: 0, acked: 0 },
    malformed: { published: 0, acked: 0, byType: {} }, outOfRange: { published: 0, acked: 0 },
    skewed: 0, spikes: 0, stuck: 0, dropouts: 0, silentSlots: 0, disconnects: 0,
    status: { published: 0, acked: 0 }, errors: 0, expectedStored: 0, expectedRefused: {},
  };
}

export function addRefused(d: DeviceSummary, code: ErrorCode): void {
  d.expectedRefused[code] = (d.expectedRefused[code] ?? 0) + 1;
}

const addCount = (a: Count, b: Count): void => {
  a.published += b.published;
  a.acked += b.acked;
};

export function totals(devices: readonly DeviceSummary[]): Totals {
  const t = emptyDeviceSummary('', '', true);
  for (const d of devices) {
    t.slots += d.slots;
    addCount(t.readings, d.readings);
    addCount(t.messages, d.messages);
    addCount(t.malformed, d.malformed);
    addCount(t.outOfRange, d.outOfRange);
    addCount(t.status, d.status);
    for (const [k, v] of Object.entries(d.malformed.byType)) t.malformed.byType[k as MalformedType] = (t.malformed.byType[k as MalformedType] ?? 0) + v;
    for (const [k, v] of Object.entries(d.expectedRefused)) t.expectedRefused[k as ErrorCode] = (t.expectedRefused[k as ErrorCode] ?? 0) + v;
    t.skewed += d.skewed;
    t.spikes += d.spikes;
    t.stuck += d.stuck;
    t.dropouts += d.dropouts;
    t.silentSlots += d.silentSlots;
    t.disconnects += d.disconnects;
    t.errors += d.errors;
    t.expectedStored += d.expectedStored;
  }
  const { device: _d, kind: _k, modelled: _m, ...rest } = t;
  return rest;
}

/** The final table printed on stdout. */
export function formatSummary(s: FleetSummary): string {
  const head = ['device', 'kind', 'readings', 'acked', 'msgs', 'malformed', 'out-of-range', 'spikes', 'stuck', 'dropouts', 'errors', 'expectedStored'];
  const rows = s.devices.map((d) => [
    d.device, d.kind + (d.modelled ? '' : '*'), d.readings.published, d.readings.acked, d.messages.acked,
    d.malformed.acked, d.outOfRange.acked, d.spikes, d.stuck, d.dropouts, d.errors, d.expectedStored,
  ].map(String));
  const t = s.totals;
  rows.push(['TOTAL', `${s.devices.length} devices`, t.readings.published, t.readings.acked, t.messages.acked,
    t.malformed.acked, t.outOfRange.acked, t.spikes, t.stuck, t.dropouts, t.errors, t.expectedStored].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const refused = Object.entries(t.expectedRefused).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
  return [
    `${s.mode} run, seed ${s.seed}, ${new Date(s.fromMs).toISOString()} .. ${new Date(s.toMs).toISOString()}, ${(s.durationMs / 1000).toFixed(1)} s wall, stopped: ${s.stoppedBy}`,
    line(head), ...rows.map(line),
    `expected refused by ingest: ${refused}`,
    ...(s.failedDevices.length ? [`devices that could not connect: ${s.failedDevices.join(', ')}`] : []),
    ...(s.devices.some((d) => !d.modelled) ? ['* kind without a model: the generic simulator stood in'] : []),
  ].join('\n');
}
