/**
 * Live-vaccine plant, process equipment: bioreactor, freeze dryer, pure-steam generator,
 * filling line. Batch equipment runs a phase cycle (timeline.ts PhaseTimeline) and reports the
 * batch id of the cycle it is in.
 */
import { clamp, inHours, Lag, localDate, LogLag, Ou } from '../physics.ts';
import { Rng } from '../rng.ts';
import { BaseSim, runTimeline, type Flows, type Metrics } from '../sim.ts';
import { MACHINE, PhaseTimeline, type RunState } from '../timeline.ts';

const H = 3_600_000;
const by = (s: RunState, f: Readonly<Record<RunState, number>>): number => f[s];

/** Batch record number: DEVICE-YYYYMMDD (cycle start, local)-NNN, computed once per cycle. */
class BatchIds {
  private cycle = -1;
  private id = '';
  constructor(private readonly deviceId: string) {}
  of(p: { cycle: number; cycleStartMs: number }): string {
    if (p.cycle !== this.cycle) {
      this.cycle = p.cycle;
      this.id = `${this.deviceId.toUpperCase()}-${localDate(p.cycleStartMs)}-${String(p.cycle).padStart(3, '0')}`;
    }
    return this.id;
  }
}

type BioPhase = 'idle' | 'cip' | 'sip' | 'inoculation' | 'culture' | 'harvest';
/** A cycle runs CIP → SIP → inoculation → culture → harvest, then the vessel waits (idle). */
const BIO_PHASES = [
  { name: 'cip', minMs: 1.5 * H, maxMs: 2.5 * H }, { name: 'sip', minMs: 1.5 * H, maxMs: 2 * H },
  { name: 'inoculation', minMs: 2 * H, maxMs: 3 * H }, { name: 'culture', minMs: 48 * H, maxMs: 96 * H },
  { name: 'harvest', minMs: 3 * H, maxMs: 5 * H }, { name: 'idle', minMs: 2 * H, maxMs: 10 * H },
] as const;

/** Bioreactor: 37 ± 0.5 °C culture, pH drifting down with metabolism, DO held by agitation. */
export class Bioreactor extends BaseSim {
  private readonly phases = new PhaseTimeline<BioPhase>(Rng.for(this.ctx.seed, this.device.id, 'batch'), this.ctx.originMs, BIO_PHASES);
  private readonly sp = this.rated('setpointC', 37);
  private readonly ratedKw = this.rated('ratedPowerKw', 15);
  private phase: BioPhase = 'idle';
  private readonly batchIds = new BatchIds(this.device.id);
  private batch = '';
  private readonly temp = new Lag(this.sp, 900);
  private readonly tw = new Ou(0.12, 600, this.rng);
  private readonly phw = new Ou(0.02, 3600, this.rng);
  private readonly dow = new Ou(2, 300, this.rng);
  private ph = 7.2;
  private dissolvedO2 = 100;
  private agitation = 0;
  private power = 0;

  protected step(dt: number): void {
    const p = this.phases.at(this.t);
    this.phase = p.phase;
    this.batch = this.batchIds.of(p);
    const tTarget = { idle: 22, cip: 75, sip: 121, inoculation: this.sp, culture: this.sp, harvest: this.sp - 2 }[p.phase];
    this.temp.step(tTarget, dt, p.phase === 'culture' ? 300 : 900);
    this.tw.step(dt, this.rng);
    this.phw.step(dt, this.rng);
    this.dow.step(dt, this.rng);
    const hoursIn = (this.t - p.startedMs) / H;
    if (p.phase === 'culture') {
      const growth = 1 - Math.exp(-hoursIn / 24);
      this.ph = Math.max(6.95, 7.25 - 0.25 * (1 - Math.exp(-hoursIn / 30)) + this.phw.value);
      this.dissolvedO2 = clamp(40 + 60 * Math.exp(-hoursIn / 6) + this.dow.value, 20, 100);
      this.agitation = 80 + 120 * growth;
    } else {
      this.ph = (p.phase === 'inoculation' ? 7.3 : 7.0) + this.phw.value;
      this.dissolvedO2 = clamp((p.phase === 'harvest' ? 60 : 98) + this.dow.value, 0, 100);
      this.agitation = { idle: 0, cip: 50, sip: 30, inoculation: 80, culture: 0, harvest: 60 }[p.phase];
    }
    this.power = Math.min(this.ratedKw, 0.8 + 12 * (this.agitation / 200) ** 2 + (p.phase === 'cip' ? 4 : 0));
  }

