/**
 * Ceramic-tile line, body preparation and firing: ball mill, spray dryer, hydraulic press,
 * roller kiln. Rated figures come from park.yaml (`rated`), with the fallbacks named here.
 */
import { clamp, Lag, Ou } from '../physics.ts';
import { BaseSim, runTimeline, type Flows, type Metrics } from '../sim.ts';
import { CONTINUOUS, MACHINE, type RunState } from '../timeline.ts';
import { LineState } from './line-state.ts';

export const AMBIENT_C = 25;
const by = (s: RunState, f: Readonly<Record<RunState, number>>): number => f[s];

/** Roller kiln: firing zone lags its set point; gas follows throughput and set point. */
export class RollerKiln extends BaseSim {
  private readonly tl = runTimeline(this.device, this.ctx, CONTINUOUS);
  private readonly spRated = this.rated('firingSetpointC', 1190);
  private readonly cap = this.rated('capacityM2h', 500);
  private readonly gasPerM2 = this.rated('gasPerM2M3', 1.3);
  private readonly idleGas = this.rated('idleGasM3h', 260);
  private readonly fanKw = this.rated('ratedFanKw', 420);
  private state: RunState = 'running';
  private sp = this.spRated;
  private readonly tFiring = new Lag(this.spRated, 600);
  private readonly tPre = new Lag(0.75 * this.spRated, 900);
  private readonly tCool = new Lag(0.38 * this.spRated + 160, 600);
  private readonly out = new Lag(0.94 * this.cap, 300);
  private readonly load = new Ou(0.02, 1800, this.rng);
  private readonly wander = new Ou(1.5, 300, this.rng);
  private readonly gasNoise = new Ou(0.012, 120, this.rng);
  private gas = 0;
  private fan = 0;

  protected step(dt: number): void {
    const s = (this.state = this.tl.at(this.t));
    this.sp = s === 'stopped' ? this.spRated - 290 : s === 'idle' ? this.spRated - 15 : this.spRated;
    const load = clamp(0.94 + this.load.step(dt, this.rng), 0.8, 1);
    this.out.step(s === 'running' ? this.cap * load : 0, dt, s === 'running' ? 300 : 180);
    const burners = s !== 'fault';
    // Burners on: closed-loop to the set point. Tripped: the kiln cools slowly (refractory mass).
    if (burners) this.tFiring.step(this.sp, dt);
    else this.tFiring.step(AMBIENT_C, dt, 6 * 3600);
    this.wander.step(dt, this.rng);
    this.tPre.step(0.75 * this.tFiring.value, dt);
    this.tCool.step(0.38 * this.tFiring.value + 160 * (this.out.value / this.cap), dt);
    const base = this.idleGas * (this.sp / this.spRated) + (this.gasPerM2 - this.idleGas / this.cap) * this.out.value;
    const control = clamp(3 * (this.sp - this.tFiring.value), -0.3 * this.idleGas, 0.8 * this.idleGas);
    const noise = 1 + this.gasNoise.step(dt, this.rng);
    this.gas = burners ? clamp((base + control) * noise, 0, 1.6 * this.gasPerM2 * this.cap) : 0;
    const fanShare = s === 'running' ? 0.78 + 0.15 * (this.out.value / this.cap)
      : by(s, { running: 0, idle: 0.62, stopped: 0.45, fault: 0.35 });
    this.fan = this.fanKw * fanShare * (1 + 0.3 * this.gasNoise.value);
  }

  protected read(): Metrics {
    return {
      t_preheat: this.sensor(this.tPre.value + 0.5 * this.wander.value, 1.5, 1),
      t_firing: this.sensor(this.tFiring.value + this.wander.value, 0.8, 1),
      t_cooling: this.sensor(this.tCool.value, 2, 1),
      sp_firing: this.sp,
      gas_flow: this.sensorPos(this.gas, 3, 1),
      fan_power: this.sensorPos(this.fan, 2, 1),
      output_rate: this.out.value < 0.5 ? 0 : this.sensorPos(this.out.value, 2, 1),
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.fan, gasM3h: this.gas, waterTh: 0, steamTh: 0 };
  }
}

/** Ball mill: continuous grinding; power and speed by run state, slip density wanders. */
export class BallMill extends BaseSim {
  private readonly tl = runTimeline(this.device, this.ctx, CONTINUOUS);
  private readonly ratedKw = this.rated('ratedPowerKw', 400);
  private readonly ratedRpm = this.rated('ratedSpeedRpm', 14);
  private state: RunState = 'running';
  private readonly power = new Lag(0.88 * this.ratedKw, 20);
  private readonly speed = new Lag(this.ratedRpm, 20);
  private readonly pw = new Ou(0.03, 600, this.rng);
  private readonly density = new Ou(0.012, 3600, this.rng);
  private energy = 0;

