/**
 * Ceramic-tile line after the press: dryer, glazing, polishing, sorting. Each follows the line's
 * kiln (see line-state.ts) and its throughput is sized on the kiln's capacity.
 */
import { clamp, Lag, Ou } from '../physics.ts';
import { BaseSim, type Flows, type Metrics } from '../sim.ts';
import { MACHINE, type RunState } from '../timeline.ts';
import { AMBIENT_C } from './ceramics.ts';
import { LineState } from './line-state.ts';

const by = (s: RunState, f: Readonly<Record<RunState, number>>): number => f[s];

/** Horizontal dryer: temperature on set point, gas follows the tile load it dries. */
export class TileDryer extends BaseSim {
  private readonly line = new LineState(this.device, this.ctx, MACHINE);
  private readonly cap = this.line.lineCapacityM2h ?? 500;
  private readonly sp = this.rated('setpointC', 180);
  private readonly gasPerM2 = this.rated('gasPerM2M3', 0.25);
  private readonly ratedKw = this.rated('ratedPowerKw', 90);
  private state: RunState = 'running';
  private readonly loadM2h = new Lag(0.93 * this.cap, 600);
  private readonly temp = new Lag(this.sp, 900);
  private readonly pace = new Ou(0.03, 1800, this.rng);
  private gas = 0;
  private power = 0;

  protected step(dt: number): void {
    const s = (this.state = this.line.at(this.t));
    const pace = clamp(0.93 + this.pace.step(dt, this.rng), 0.8, 1);
    this.loadM2h.step(s === 'running' ? this.cap * pace : 0, dt);
    const heating = s === 'running' || s === 'idle';
    this.temp.step(heating ? this.sp : s === 'stopped' ? 60 : AMBIENT_C + 20, dt);
    const losses = 0.25 * this.gasPerM2 * this.cap;
    const control = clamp(0.5 * (this.sp - this.temp.value), -losses, 2 * losses);
    this.gas = heating ? Math.max(0, this.gasPerM2 * this.loadM2h.value + losses + control) : 0;
    this.power = this.ratedKw * by(s, { running: 0.8, idle: 0.65, stopped: 0.05, fault: 0.05 });
  }

  protected read(): Metrics {
    return {
      temp: this.sensor(this.temp.value, 0.6, 1),
      gas_flow: this.sensorPos(this.gas, 1, 1),
      power: this.sensorPos(this.power, 0.8, 1),
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power, gasM3h: this.gas, waterTh: 0, steamTh: 0 };
  }
}

/** Glazing line: belt speed, glaze flow proportional to speed. */
export class GlazingLine extends BaseSim {
  private readonly line = new LineState(this.device, this.ctx, MACHINE);
  private readonly ratedSpeed = this.rated('ratedSpeedMmin', 25);
  private readonly ratedKw = this.rated('ratedPowerKw', 120);
  private state: RunState = 'running';
  private readonly speed = new Lag(0.92 * this.ratedSpeed, 30);
  private readonly pace = new Ou(0.03, 1200, this.rng);
  private readonly flow = new Ou(0.02, 300, this.rng);
  private power = 0;

  protected step(dt: number): void {
    const s = (this.state = this.line.at(this.t));
    const pace = clamp(0.92 + this.pace.step(dt, this.rng), 0.8, 1);
    this.flow.step(dt, this.rng);
    this.speed.step(s === 'running' ? this.ratedSpeed * pace : 0, dt);
    const run = this.speed.value / this.ratedSpeed;
    this.power = this.ratedKw * (s === 'running' ? 0.35 + 0.5 * run : by(s, { running: 0, idle: 0.3, stopped: 0.03, fault: 0.03 }));
  }

