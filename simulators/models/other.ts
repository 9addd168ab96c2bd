/**
 * Other clusters: metal products (stamping press, welding robot, air compressor), food (steam
 * boiler), textile (air-jet loom). Metal lines work two shifts, 06–22 h local.
 */
import { clamp, inHours, Lag, Ou } from '../physics.ts';
import { BaseSim, runTimeline, type Flows, type Metrics } from '../sim.ts';
import { CONTINUOUS, LOOM, MACHINE, type RunState } from '../timeline.ts';

const by = (s: RunState, f: Readonly<Record<RunState, number>>): number => f[s];
const onShift = (t: number): boolean => inHours(t, 6, 22);

/** Mechanical stamping press: strokes → parts, ~1 % rejects. */
export class StampingPress extends BaseSim {
  private readonly tl = runTimeline(this.device, this.ctx, MACHINE);
  private readonly ratedSpm = this.rated('ratedStrokesPerMin', 30);
  private readonly ratedKw = this.rated('ratedPowerKw', 75);
  private state: RunState = 'running';
  private readonly pace = new Ou(0.03, 900, this.rng);
  private strokeRate = 0;
  private strokes = 0;
  private parts = 0;
  private rejects = 0;
  private rejectAcc = 0;
  private power = 0;

  protected step(dt: number): void {
    const own = this.tl.at(this.t);
    const s = (this.state = own === 'fault' ? 'fault' : onShift(this.t) ? own : 'stopped');
    const pace = clamp(0.9 + this.pace.step(dt, this.rng), 0.75, 1);
    this.strokeRate = s === 'running' ? this.ratedSpm * pace : 0;
    this.strokes += (this.strokeRate / 60) * dt;
    const n = Math.floor(this.strokes) - this.parts - this.rejects;
    if (n > 0) {
      this.rejectAcc += n * 0.01 * this.rng.uniform(0, 2);
      const bad = Math.min(n, Math.floor(this.rejectAcc));
      this.rejectAcc -= bad;
      this.rejects += bad;
      this.parts += n - bad;
    }
    this.power = this.ratedKw * (s === 'running' ? 0.5 + 0.4 * pace : by(s, { running: 0, idle: 0.2, stopped: 0.02, fault: 0.02 }));
  }