  protected step(dt: number): void {
    const s = (this.state = this.tl.at(this.t));
    const share = s === 'running' ? 0.88 + this.pw.step(dt, this.rng) : by(s, { running: 0, idle: 0.04, stopped: 0.01, fault: 0 });
    this.power.step(this.ratedKw * share, dt);
    this.speed.step(s === 'running' ? this.ratedRpm : 0, dt);
    if (s === 'running') this.density.step(dt, this.rng);
    this.energy += (this.power.value * dt) / 3600;
  }

  protected read(): Metrics {
    return {
      power: this.sensorPos(this.power.value, 1.5, 1),
      energy: Math.floor(this.energy * 1000) / 1000,
      speed: this.speed.value < 0.05 ? 0 : this.sensorPos(this.speed.value, 0.02, 2),
      slip_density: this.sensor(1.7 + this.density.value, 0.002, 3),
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power.value, gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}

/** Spray dryer: powder output, gas proportional to powder, inlet/outlet air temperatures. */
export class SprayDryer extends BaseSim {
  private readonly tl = runTimeline(this.device, this.ctx, CONTINUOUS);
  private readonly ratedTh = this.rated('ratedPowderTh', 30);
  private readonly gasPerT = this.rated('gasPerTonPowderM3', 22);
  private readonly ratedKw = this.rated('ratedPowerKw', 250);
  private state: RunState = 'running';
  private readonly powder = new Lag(0.88 * this.ratedTh, 300);
  private readonly gas = new Lag(this.gasPerT * 0.96 * this.ratedTh, 120);
  private readonly tIn = new Lag(560, 600);
  private readonly tOut = new Lag(100, 400);
  private readonly power = new Lag(0.82 * this.ratedKw, 30);
  private readonly load = new Ou(0.04, 1800, this.rng);
  private readonly tw = new Ou(3, 900, this.rng);

  protected step(dt: number): void {
    const s = (this.state = this.tl.at(this.t));
    const load = clamp(0.88 + this.load.step(dt, this.rng), 0.7, 1);
    this.tw.step(dt, this.rng);
    this.powder.step(s === 'running' ? this.ratedTh * load : 0, dt);
    const losses = 0.08 * this.gasPerT * this.ratedTh;
    const gas = s === 'running' ? this.gasPerT * this.powder.value + losses : s === 'idle' ? 0.15 * this.gasPerT * this.ratedTh : 0;
    this.gas.step(gas, dt);
    this.tIn.step(by(s, { running: 560, idle: 420, stopped: AMBIENT_C + 10, fault: AMBIENT_C + 10 }), dt);
    this.tOut.step(by(s, { running: 100, idle: 95, stopped: AMBIENT_C + 5, fault: AMBIENT_C + 5 }), dt);
    this.power.step(this.ratedKw * by(s, { running: 0.82, idle: 0.45, stopped: 0.03, fault: 0.02 }), dt);
  }

  protected read(): Metrics {
    return {
      inlet_temp: this.sensor(this.tIn.value + 2 * this.tw.value, 1.5, 1),
      outlet_temp: this.sensor(this.tOut.value + this.tw.value, 0.5, 1),
      gas_flow: this.sensorPos(this.gas.value, 2, 1),
      powder_rate: this.powder.value < 0.01 ? 0 : this.sensorPos(this.powder.value, 0.2, 2),
      power: this.sensorPos(this.power.value, 1.5, 1),
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power.value, gasM3h: this.gas.value, waterTh: 0, steamTh: 0 };
  }
}

/** Hydraulic press: strokes when the line runs; the pieces counter counts up. */
export class HydraulicPress extends BaseSim {
  private readonly line = new LineState(this.device, this.ctx, MACHINE);
  private readonly ratedSpm = this.rated('ratedStrokesPerMin', 6);
  private readonly perStroke = this.rated('piecesPerStroke', 4);
  private readonly ratedKw = this.rated('ratedPowerKw', 160);
  private state: RunState = 'running';
  private strokeRate = 0;
  private pieces = 0;
  private readonly power = new Lag(0.7 * this.ratedKw, 10);
  private readonly pace = new Ou(0.02, 900, this.rng);

  protected step(dt: number): void {
    const s = (this.state = this.line.at(this.t));
    const pace = 0.95 + this.pace.step(dt, this.rng);
    this.strokeRate = s === 'running' ? this.ratedSpm * clamp(pace, 0.85, 1.02) : 0;
    this.pieces += (this.strokeRate / 60) * this.perStroke * dt;
    this.power.step(this.ratedKw * (s === 'running' ? 0.65 + 0.1 * pace : by(s, { running: 0, idle: 0.25, stopped: 0.02, fault: 0 })), dt);
  }

  protected read(): Metrics {
    const s = this.state;
    return {
      stroke_rate: this.strokeRate === 0 ? 0 : this.sensorPos(this.strokeRate, 0.05, 2),
      pressure: this.sensorPos(by(s, { running: 32, idle: 4, stopped: 0, fault: 0 }), s === 'running' ? 3 : 0.2, 2),
      power: this.sensorPos(this.power.value, 1, 1),
      pieces: Math.floor(this.pieces),
      run_state: s,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power.value, gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}
