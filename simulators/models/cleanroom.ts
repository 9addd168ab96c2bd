/**
 * Controlled environments: cold rooms (thermostat with hysteresis, door events) and cleanroom
 * air-handling units (pressure cascade, particles, supply temperature, fan and chiller power).
 */
import { clamp, inHours, Lag, localHour, outdoorTempC, Ou } from '../physics.ts';
import { Rng } from '../rng.ts';
import { BaseSim, type Flows, type Metrics } from '../sim.ts';
import { StateTimeline, type TimelineSpec } from '../timeline.ts';

const MIN = 60_000;

type Door = 'closed' | 'open';
/** Doors open every ~40 min by day (every ~4 h at night) for 10 s – 5 min. */
const DOOR: TimelineSpec<Door> = {
  closed: { meanMs: (t) => (inHours(t, 8, 20) ? 40 * MIN : 240 * MIN), minMs: 2 * MIN, next: [['open', 1]] },
  open: { meanMs: 45_000, minMs: 10_000, maxMs: 5 * MIN, next: [['closed', 1]] },
};

/**
 * Cold room, 2–8 °C: heat leaks in from the room around it (τ 150 min), the compressor pulls
 * towards an evaporator temperature (τ 40 min), an open door towards ambient (τ 15 min). The
 * thermostat switches the compressor at set point ± a sixth of the band, with a 3-minute
 * minimum off time against short-cycling.
 */
export class ColdRoom extends BaseSim {
  private readonly sp = this.rated('setpointC', 5);
  private readonly hyst = (this.rated('highC', 8) - this.rated('lowC', 2)) / 6;
  private readonly compKw = this.rated('compressorKw', 7.5);
  private readonly door = new StateTimeline(Rng.for(this.ctx.seed, this.device.id, 'door'), this.ctx.originMs, DOOR, 'closed');
  private temp = this.sp + this.rng.uniform(-this.hyst, this.hyst);
  private on = this.rng.chance(0.4);
  private open = false;
  private offSinceMs = -Infinity;
  private readonly rh = new Ou(3, 1800, this.rng);
  private readonly humidity = new Lag(65, 600);

  protected step(dt: number): void {
    this.open = this.door.at(this.t) === 'open';
    const ambient = 22 + 0.3 * (outdoorTempC(this.t) - 18);
    let rate = (ambient - this.temp) / (150 * 60);
    if (this.on) rate += (this.sp - 13 - this.temp) / (40 * 60);
    if (this.open) rate += (ambient - this.temp) / (15 * 60);
    this.temp += rate * dt;
    if (this.on && this.temp <= this.sp - this.hyst) {
      this.on = false;
      this.offSinceMs = this.t;
    } else if (!this.on && this.temp >= this.sp + this.hyst && this.t - this.offSinceMs >= 3 * MIN) {
      this.on = true;
    }
    this.rh.step(dt, this.rng);
    this.humidity.step(this.open ? 85 : this.on ? 62 : 70, dt);
  }

  protected read(): Metrics {
    return {
      temp: this.sensor(this.temp, 0.05, 2),
      humidity: clamp(this.sensor(this.humidity.value + this.rh.value, 0.5, 1), 5, 100),
      compressor_on: this.on,
      door_open: this.open,
      power: this.sensorPos(this.power(), 0.05, 2),
    };
  }

  private power(): number {
    return (this.on ? this.compKw : 0) + 0.04 * this.compKw + 0.3; // evaporator fans and controls
  }

  override flows(): Flows {
    return { electricKw: this.power(), gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}

/**
 * Cleanroom AHU. rated.grade is the best grade it serves: 2 → rooms B, C, D (dp_b_c, dp_c_d,
 * dp_d_out); 3 → rooms C, D (dp_b_c reported as 0: no B room). Particles ≥ 0.5 µm per m³ in the
 * best room, well inside the EU GMP Annex 1 limits in operation (08–20 h local) and at rest.
 * The chiller follows the daily outdoor temperature cycle.
 */
export class CleanroomAhu extends BaseSim {
  private readonly grade = Math.round(this.rated('grade', 2));
  private readonly supplySp = this.rated('supplySetpointC', 20);
  private readonly fanKw = this.rated('ratedFanKw', 45);
  private readonly chillerKw = this.rated('ratedChillerKw', 160);
  /** Each room's own design differential, 11.5–13.5 Pa (the 10–15 Pa band with margin for noise). */
  private readonly dpMean = [0, 1, 2].map(() => this.rng.uniform(11.5, 13.5));
  private readonly dp = [0, 1, 2].map(() => new Ou(0.6, 120, this.rng));
  private readonly logParticles = new Ou(0.35, 1800, this.rng);
  private readonly supply = new Ou(0.15, 900, this.rng);
  private readonly rh = new Ou(2, 3600, this.rng);
  private readonly fan = new Lag(0.78 * this.fanKw, 600);
  private readonly chiller = new Lag(0.5 * this.chillerKw, 900);
  private operating = false;

  protected step(dt: number): void {
    this.operating = this.grade <= 2 ? inHours(this.t, 8, 20) : inHours(this.t, 7, 23);
    for (const o of this.dp) o.step(dt, this.rng);
    this.logParticles.step(dt, this.rng);
    this.supply.step(dt, this.rng);
    this.rh.step(dt, this.rng);
    this.fan.step(this.fanKw * (this.operating ? 0.78 : 0.55), dt);
    const load = 0.15 + (0.75 * (outdoorTempC(this.t) - 10)) / 25 + (this.operating ? 0.1 : 0);
    this.chiller.step(this.chillerKw * clamp(load, 0.1, 1), dt);
  }

  private particles(): number {
    // Medians: grade B 15,000 in operation / 600 at rest (limits 352,000 / 3,520);
    // grade C 150,000 / 20,000 (limits 3,520,000 / 352,000).
    const median = this.grade <= 2 ? (this.operating ? 15_000 : 600) : this.operating ? 150_000 : 20_000;
    return Math.round(median * Math.exp(this.logParticles.value + 0.1 * this.meas.normal()));
  }

  protected read(): Metrics {
    const [b, c, d] = this.dpMean.map((m, i) => this.sensor(m + (this.dp[i] as Ou).value, 0.15, 1)) as [number, number, number];
    const occupancy = this.operating ? 1 : 0;
    const h = localHour(this.t);
    return {
      supply_temp: this.sensor(this.supplySp + this.supply.value, 0.05, 2),
      room_temp: this.sensor(this.supplySp + 0.8 + occupancy + 0.2 * Math.sin((Math.PI * (h - 9)) / 12), 0.05, 2),
      humidity: this.sensor(45 + this.rh.value + 0.2 * (outdoorTempC(this.t) - 18), 0.3, 1),
      dp_b_c: this.grade <= 2 ? Math.max(0.1, b) : 0,
      dp_c_d: Math.max(0.1, c),
      dp_d_out: Math.max(0.1, d),
      particles_05: this.particles(),
      fan_power: this.sensorPos(this.fan.value, 0.3, 1),
      chiller_power: this.sensorPos(this.chiller.value, 1, 1),
    };
  }

  override flows(): Flows {
    return { electricKw: this.fan.value + this.chiller.value, gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}
