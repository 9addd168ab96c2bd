/**
 * The device-model base: state advanced on a fixed internal tick (default 1 s, anchored at the
 * fleet origin), sampled at any reporting time. Because the tick grid does not depend on the
 * reporting interval, a device reporting every 5 s and the same device reporting every 10 s
 * follow the same trajectory; only sensor noise is drawn per reading.
 */
import type { MetricValue } from '../core/contract.ts';
import type { DeviceKind, DeviceModel, ParkModel } from '../core/model.ts';
import { round } from './physics.ts';
import { Rng } from './rng.ts';
import { StateTimeline, type RunState, type TimelineSpec } from './timeline.ts';

export type Metrics = Record<string, MetricValue>;

/** Warm-up before the first reading: two hours of 10-second steps at the origin. */
const WARMUP_STEP_S = 10;
const WARMUP_STEPS = 720;

/** True (noise-free) consumption of each carrier now, for the meters upstream of a device. */
export interface Flows { electricKw: number; gasM3h: number; waterTh: number; steamTh: number }
export const NO_FLOWS: Readonly<Flows> = Object.freeze({ electricKw: 0, gasM3h: 0, waterTh: 0, steamTh: 0 });
export type Carrier = keyof Flows;

export interface SimContext {
  readonly seed: string;
  /** Start of the physics (all devices of a fleet share it), epoch ms. */
  readonly originMs: number;
  /** Internal physics step, ms (default 1000). */
  readonly tickMs?: number;
  /** The park model, to find line and workshop neighbours (kiln for the sorting line, meters' loads). */
  readonly model?: ParkModel;
  /** Builds a neighbour's model (set by the registry; used by meters). */
  readonly create?: (device: DeviceModel, ctx: SimContext) => DeviceSim;
}

export interface DeviceSim {
  readonly device: DeviceModel;
  /** Advances the physics to tMs (never backwards) and returns one reading's metrics. */
  sample(tMs: number): Metrics;
  /** Advances the physics without producing a reading. */
  advanceTo(tMs: number): void;
  flows(): Flows;
}

export abstract class BaseSim implements DeviceSim {
  /** Physics time, ms. */
  protected t: number;
  private readonly tickMs: number;
  /** Process noise and events. */
  protected readonly rng: Rng;
  /** Sensor noise, one draw per published value. */
  protected readonly meas: Rng;

  constructor(readonly device: DeviceModel, protected readonly ctx: SimContext) {
    this.t = ctx.originMs;
    this.tickMs = ctx.tickMs ?? 1000;
    this.rng = Rng.for(ctx.seed, device.id, 'process');
    this.meas = Rng.for(ctx.seed, device.id, 'sensor');
  }

  private primed = false;

  advanceTo(tMs: number): void {
    if (!this.primed) {
      // Settle for two hours before the origin (timelines hold their origin state before it),
      // so a run starts in steady state rather than with every lag at its initial value.
      this.primed = true;
      const origin = this.t;
      this.t -= WARMUP_STEPS * WARMUP_STEP_S * 1000;
      for (let i = 0; i < WARMUP_STEPS; i++) {
        this.t += WARMUP_STEP_S * 1000;
        this.step(WARMUP_STEP_S);
      }
      this.t = origin;
    }
    const tick = this.tickMs;
    const dt = tick / 1000;
    while (this.t + tick <= tMs) {
      this.t += tick;
      this.step(dt);
    }
  }

  sample(tMs: number): Metrics {
    this.advanceTo(tMs);
    return conform(this.device.kind, this.read());
  }

  flows(): Flows {
    return NO_FLOWS;
  }

  /** Advances the state by dt seconds to time this.t. */
  protected abstract step(dtS: number): void;
  /** The metrics as the sensors read them now. */
  protected abstract read(): Metrics;

  /** A rated figure of the device (park.yaml), or the fallback when the park model lacks it. */
  protected rated(name: string, fallback: number): number {
    return this.device.rated[name] ?? fallback;
  }

  /** A sensor reading: value plus Gaussian noise, rounded. */
  protected sensor(v: number, sd: number, digits = 2): number {
    return round(v + sd * this.meas.normal(), digits);
  }

  /** Like sensor, never below zero (flows, powers, rates). */
  protected sensorPos(v: number, sd: number, digits = 2): number {
    return v <= 0 ? 0 : Math.max(0, this.sensor(v, sd, digits));
  }
}

/**
 * Makes a reading match the kind exactly: metrics the kind does not declare are dropped and
 * declared ones the model does not produce are filled, so a park model that adds or removes a
 * metric never makes the simulator send something ingest refuses.
 */
export function conform(kind: DeviceKind, m: Metrics): Metrics {
  const out: Metrics = {};
  for (const [name, def] of kind.metrics) {
    const v = m[name];
    if (v !== undefined) out[name] = v;
    else if (def.type === 'boolean') out[name] = false;
    else if (def.type === 'enum') out[name] = def.values?.[0] ?? '';
    else if (def.type === 'text') out[name] = '';
    else out[name] = 0;
  }
  return out;
}

/** The run-state timeline of a device, rebuilt identically by anyone with the seed. */
export function runTimeline(device: DeviceModel, ctx: SimContext, spec: TimelineSpec<RunState>): StateTimeline<RunState> {
  return new StateTimeline(Rng.for(ctx.seed, device.id, 'run'), ctx.originMs, spec, 'running');
}

/** Other devices on the same line (scope 'line') or in the same workshop (scope 'workshop'). */
export function neighbours(device: DeviceModel, ctx: SimContext, scope: 'line' | 'workshop'): DeviceModel[] {
  if (!ctx.model) return [];
  const out: DeviceModel[] = [];
  for (const d of ctx.model.devices.values()) {
    if (d.id === device.id || d.park !== device.park || d.enterprise !== device.enterprise || d.workshop !== device.workshop) continue;
    if (scope === 'line' && (d.line === undefined || d.line !== device.line)) continue;
    out.push(d);
  }
  return out;
}