  protected read(): Metrics {
    const v = this.speed.value < 0.05 ? 0 : this.speed.value;
    return {
      speed: v === 0 ? 0 : this.sensorPos(v, 0.1, 2),
      glaze_flow: v === 0 ? 0 : this.sensorPos(24 * v * (1 + this.flow.value), 3, 1),
      power: this.sensorPos(this.power, 1, 1),
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power, gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}

/** Polishing and edging: power and cooling water follow the tile area polished. */
export class PolishingLine extends BaseSim {
  private readonly line = new LineState(this.device, this.ctx, MACHINE);
  private readonly cap = this.line.lineCapacityM2h ?? 500;
  private readonly ratedSpeed = this.rated('ratedSpeedMmin', 20);
  private readonly ratedKw = this.rated('ratedPowerKw', 600);
  private readonly waterPerM2 = this.rated('waterPerM2T', 0.02);
  private state: RunState = 'running';
  private readonly speed = new Lag(0.92 * this.ratedSpeed, 30);
  private readonly pace = new Ou(0.03, 1200, this.rng);
  private power = 0;
  private water = 0;

  protected step(dt: number): void {
    const s = (this.state = this.line.at(this.t));
    const pace = clamp(0.92 + this.pace.step(dt, this.rng), 0.8, 1);
    this.speed.step(s === 'running' ? this.ratedSpeed * pace : 0, dt);
    const run = this.speed.value / this.ratedSpeed;
    this.power = this.ratedKw * (s === 'running' ? 0.25 + 0.65 * run : by(s, { running: 0, idle: 0.2, stopped: 0.02, fault: 0.02 }));
    this.water = s === 'running' ? this.waterPerM2 * this.cap * run + 0.3 : s === 'idle' ? 0.2 : 0;
  }

  protected read(): Metrics {
    const v = this.speed.value < 0.05 ? 0 : this.speed.value;
    return {
      speed: v === 0 ? 0 : this.sensorPos(v, 0.1, 2),
      power: this.sensorPos(this.power, 3, 1),
      water_flow: this.sensorPos(this.water, 0.05, 3),
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power, gasM3h: 0, waterTh: this.water, steamTh: 0 };
  }
}

const DEFECTS: ReadonlyArray<readonly [string, number]> = [['crack', 3], ['glaze', 2], ['size', 1], ['shade', 2], ['flatness', 1]];

/**
 * Sorting and grading: cumulative output, grade A ≈ gradeAShare × output, rejects = output −
 * grade A exactly (all three counted in hundredths of m², so none ever decreases).
 */
export class SortingLine extends BaseSim {
  private readonly line = new LineState(this.device, this.ctx, MACHINE);
  private readonly rate = this.rated('idealRateM2h', this.line.lineCapacityM2h ?? 500);
  private readonly shareA = this.rated('gradeAShare', 0.96);
  private state: RunState = 'running';
  private readonly pace = new Ou(0.03, 1800, this.rng);
  private readonly quality = new Ou(0.008, 6 * 3600, this.rng);
  private outExact = 0;
  private outC = 0;
  private gradeExact = 0;
  private gradeC = 0;
  private defect = 'none';

  protected step(dt: number): void {
    const s = (this.state = this.line.at(this.t));
    const pace = clamp(0.93 + this.pace.step(dt, this.rng), 0.8, 1);
    const share = clamp(this.shareA + this.quality.step(dt, this.rng), 0.8, 0.995);
    if (s !== 'running') return;
    this.outExact += (this.rate * pace * dt) / 3600;
    const d = Math.floor(this.outExact * 100) - this.outC; // new hundredths of m²
    if (d <= 0) return;
    this.outC += d;
    this.gradeExact += share * d;
    const g = Math.floor(this.gradeExact) - this.gradeC;
    this.gradeC += g;
    if (g < d) this.defect = this.rng.weighted(DEFECTS);
  }

  protected read(): Metrics {
    return {
      output: this.outC / 100,
      grade_a: this.gradeC / 100,
      rejects: (this.outC - this.gradeC) / 100,
      defect: this.defect,
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.state === 'running' ? 15 : 4, gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}
