/**
 * The model registry: device kind id → simulator. Kinds a park model adds without a model here
 * get the generic simulator (plausible values of the declared types), so any valid park model
 * can be simulated; say so in the summary rather than fail.
 */
import type { DeviceModel, MetricDef } from '../../core/model.ts';
import { Ou } from '../physics.ts';
import { BaseSim, type DeviceSim, type Metrics, type SimContext } from '../sim.ts';
import { BallMill, HydraulicPress, RollerKiln, SprayDryer } from './ceramics.ts';
import { GlazingLine, PolishingLine, SortingLine, TileDryer } from './ceramics-line.ts';
import { CleanroomAhu, ColdRoom } from './cleanroom.ts';
import { ElectricityMeter, GasMeter, SteamMeter, WaterMeter } from './meters.ts';
import { AirCompressor, Loom, SteamBoiler, StampingPress, WeldingRobot } from './other.ts';
import { Bioreactor, FillingLine, FreezeDryer, PureSteamGenerator } from './vaccine.ts';

type SimClass = new (device: DeviceModel, ctx: SimContext) => DeviceSim;

export const MODELS: Readonly<Record<string, SimClass>> = {
  electricity_meter: ElectricityMeter, gas_meter: GasMeter, water_meter: WaterMeter, steam_meter: SteamMeter,
  ball_mill: BallMill, spray_dryer: SprayDryer, hydraulic_press: HydraulicPress, tile_dryer: TileDryer,
  glazing_line: GlazingLine, roller_kiln: RollerKiln, polishing_line: PolishingLine, sorting_line: SortingLine,
  bioreactor: Bioreactor, freeze_dryer: FreezeDryer, cold_room: ColdRoom, cleanroom_ahu: CleanroomAhu,
  pure_steam_generator: PureSteamGenerator, filling_line: FillingLine,
  stamping_press: StampingPress, welding_robot: WeldingRobot, air_compressor: AirCompressor,
  steam_boiler: SteamBoiler, loom: Loom,
};

export function hasModel(kindId: string): boolean {
  return Object.hasOwn(MODELS, kindId);
}

/** The simulator of a device (the generic one when its kind has no model). */
export function createSim(device: DeviceModel, ctx: SimContext): DeviceSim {
  const full: SimContext = ctx.create ? ctx : { ...ctx, create: createSim };
  const Model = hasModel(device.kind.id) ? (MODELS[device.kind.id] as SimClass) : GenericSim;
  return new Model(device, full);
}

/** Any kind: numbers wander around 50, counters count up, enums and booleans hold their first value. */
export class GenericSim extends BaseSim {
  private readonly wander = [...this.device.kind.metrics.values()].map(() => new Ou(5, 600, this.rng));
  private count = 0;

  protected step(dt: number): void {
    for (const w of this.wander) w.step(dt, this.rng);
    this.count += dt / 60;
  }

  protected read(): Metrics {
    const out: Metrics = {};
    [...this.device.kind.metrics.values()].forEach((def: MetricDef, i) => {
      const w = (this.wander[i] as Ou).value;
      if (def.type === 'number') out[def.name] = this.sensor(50 + w, 0.2, 2);
      else if (def.type === 'integer') out[def.name] = Math.max(0, Math.round(50 + w));
      else if (def.type === 'counter') out[def.name] = Math.floor(this.count * 1000) / 1000;
    });
    return out; // booleans, enums and text are filled by conform()
  }
}
