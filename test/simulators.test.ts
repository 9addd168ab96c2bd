/**
 * Simulators without MQTT: determinism, the contract (every reading of every kind passes core's
 * parseTelemetry; every malformed fault is refused with the code the summary predicts), fault
 * accounting, rate-independent physics, and option / argument validation.
 */
import { describe, expect, it } from 'vitest';
import { parseTelemetry } from '../core/contract.ts';
import { PlatformError } from '../core/errors.ts';
import { loadParkModel } from '../core/model-file.ts';
import type { DeviceModel } from '../core/model.ts';
import { parseBackfill, parseCli } from '../simulators/args.ts';
import { applicableTypes, MALFORMED_CODES, MALFORMED_TYPES, parseFaults, resolveFaults } from '../simulators/faults.ts';
import { resolveFleetOptions } from '../simulators/fleet-options.ts';
import { hasModel } from '../simulators/models/index.ts';
import { DeviceStream, type ReadingSlot, type Slot } from '../simulators/stream.ts';

const model = loadParkModel();
const devices = [...model.devices.values()];
/** 2025-07-01 10:00 in Chongqing (UTC+8): day shift, so every machine is doing something. */
const ORIGIN = Date.UTC(2025, 6, 1, 2, 0, 0);
const enc = new TextEncoder();

function slots(d: DeviceModel, n: number, seed = 's1', faults = {}, intervalMs = d.intervalMs): Slot[] {
  const s = new DeviceStream(d, { seed, originMs: ORIGIN, firstMs: ORIGIN, intervalMs, faults, model });
  return Array.from({ length: n }, () => s.next());
}
const readings = (list: Slot[]): ReadingSlot[] => list.filter((s): s is ReadingSlot => s.type === 'reading');

describe('simulator models', () => {
  it('has a physical model for every device kind of park.yaml', () => {
    expect([...model.kinds.keys()].filter((k) => !hasModel(k))).toEqual([]);
  });

  it('gives identical readings for the same seed and different readings for another seed', () => {
    for (const d of devices) {
      const a = JSON.stringify(slots(d, 60, 'same'));
      expect(JSON.stringify(slots(d, 60, 'same')), d.id).toBe(a);
      expect(JSON.stringify(slots(d, 60, 'other')), d.id).not.toBe(a);
    }
  });

  it('publishes every declared metric of its kind in every reading, and each reading passes the contract', () => {
    for (const d of devices) {
      const list = readings(slots(d, 400)); // 30-70 minutes
      expect(list).toHaveLength(400);
      for (const s of list) {
        expect(Object.keys(s.reading.metrics).sort(), d.id).toEqual([...d.kind.metrics.keys()].sort());
        const r = parseTelemetry(enc.encode(JSON.stringify(s.reading)), d, s.ts);
        if (!r.ok) throw new Error(`${d.id} seq ${s.seq}: ${r.code} ${r.reason}`);
      }
      const batch = parseTelemetry(enc.encode(JSON.stringify({ readings: list.map((s) => s.reading) })), d, (list[399] as ReadingSlot).ts);
      expect(batch.ok && batch.value.length, d.id).toBe(400);
    }
  });

  it('follows the same trajectory whatever the reporting interval (counters and states agree at common times)', () => {
    for (const id of ['wm-mill-1', 'wm-sort-1', 'al-fill-1', 'dj-press-1', 'xb-loom-1', 'wm-em-main', 'al-fd-1']) {
      const d = model.devices.get(id) as DeviceModel;
      const fast = readings(slots(d, 720, 's1', {}, 5_000));
      const slow = readings(slots(d, 360, 's1', {}, 10_000));
      const stateful = [...d.kind.metrics.values()].filter((m) => m.type === 'counter' || m.type === 'enum' || m.type === 'text');
      expect(stateful.length, id).toBeGreaterThan(0);
      slow.forEach((s, i) => {
        const f = fast[2 * i] as ReadingSlot;
        expect(f.ts).toBe(s.ts);
        for (const m of stateful) expect(f.reading.metrics[m.name], `${id} ${m.name} at ${i}`).toBe(s.reading.metrics[m.name]);
      });
    }
  });
});

