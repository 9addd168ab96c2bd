/**
 * One device's sequence of reporting slots, without any I/O: physics sample, then faults.
 * Each slot is a well-formed reading, a malformed message, or silence (dropout). The fleet
 * runner publishes what this produces; tests check it directly against the contract.
 */
import { DEFAULT_LIMITS, type ContractLimits, type Reading } from '../core/contract.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { DeviceModel, MetricDef, ParkModel } from '../core/model.ts';
import {
  applicableTypes, isSpikeable, isStickable, MALFORMED_CODES, malformedPayload, resolveFaults, spikeValue,
  type FaultConfig, type MalformedType,
} from './faults.ts';
import { createSim } from './models/index.ts';
import { Rng } from './rng.ts';
import type { DeviceSim, Metrics } from './sim.ts';

export interface ReadingSlot {
  type: 'reading';
  seq: number;
  /** The slot's scheduled time; reading.ts differs when the clock is skewed. */
  ts: number;
  reading: Reading;
  skewed: boolean;
  /** Set when reading.ts is outside the contract's limits at publish time: ingest will refuse it. */
  refusal?: ErrorCode;
  spiked?: string;
  stuck?: string;
}
export interface MalformedSlot { type: 'malformed'; seq: number; ts: number; malformed: MalformedType; payload: string; code: ErrorCode }
export interface DroppedSlot { type: 'dropped'; seq: number; ts: number; dropoutStart: boolean; disconnect: boolean; untilMs: number }
export type Slot = ReadingSlot | MalformedSlot | DroppedSlot;

export interface StreamOptions {
  seed: string;
  /** Physics origin shared by the fleet, epoch ms. */
  originMs: number;
  /** Time of the first slot (origin plus the device's phase), epoch ms. */
  firstMs: number;
  intervalMs: number;
  faults?: Partial<FaultConfig>;
  model?: ParkModel;
  tickMs?: number;
  limits?: ContractLimits;
}

/** Where a device's first slot falls in its interval: spread devices, keep whole seconds. */
export function phaseMs(seed: string, deviceId: string, intervalMs: number): number {
  const u = Rng.for(seed, deviceId, 'phase').next();
  return intervalMs >= 1000 ? Math.floor((u * intervalMs) / 1000) * 1000 : Math.floor(u * intervalMs);
}

/** Why ingest would refuse a reading's timestamp at time now, if it would. */
export function tsRefusal(ts: number, now: number, limits: ContractLimits = DEFAULT_LIMITS): ErrorCode | undefined {
  if (ts > now + limits.maxFutureMs) return 'SP_ERR_TS_FUTURE';
  if (ts < now - limits.maxPastMs) return 'SP_ERR_TS_PAST';
  return undefined;
}

export class DeviceStream {
  readonly sim: DeviceSim;
  private readonly faults: FaultConfig;
  private readonly rng: Rng;
  private readonly malformedTypes: MalformedType[];
  private readonly spikeable: MetricDef[];
  private readonly stickable: MetricDef[];
  private readonly skewOffsetMs: number;
  private readonly limits: ContractLimits;
  private seq = 0;
  private dropoutUntil = -Infinity;
  private stuck: { metric: string; value: number; untilMs: number } | undefined;
  private last: Metrics | undefined;

  constructor(readonly device: DeviceModel, private readonly o: StreamOptions) {
    this.sim = createSim(device, { seed: o.seed, originMs: o.originMs, tickMs: o.tickMs, model: o.model });
    this.faults = resolveFaults(o.faults);
    this.limits = o.limits ?? DEFAULT_LIMITS;
    this.rng = Rng.for(o.seed, device.id, 'faults');
    this.malformedTypes = applicableTypes(device.kind, this.faults.malformedTypes);
    const defs = [...device.kind.metrics.values()];
    this.spikeable = defs.filter(isSpikeable);
    this.stickable = defs.filter(isStickable);
    // A skewed clock is off by skewMs plus a device-specific fraction of a second, so a skewed
    // reading never lands on another slot's timestamp (which would overwrite it in InfluxDB).
    let off = this.faults.skewMs + 1 + Rng.for(o.seed, device.id, 'skew').int(999);
    if (off % o.intervalMs === 0) off += 1;
    this.skewOffsetMs = off;
  }

  /** Slot time of the next slot. */
  get nextTs(): number {
    return this.o.firstMs + this.seq * this.o.intervalMs;
  }

  get nextSeq(): number {
    return this.seq;
  }

  /** Produces the next slot; nowMs is the publisher's clock, to judge timestamps (default: the slot time). */
  next(nowMs?: number): Slot {
    const seq = this.seq;
    const ts = this.nextTs;
    this.seq++;
    const metrics = this.sim.sample(ts);
    const f = this.faults;
    const rng = this.rng;

    if (ts < this.dropoutUntil) return { type: 'dropped', seq, ts, dropoutStart: false, disconnect: false, untilMs: this.dropoutUntil };
    if (f.dropout > 0 && rng.chance(f.dropout)) {
      this.dropoutUntil = ts + Math.max(this.o.intervalMs, rng.exp(f.dropoutMs));
      return { type: 'dropped', seq, ts, dropoutStart: true, disconnect: rng.chance(f.disconnect), untilMs: this.dropoutUntil };
    }

    this.applyStuck(ts, metrics);
    let spiked: string | undefined;
    if (f.spike > 0 && this.spikeable.length > 0 && rng.chance(f.spike)) {
      const def = rng.pick(this.spikeable);
      metrics[def.name] = spikeValue(metrics[def.name] as number, def, f.spikeFactor, rng);
      spiked = def.name;
    }
    const stuck = this.stuck?.metric;
    this.last = metrics;

    if (f.malformed > 0 && this.malformedTypes.length > 0 && rng.chance(f.malformed)) {
      const type = rng.pick(this.malformedTypes);
      const payload = malformedPayload(type, { ts, seq, metrics }, this.device.kind, rng);
      return { type: 'malformed', seq, ts, malformed: type, payload, code: MALFORMED_CODES[type] };
    }
    const skewed = f.skew > 0 && rng.chance(f.skew);
    const readingTs = skewed ? ts + this.skewOffsetMs : ts;
    const slot: ReadingSlot = { type: 'reading', seq, ts, reading: { ts: readingTs, seq, metrics }, skewed };
    const refusal = tsRefusal(readingTs, nowMs ?? ts, this.limits);
    if (refusal) slot.refusal = refusal;
    if (spiked) slot.spiked = spiked;
    if (stuck) slot.stuck = stuck;
    return slot;
  }

  private applyStuck(ts: number, metrics: Metrics): void {
    const f = this.faults;
    if (this.stuck && ts >= this.stuck.untilMs) this.stuck = undefined;
    if (!this.stuck && f.stuck > 0 && this.last && this.stickable.length > 0 && this.rng.chance(f.stuck)) {
      const def = this.rng.pick(this.stickable);
      const value = this.last[def.name];
      if (typeof value === 'number') this.stuck = { metric: def.name, value, untilMs: ts + this.rng.exp(f.stuckMs) };
    }
    if (this.stuck) metrics[this.stuck.metric] = this.stuck.value;
  }
}