  protected read(): Metrics {
    return {
      temp: this.sensor(this.temp.value + this.tw.value, 0.03, 2),
      ph: this.sensor(this.ph, 0.005, 3),
      dissolved_o2: clamp(this.sensor(this.dissolvedO2, 0.3, 1), 0, 100),
      agitation: this.agitation === 0 ? 0 : this.sensorPos(this.agitation, 0.5, 1),
      power: this.sensorPos(this.power, 0.05, 2),
      phase: this.phase,
      batch_id: this.batch,
    };
  }

  override flows(): Flows {
    // Steam-in-place draws plant steam (~150 kg/h for a 500 L vessel).
    const steamTh = this.phase === 'sip' ? 0.15 * (this.rated('volumeL', 500) / 500) : 0;
    return { electricKw: this.power, gasM3h: 0, waterTh: this.phase === 'cip' ? 0.8 : 0, steamTh };
  }
}

export type FdPhase = 'idle' | 'loading' | 'freezing' | 'primary_drying' | 'secondary_drying' | 'unloading' | 'defrost';
/** A cycle from loading to defrost, then idle until the next load. */
export const FD_PHASE_ORDER: readonly FdPhase[] = ['loading', 'freezing', 'primary_drying', 'secondary_drying', 'unloading', 'defrost', 'idle'];
const ATM_PA = 101_325;

/** Freeze dryer: shelf −45 → −15 → +30 °C through the cycle, condenser ≤ −60 °C while drying. */
export class FreezeDryer extends BaseSim {
  private readonly cycleH = this.rated('cycleHours', 48);
  private readonly phases = new PhaseTimeline<FdPhase>(Rng.for(this.ctx.seed, this.device.id, 'batch'), this.ctx.originMs, [
    { name: 'loading', minMs: 1.5 * H, maxMs: 2.5 * H }, { name: 'freezing', minMs: 3.5 * H, maxMs: 4.5 * H },
    { name: 'primary_drying', minMs: 0.45 * this.cycleH * H, maxMs: 0.55 * this.cycleH * H },
    { name: 'secondary_drying', minMs: 0.18 * this.cycleH * H, maxMs: 0.22 * this.cycleH * H },
    { name: 'unloading', minMs: 1.5 * H, maxMs: 2.5 * H }, { name: 'defrost', minMs: 1.5 * H, maxMs: 2.5 * H },
    { name: 'idle', minMs: 1 * H, maxMs: 4 * H },
  ]);
  private readonly ratedKw = this.rated('ratedPowerKw', 110);
  private phase: FdPhase = 'idle';
  private readonly batchIds = new BatchIds(this.device.id);
  private batch = '';
  private readonly shelf = new Lag(20, 1800);
  private readonly condenser = new Lag(20, 1200);
  private readonly pressure = new LogLag(ATM_PA, 300);
  private readonly pw = new Ou(0.1, 600, this.rng);
  private power = 0;

  protected step(dt: number): void {
    const p = this.phases.at(this.t);
    const ph = (this.phase = p.phase);
    this.batch = this.batchIds.of(p);
    const progress = (this.t - p.startedMs) / p.lengthMs;
    const shelf = { idle: 20, loading: 5, freezing: -45, primary_drying: -20 + 10 * progress, secondary_drying: 30, unloading: 20, defrost: 20 }[ph];
    this.shelf.step(shelf, dt);
    const cold = ph === 'freezing' || ph === 'primary_drying' || ph === 'secondary_drying' || ph === 'unloading';
    this.condenser.step(cold ? (ph === 'primary_drying' ? -68 : -72) : ph === 'defrost' ? 25 : 20, dt, cold ? 1200 : 900);
    const vacuum = ph === 'primary_drying' ? 15 * (1 + this.pw.step(dt, this.rng)) : ph === 'secondary_drying' ? 6 : ATM_PA;
    this.pressure.step(vacuum, dt);
    this.power = this.ratedKw * { idle: 0.05, loading: 0.15, freezing: 0.85, primary_drying: 0.6, secondary_drying: 0.5, unloading: 0.15, defrost: 0.2 }[ph];
  }