describe('fault injection', () => {
  it('builds each malformed type so that parseTelemetry refuses it with the predicted code, for every kind', () => {
    for (const kind of model.kinds.values()) {
      const d = devices.find((x) => x.kind === kind) as DeviceModel;
      const types = applicableTypes(kind, MALFORMED_TYPES);
      for (const type of types) {
        const list = slots(d, 40, `m-${type}`, { malformed: 1, malformedTypes: [type] });
        for (const s of list) {
          if (s.type !== 'malformed') throw new Error(`${d.id}: expected a malformed slot, got ${s.type}`);
          const r = parseTelemetry(enc.encode(s.payload), d, s.ts);
          expect(r.ok ? 'accepted' : r.code, `${d.id} ${type}: ${s.payload.slice(0, 120)}`).toBe(MALFORMED_CODES[type]);
        }
      }
      const defs = [...kind.metrics.values()];
      expect(types.includes('bad_enum')).toBe(defs.some((m) => m.type === 'enum'));
      expect(types.includes('negative_counter')).toBe(defs.some((m) => m.type === 'counter'));
    }
  });

  it('skews timestamps: beyond the limits they are marked with the refusal ingest will give, within them they stay valid and off the grid', () => {
    const d = model.devices.get('wm-kiln-1') as DeviceModel;
    const future = readings(slots(d, 20, 'k', { skew: 1 }));
    for (const s of future) {
      expect(s.skewed).toBe(true);
      expect(s.refusal).toBe('SP_ERR_TS_FUTURE');
      const r = parseTelemetry(enc.encode(JSON.stringify(s.reading)), d, s.ts);
      expect(r.ok ? 'accepted' : r.code).toBe('SP_ERR_TS_FUTURE');
    }
    const past = readings(slots(d, 5, 'k', { skew: 1, skewMs: -8 * 86_400_000 }));
    expect(past.map((s) => s.refusal)).toEqual(Array(5).fill('SP_ERR_TS_PAST'));
    const small = readings(slots(d, 20, 'k', { skew: 1, skewMs: 60_000 }));
    for (const s of small) {
      expect(s.refusal).toBeUndefined();
      expect(parseTelemetry(enc.encode(JSON.stringify(s.reading)), d, s.ts).ok).toBe(true);
      expect((s.reading.ts - ORIGIN) % d.intervalMs).not.toBe(0);
    }
  });

  it('is deterministic and produces dropouts, spikes and stuck values at about the configured rates', () => {
    const d = model.devices.get('al-ahu-1') as DeviceModel;
    const faults = { dropout: 0.01, dropoutMs: 60_000, spike: 0.02, stuck: 0.01, stuckMs: 120_000 };
    const list = slots(d, 5000, 'f', faults);
    expect(JSON.stringify(slots(d, 5000, 'f', faults))).toBe(JSON.stringify(list));
    const dropouts = list.filter((s) => s.type === 'dropped' && s.dropoutStart).length;
    const silent = list.filter((s) => s.type === 'dropped').length;
    const rs = readings(list);
    const spikes = rs.filter((s) => s.spiked).length;
    expect(dropouts).toBeGreaterThan(20);
    expect(dropouts).toBeLessThan(80);
    expect(silent).toBeGreaterThan(dropouts * 3); // a 60 s mean dropout silences ~12 slots of 5 s
    expect(spikes).toBeGreaterThan(50);
    expect(spikes).toBeLessThan(160);
    // A stuck metric repeats the previous reading's value exactly.
    let stuckChecked = 0;
    for (let i = 1; i < list.length; i++) {
      const s = list[i] as Slot;
      const prev = list[i - 1] as Slot;
      if (s.type !== 'reading' || prev.type !== 'reading' || !s.stuck || s.spiked === s.stuck || prev.spiked) continue;
      expect(s.reading.metrics[s.stuck]).toBe(prev.reading.metrics[s.stuck]);
      stuckChecked++;
    }
    expect(stuckChecked).toBeGreaterThan(100);
    // Spikes are outliers but valid readings.
    for (const s of rs.filter((x) => x.spiked)) expect(parseTelemetry(enc.encode(JSON.stringify(s.reading)), d, s.ts).ok).toBe(true);
  });

  it('parses a fault specification and refuses a bad one by name', () => {
    expect(parseFaults('dropout=0.01, spike=0.005,stuck=0.01,skew=0.001,malformed=0.002,skew-ms=10m,malformed-types=not_json|non_finite'))
      .toEqual({ dropout: 0.01, spike: 0.005, stuck: 0.01, skew: 0.001, malformed: 0.002, skewMs: 600_000, malformedTypes: ['not_json', 'non_finite'] });
    expect(() => parseFaults('dropuot=0.1')).toThrow(/unknown key "dropuot"/);
    expect(() => resolveFaults({ spike: 1.5 })).toThrow(/faults.spike: 1.5/);
    expect(() => resolveFaults({ malformedTypes: ['nonsense' as never] })).toThrow(/malformedTypes/);
  });
});

