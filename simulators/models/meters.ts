/**
 * Energy meters: cumulative counters that only count up, integrated from the instantaneous
 * flow they report. A meter's load is the sum of what the devices it feeds consume: it rebuilds
 * them from the seed as noise-free "shadows" stepped on the same tick grid, so a workshop's main
 * electricity meter reads roughly the sum of its devices' power without any message between
 * them. The park model has no "meter feeds device" relation yet, so the feeds are inferred:
 * every non-meter device of the workshop, or only the air-handling units for a meter whose id
 * or name says HVAC. A meter with nothing to feed falls back to a daily load profile.
 */
import type { DeviceModel } from '../../core/model.ts';
import { clamp, inHours, Lag, Ou } from '../physics.ts';
import { BaseSim, neighbours, type Carrier, type DeviceSim, type Metrics, type SimContext } from '../sim.ts';

export const METER_KINDS: readonly string[] = ['electricity_meter', 'gas_meter', 'water_meter', 'steam_meter'];

/** Which kinds draw each carrier (only these are shadowed, to keep meters cheap). */
const CONSUMERS: Readonly<Record<Carrier, readonly string[] | 'all'>> = {
  electricKw: 'all',
  gasM3h: ['roller_kiln', 'spray_dryer', 'tile_dryer', 'steam_boiler'],
  waterTh: ['polishing_line', 'pure_steam_generator', 'bioreactor'],
  steamTh: ['pure_steam_generator', 'bioreactor'],
};

abstract class Meter extends BaseSim {
  private readonly shadows: DeviceSim[];
  private readonly noise = new Ou(0.02, 900, this.rng);
  protected readonly max: number;
  protected readonly flow: Lag;
  protected total: number;

  constructor(device: DeviceModel, ctx: SimContext, private readonly carrier: Carrier, maxName: string, maxFallback: number) {
    super(device, ctx);
    this.max = this.rated(maxName, maxFallback);
    this.shadows = this.feeds().map((d) => (ctx.create as NonNullable<SimContext['create']>)(d, ctx));
    this.flow = new Lag(this.target(), 5);
    // A meter installed years ago: start from a plausible reading, not zero.
    this.total = Math.floor(this.rng.uniform(0.5, 3) * this.max * 1000);
  }

  private feeds(): DeviceModel[] {
    if (!this.ctx.create) return [];
    const kinds = CONSUMERS[this.carrier];
    const hvac = /hvac/i.test(this.device.id) || /hvac/i.test(this.device.name);
    return neighbours(this.device, this.ctx, 'workshop').filter((d) => {
      if (METER_KINDS.includes(d.kind.id)) return false;
      if (this.carrier === 'electricKw' && hvac) return d.kind.id === 'cleanroom_ahu';
      return kinds === 'all' || kinds.includes(d.kind.id);
    });
  }

  /** Load the meter sees now: its feeds, or a daily profile when it has none. */
  private target(): number {
    if (this.shadows.length === 0) {
      const day = inHours(this.t, 7, 22) ? 0.45 : 0.25;
      return this.max * clamp(day + this.noise.value, 0.02, 0.95);
    }
    let sum = this.baseLoad();
    for (const s of this.shadows) {
      s.advanceTo(this.t);
      sum += s.flows()[this.carrier];
    }
    return Math.max(0, sum * (1 + 0.3 * this.noise.value));
  }

  /** Consumption not attributed to a simulated device (lighting, offices, leaks). */
  protected baseLoad(): number {
    return 0;
  }

  protected step(dt: number): void {
    this.noise.step(dt, this.rng);
    this.flow.step(this.target(), dt);
    this.total += (this.flow.value * dt) / 3600;
  }

  protected counter(digits: number): number {
    const f = 10 ** digits;
    return Math.floor(this.total * f) / f;
  }
}

export class ElectricityMeter extends Meter {
  constructor(device: DeviceModel, ctx: SimContext) {
    super(device, ctx, 'electricKw', 'maxPowerKw', 1000);
  }
  protected override baseLoad(): number {
    const hvac = /hvac/i.test(this.device.id) || /hvac/i.test(this.device.name);
    return hvac ? 0 : this.max * (inHours(this.t, 7, 19) ? 0.02 : 0.01);
  }
  protected read(): Metrics {
    const load = this.flow.value / this.max;
    return {
      energy: this.counter(2),
      power: this.sensorPos(this.flow.value, 0.002 * this.max, 1),
      power_factor: clamp(this.sensor(0.9 + 0.06 * Math.min(1, 2 * load), 0.003, 3), 0.5, 0.999),
    };
  }
}

export class GasMeter extends Meter {
  constructor(device: DeviceModel, ctx: SimContext) {
    super(device, ctx, 'gasM3h', 'maxFlowM3h', 3000);
  }
  protected read(): Metrics {
    const q = this.flow.value / this.max;
    return {
      volume: this.counter(2),
      flow: this.sensorPos(this.flow.value, 0.002 * this.max, 1),
      pressure: this.sensor(35 - 6 * q * q, 0.1, 2),
    };
  }
}

export class WaterMeter extends Meter {
  constructor(device: DeviceModel, ctx: SimContext) {
    super(device, ctx, 'waterTh', 'maxFlowTh', 50);
  }
  protected override baseLoad(): number {
    return this.max * (inHours(this.t, 7, 22) ? 0.02 : 0.005); // washrooms, cleaning
  }
  protected read(): Metrics {
    return { volume: this.counter(3), flow: this.sensorPos(this.flow.value, 0.002 * this.max, 3) };
  }
}

export class SteamMeter extends Meter {
  constructor(device: DeviceModel, ctx: SimContext) {
    super(device, ctx, 'steamTh', 'maxFlowTh', 4);
  }
  protected override baseLoad(): number {
    return this.max * (inHours(this.t, 7, 22) ? 0.05 : 0.02); // autoclaves, tracing, losses
  }
  protected read(): Metrics {
    const q = this.flow.value / this.max;
    return {
      mass: this.counter(3),
      flow: this.sensorPos(this.flow.value, 0.002 * this.max, 3),
      pressure: this.sensor(0.6 - 0.05 * q * q, 0.003, 3),
    };
  }
}
