/**
 * Event timelines drawn from their own random stream, independent of how often anyone samples
 * them: the run state of a kiln at 10:00 is the same whether the kiln reports every second or
 * every minute, and a sorting line (or a meter) can rebuild the kiln's timeline from the seed to
 * stay consistent with it without talking to it.
 */
import type { Rng } from './rng.ts';

export const RUN_STATES = ['running', 'idle', 'stopped', 'fault'] as const;
export type RunState = (typeof RUN_STATES)[number];

export interface StateSpec<S extends string> {
  /** Mean time in the state, ms (exponential); a function of the entry time for daily patterns. */
  readonly meanMs: number | ((tMs: number) => number);
  readonly minMs?: number;
  readonly maxMs?: number;
  /** Where to go next, with weights. */
  readonly next: ReadonlyArray<readonly [S, number]>;
}
export type TimelineSpec<S extends string> = { readonly [K in S]: StateSpec<S> };

/** A semi-Markov state timeline, queried at non-decreasing times. */
export class StateTimeline<S extends string> {
  private state: S;
  private until: number;

  constructor(private readonly rng: Rng, startMs: number, private readonly spec: TimelineSpec<S>, initial: S) {
    this.state = initial;
    // Start part-way through the first stay so that devices do not all switch together.
    this.until = startMs + this.rng.next() * this.duration(initial, startMs);
  }

  private duration(s: S, at: number): number {
    const sp = this.spec[s];
    const mean = typeof sp.meanMs === 'function' ? sp.meanMs(at) : sp.meanMs;
    return Math.min(sp.maxMs ?? Infinity, Math.max(sp.minMs ?? 1000, this.rng.exp(mean)));
  }

  at(tMs: number): S {
    while (tMs >= this.until) {
      this.state = this.rng.weighted(this.spec[this.state].next);
      this.until += this.duration(this.state, this.until);
    }
    return this.state;
  }
}

const MIN = 60_000;
const HOUR = 3_600_000;

/** Kilns, mills, spray dryers: continuous production, rare short stops. */
export const CONTINUOUS: TimelineSpec<RunState> = {
  running: { meanMs: 10 * HOUR, minMs: 30 * MIN, next: [['idle', 5], ['stopped', 2], ['fault', 3]] },
  idle: { meanMs: 20 * MIN, minMs: 3 * MIN, maxMs: 2 * HOUR, next: [['running', 1]] },
  stopped: { meanMs: 60 * MIN, minMs: 10 * MIN, maxMs: 4 * HOUR, next: [['running', 1]] },
  fault: { meanMs: 25 * MIN, minMs: 5 * MIN, maxMs: 3 * HOUR, next: [['running', 4], ['stopped', 1]] },
};

/** Machines on a line: more frequent short stops (jams, tool changes). */
export const MACHINE: TimelineSpec<RunState> = {
  running: { meanMs: 3 * HOUR, minMs: 10 * MIN, next: [['idle', 6], ['stopped', 1], ['fault', 2]] },
  idle: { meanMs: 8 * MIN, minMs: 1 * MIN, maxMs: HOUR, next: [['running', 1]] },
  stopped: { meanMs: 30 * MIN, minMs: 5 * MIN, maxMs: 2 * HOUR, next: [['running', 1]] },
  fault: { meanMs: 15 * MIN, minMs: 2 * MIN, maxMs: 2 * HOUR, next: [['running', 1]] },
};

/** Looms: weft breaks every half hour or so, each fixed in a minute or two. */
export const LOOM: TimelineSpec<RunState> = {
  running: { meanMs: 25 * MIN, minMs: 2 * MIN, next: [['idle', 9], ['fault', 1]] },
  idle: { meanMs: 90_000, minMs: 20_000, maxMs: 10 * MIN, next: [['running', 1]] },
  stopped: { meanMs: 30 * MIN, next: [['running', 1]] },
  fault: { meanMs: 20 * MIN, minMs: 5 * MIN, maxMs: 2 * HOUR, next: [['running', 1]] },
};

export interface Phase<P extends string> { readonly name: P; readonly minMs: number; readonly maxMs: number }
export interface PhasePoint<P extends string> {
  readonly phase: P;
  readonly index: number;
  /** When the phase began. */
  readonly startedMs: number;
  /** Length of the current phase. */
  readonly lengthMs: number;
  /** Cycle (batch) number, counting up from a random start; a cycle begins at phase 0. */
  readonly cycle: number;
  /** When the current cycle began (may be before the timeline's start). */
  readonly cycleStartMs: number;
}

/** A batch process: phases in a fixed order, durations drawn per cycle, started mid-cycle. */
export class PhaseTimeline<P extends string> {
  private index: number;
  private startedMs: number;
  private lengthMs: number;
  private cycle: number;
  private cycleStartMs: number;

  constructor(private readonly rng: Rng, startMs: number, private readonly phases: ReadonlyArray<Phase<P>>) {
    if (phases.length === 0) throw new RangeError('a phase timeline needs phases');
    // Start at a random point of the cycle, weighted by time, so a day shows several phases.
    const lengths = phases.map((p) => this.length(p));
    const total = lengths.reduce((a, b) => a + b, 0);
    let into = this.rng.next() * total;
    let i = 0;
    while (i < lengths.length - 1 && into >= (lengths[i] as number)) into -= lengths[i++] as number;
    this.index = i;
    this.lengthMs = lengths[i] as number;
    this.startedMs = startMs - into;
    this.cycleStartMs = this.startedMs - lengths.slice(0, i).reduce((a, b) => a + b, 0);
    this.cycle = 1 + this.rng.int(90);
  }

  private length(p: Phase<P>): number {
    return p.minMs + (p.maxMs - p.minMs) * this.rng.next();
  }

  at(tMs: number): PhasePoint<P> {
    while (tMs >= this.startedMs + this.lengthMs) {
      this.startedMs += this.lengthMs;
      this.index = (this.index + 1) % this.phases.length;
      if (this.index === 0) {
        this.cycle++;
        this.cycleStartMs = this.startedMs;
      }
      this.lengthMs = this.length(this.phases[this.index] as Phase<P>);
    }
    const phase = (this.phases[this.index] as Phase<P>).name;
    return {
      phase, index: this.index, startedMs: this.startedMs, lengthMs: this.lengthMs,
      cycle: this.cycle, cycleStartMs: this.cycleStartMs,
    };
  }
}