describe('fleet options and command line', () => {
  const secrets = Object.fromEntries(devices.map((d) => [d.id, 'x']));
  const now = Date.UTC(2025, 6, 2);

  it('selects devices by filters and fails fast on what is not in the model or has no password', () => {
    const f = resolveFleetOptions({ model, secrets, select: { workshops: ['vaccine'], kinds: ['cold_room', 'freeze_dryer'] } }, now);
    expect(f.devices.map((d) => d.id)).toEqual(['al-fd-1', 'al-fd-2', 'al-cold-1', 'al-cold-2']);
    expect(() => resolveFleetOptions({ model, secrets, select: { ids: ['nope'] } }, now)).toThrow(/devices: nope not in the park model/);
    expect(() => resolveFleetOptions({ model, secrets: { 'wm-kiln-1': 'x' }, select: { kinds: ['roller_kiln', 'loom'] } }, now)).toThrow(/no password for 3 device/);
    expect(() => resolveFleetOptions({ model, secrets, batch: 0 }, now)).toThrow(PlatformError);
    expect(() => resolveFleetOptions({ model, secrets, backfill: { fromMs: now - 8 * 86_400_000, toMs: now } }, now)).toThrow(/backfill.fromMs/);
    const b = resolveFleetOptions({ model, secrets, backfill: { fromMs: now - 86_400_000, toMs: now } }, now);
    expect([b.mode, b.batch, b.originMs, b.endMs]).toEqual(['backfill', 100, now - 86_400_000, now]);
    // devices an edge gateway reads are left out on request (the field simulators serve them)
    const w = resolveFleetOptions({ model, secrets, select: { workshops: ['vaccine'], kinds: ['cold_room', 'freeze_dryer'], withoutGatewayDevices: true } }, now);
    expect(w.devices.map((d) => d.id)).toEqual(['al-fd-2', 'al-cold-2']);
    expect(parseCli(['--without-gateway-devices'], now).fleet.select?.withoutGatewayDevices).toBe(true);
    const r = resolveFleetOptions({ model, secrets, rate: 10 }, now);
    expect(r.intervalOf(model.devices.get('al-cold-1') as DeviceModel)).toBe(1000);
  });

  it('turns command-line arguments into fleet options', () => {
    const c = parseCli(['--url', 'mqtt://h:1', '--kind', 'loom,cold_room', '--park', 'ronglong', '--rate', '2', '--duration', '10m',
      '--seed', 'demo', '--batch', '10', '--faults', 'dropout=0.01', '--summary', 'out.json', '--quiet'], now);
    expect(c.fleet).toMatchObject({ url: 'mqtt://h:1', rate: 2, durationMs: 600_000, seed: 'demo', batch: 10, faults: { dropout: 0.01 } });
    expect(c.fleet.select).toMatchObject({ kinds: ['loom', 'cold_room'], parks: ['ronglong'] });
    expect([c.summaryFile, c.quiet, c.help]).toEqual(['out.json', true, false]);
    expect(parseBackfill('24h', now)).toEqual({ fromMs: now - 86_400_000, toMs: now });
    expect(parseBackfill('2025-07-01T00:00:00Z..-1h', now)).toEqual({ fromMs: Date.UTC(2025, 6, 1), toMs: now - 3_600_000 });
    expect(() => parseCli(['--duration', 'soon'])).toThrow(/--duration: "soon"/);
    expect(() => parseCli(['--bogus'])).toThrow(/Unknown option/);
  });
});