  protected read(): Metrics {
    const pa = this.pressure.value;
    return {
      shelf_temp: this.sensor(this.shelf.value, 0.15, 2),
      condenser_temp: this.sensor(this.condenser.value, 0.2, 2),
      chamber_pressure: pa > 10_000 ? this.sensor(pa, 30, 0) : this.sensorPos(pa, 0.02 * pa, 2),
      power: this.sensorPos(this.power, 0.5, 2),
      phase: this.phase,
      batch_id: this.batch,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power, gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}

/** WFI still and pure-steam generator: steam for SIP and autoclaves by day, idle at night. */
export class PureSteamGenerator extends BaseSim {
  private readonly tl = runTimeline(this.device, this.ctx, MACHINE);
  private readonly ratedKgh = this.rated('ratedSteamKgh', 500);
  private readonly ratedKw = this.rated('ratedPowerKw', 20);
  private state: RunState = 'running';
  private readonly steam = new Lag(0.6 * this.ratedKgh, 120);
  private readonly pressure = new Lag(0.3, 300);
  private readonly demand = new Ou(0.12, 1800, this.rng);
  private power = 0;

  protected step(dt: number): void {
    const own = this.tl.at(this.t);
    const s = (this.state = own === 'fault' ? 'fault' : inHours(this.t, 6, 22) ? own : 'idle');
    const demand = clamp(0.65 + this.demand.step(dt, this.rng), 0.3, 1);
    this.steam.step(s === 'running' ? this.ratedKgh * demand : 0, dt);
    this.pressure.step(by(s, { running: 0.3, idle: 0.25, stopped: 0, fault: 0.05 }), dt);
    this.power = this.ratedKw * (s === 'stopped' ? 0.02 : 0.15 + 0.6 * (this.steam.value / this.ratedKgh));
  }

  protected read(): Metrics {
    return {
      steam_rate: this.steam.value < 0.5 ? 0 : this.sensorPos(this.steam.value, 3, 1),
      pressure: this.sensorPos(this.pressure.value, 0.003, 3),
      power: this.sensorPos(this.power, 0.2, 2),
      run_state: this.state,
    };
  }

  override flows(): Flows {
    const kgh = this.steam.value;
    // Heated by plant steam (~1.15 kg per kg of pure steam); fed with ~1.1 t of water per t.
    return { electricKw: this.power, gasM3h: 0, waterTh: (1.1 * kgh) / 1000, steamTh: (1.15 * kgh) / 1000 };
  }
}

/** Filling line: vials per minute in the day shift; doses and rejects counters. */
export class FillingLine extends BaseSim {
  private readonly tl = runTimeline(this.device, this.ctx, MACHINE);
  private readonly ideal = this.rated('idealVialsPerMin', 200);
  private readonly dosesPerVial = this.rated('dosesPerVial', 10);
  private readonly rejectShare = this.rated('rejectShare', 0.005);
  private readonly ratedKw = this.rated('ratedPowerKw', 30);
  private state: RunState = 'running';
  private readonly rate = new Lag(0, 20);
  private readonly pace = new Ou(0.03, 900, this.rng);
  private vials = 0;
  private counted = 0;
  private rejectAcc = 0;
  private doses = 0;
  private rejects = 0;
  private power = 0;

  protected step(dt: number): void {
    const own = this.tl.at(this.t);
    const s = (this.state = own === 'fault' ? 'fault' : inHours(this.t, 8, 20) ? own : 'stopped');
    const pace = clamp(0.92 + this.pace.step(dt, this.rng), 0.8, 1);
    this.rate.step(s === 'running' ? this.ideal * pace : 0, dt);
    this.power = this.ratedKw * (s === 'running' ? 0.4 + 0.5 * (this.rate.value / this.ideal) : by(s, { running: 0, idle: 0.3, stopped: 0.05, fault: 0.05 }));
    this.vials += (this.rate.value / 60) * dt;
    const n = Math.floor(this.vials) - this.counted;
    if (n <= 0) return;
    this.counted += n;
    this.rejectAcc += n * this.rejectShare * this.rng.uniform(0, 2);
    const bad = Math.min(n, Math.floor(this.rejectAcc));
    this.rejectAcc -= bad;
    this.rejects += bad;
    this.doses += (n - bad) * this.dosesPerVial;
  }

  protected read(): Metrics {
    const v = this.rate.value < 0.5 ? 0 : this.rate.value;
    return {
      vial_rate: v === 0 ? 0 : this.sensorPos(v, 0.8, 1),
      doses: this.doses,
      rejects: this.rejects,
      power: this.sensorPos(this.power, 0.2, 2),
      run_state: this.state,
    };
  }

  override flows(): Flows {
    return { electricKw: this.power, gasM3h: 0, waterTh: 0, steamTh: 0 };
  }
}