  protected read(): Metrics {
    return {
      stroke_rate: this.strokeRate === 0 ? 0 : this.sensorPos(this.strokeRate, 0.2, 1),
      power: this.sensorPos(this.power, 1, 1),
      parts: this.parts,
      rejects: this.rejects,
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power, gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}

/** Arc-welding robot: 20 s welds with 8 s moves between them; the counter counts welds. */
export class WeldingRobot extends BaseSim {
  private readonly tl = runTimeline(this.device, this.ctx, MACHINE);
  private readonly ratedA = this.rated('ratedCurrentA', 250);
  private readonly ratedKw = this.rated('ratedPowerKw', 12);
  private state: RunState = 'running';
  private phaseS = this.rng.uniform(0, 28);
  private welds = 0;
  private arc = false;

  protected step(dt: number): void {
    const own = this.tl.at(this.t);
    const s = (this.state = own === 'fault' ? 'fault' : onShift(this.t) ? own : 'stopped');
    if (s !== 'running') {
      this.arc = false;
      return;
    }
    this.phaseS += dt;
    if (this.phaseS >= 28) {
      this.phaseS -= 28;
      this.welds++;
    }
    this.arc = this.phaseS < 20;
  }

  protected read(): Metrics {
    const s = this.state;
    return {
      current: this.arc ? this.sensorPos(0.85 * this.ratedA, 6, 1) : 0,
      power: this.sensorPos(this.powerKw(), 0.1, 2),
      welds: this.welds,
      run_state: s,
    };
  }

  private powerKw(): number {
    return this.arc ? 0.85 * this.ratedKw : this.ratedKw * by(this.state, { running: 0.12, idle: 0.08, stopped: 0.02, fault: 0.02 });
  }

  override flows(): Flows {
    return { electricKw: this.powerKw(), gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}

/**
 * Screw compressor with load/unload control: loads below set point − 0.5 bar, unloads above
 * set point + 0.5 bar; the receiver pressure integrates delivered minus demanded air.
 */
export class AirCompressor extends BaseSim {
  private readonly ratedFlow = this.rated('ratedFlowM3min', 20);
  private readonly ratedKw = this.rated('ratedPowerKw', 110);
  private readonly sp = this.rated('setpointBar', 7);
  private readonly demand = new Ou(0.08, 600, this.rng);
  private pressure = this.sp + this.rng.uniform(-0.4, 0.4);
  private loaded = this.rng.chance(0.5);
  private readonly power = new Lag(0.5 * this.ratedKw, 3);

  protected step(dt: number): void {
    const base = onShift(this.t) ? 0.6 : 0.12;
    const demand = this.ratedFlow * clamp(base + this.demand.step(dt, this.rng), 0.05, 0.95);
    const delivered = this.loaded ? this.ratedFlow : 0;
    // Receiver: 1 bar per 8 m³ of net free air (≈ an 8 m³ vessel).
    this.pressure += ((delivered - demand) / 60) * dt / 8;
    if (this.loaded && this.pressure >= this.sp + 0.5) this.loaded = false;
    else if (!this.loaded && this.pressure <= this.sp - 0.5) this.loaded = true;
    this.power.step(this.ratedKw * (this.loaded ? 0.95 : 0.3), dt);
  }

  protected read(): Metrics {
    return {
      pressure: this.sensor(this.pressure, 0.01, 3),
      flow: this.loaded ? this.sensorPos(this.ratedFlow, 0.1, 2) : 0,
      power: this.sensorPos(this.power.value, 0.5, 1),
      loaded: this.loaded,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power.value, gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}

/** Gas-fired steam boiler: steam follows the plant's demand (day shift), gas follows steam. */
export class SteamBoiler extends BaseSim {
  private readonly tl = runTimeline(this.device, this.ctx, CONTINUOUS);
  private readonly ratedTh = this.rated('ratedSteamTh', 4);
  private readonly gasPerT = this.rated('gasPerTonSteamM3', 75);
  private state: RunState = 'running';
  private readonly steam = new Lag(0.5 * this.ratedTh, 300);
  private readonly pressure = new Lag(0.8, 600);
  private readonly demand = new Ou(0.08, 1200, this.rng);
  private gas = 0;

  protected step(dt: number): void {
    const s = (this.state = this.tl.at(this.t));
    const demand = clamp((onShift(this.t) ? 0.7 : 0.25) + this.demand.step(dt, this.rng), 0.1, 1);
    this.steam.step(s === 'running' ? this.ratedTh * demand : 0, dt);
    this.pressure.step(by(s, { running: 0.8, idle: 0.75, stopped: 0.05, fault: 0.3 }), dt, s === 'running' ? 300 : 1800);
    const standby = s === 'idle' ? 0.08 * this.gasPerT * this.ratedTh : 0;
    this.gas = s === 'running' ? this.gasPerT * this.steam.value * 1.02 : standby;
  }

  protected read(): Metrics {
    return {
      steam_flow: this.steam.value < 0.005 ? 0 : this.sensorPos(this.steam.value, 0.02, 3),
      pressure: this.sensorPos(this.pressure.value, 0.005, 3),
      gas_flow: this.sensorPos(this.gas, 1, 1),
      run_state: this.state,
    };
  }

  override flows(): Flows {
    // Burner fan and feed pump.
    const kw = this.state === 'running' ? 6 + 8 * (this.steam.value / this.ratedTh) : 1.5;
    return { electricKw: kw, gasM3h: this.gas, waterTh: 0, steamTh: 0 };
  }
}

/** Air-jet loom: picks per minute; cloth (m) = picks ÷ picks per metre; weft-break stops. */
export class Loom extends BaseSim {
  private readonly tl = runTimeline(this.device, this.ctx, LOOM);
  private readonly ratedPpm = this.rated('ratedPicksPerMin', 800);
  private readonly ratedKw = this.rated('ratedPowerKw', 4);
  private readonly picksPerM = this.rated('picksPerMetre', 2400);
  private state: RunState = 'running';
  private readonly pace = new Ou(0.01, 600, this.rng);
  private speed = 0;
  private cloth = 0;

  protected step(dt: number): void {
    const s = (this.state = this.tl.at(this.t));
    this.speed = s === 'running' ? this.ratedPpm * clamp(0.96 + this.pace.step(dt, this.rng), 0.9, 1) : 0;
    this.cloth += (this.speed / 60 / this.picksPerM) * dt;
  }

  private powerKw(): number {
    return this.state === 'running' ? this.ratedKw * (0.5 + 0.4 * (this.speed / this.ratedPpm)) : this.ratedKw * by(this.state, { running: 0, idle: 0.15, stopped: 0.02, fault: 0.05 });
  }

  protected read(): Metrics {
    return {
      speed: this.speed === 0 ? 0 : this.sensorPos(this.speed, 2, 1),
      power: this.sensorPos(this.powerKw(), 0.05, 2),
      cloth: Math.floor(this.cloth * 1000) / 1000,
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.powerKw(), gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}
