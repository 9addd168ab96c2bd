/**
 * Building blocks of the device models. Every dynamic element uses the exact discretisation of
 * its continuous law for a step dt, so the state after N steps of dt equals the state after one
 * step of N·dt (for constant inputs) and any tick or reporting rate gives the same physics.
 */
import type { Rng } from './rng.ts';

export const round = (v: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};
export const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** First-order lag: dy/dt = (target − y) / tau. */
export class Lag {
  private dt = -1;
  private tau = -1;
  private alpha = 0;
  constructor(public value: number, private readonly tauS: number) {}
  /** One step towards target; tauS overrides the time constant (e.g. a faster fall than rise). */
  step(target: number, dtS: number, tauS = this.tauS): number {
    if (dtS !== this.dt || tauS !== this.tau) {
      this.dt = dtS;
      this.tau = tauS;
      this.alpha = 1 - Math.exp(-dtS / tauS);
    }
    this.value += (target - this.value) * this.alpha;
    return this.value;
  }
}

/** A lag in log space, for quantities spanning decades (vacuum pressure). */
export class LogLag {
  private readonly lag: Lag;
  constructor(value: number, tauS: number) {
    this.lag = new Lag(Math.log(value), tauS);
  }
  get value(): number {
    return Math.exp(this.lag.value);
  }
  step(target: number, dtS: number): number {
    this.lag.step(Math.log(target), dtS);
    return this.value;
  }
}

/**
 * Ornstein-Uhlenbeck noise with mean 0, stationary standard deviation sigma and correlation
 * time tau: the slow wander of a process value (not sensor noise).
 */
export class Ou {
  private dt = -1;
  private a = 0;
  private b = 0;
  value: number;
  constructor(private readonly sigma: number, private readonly tauS: number, rng?: Rng) {
    this.value = rng ? sigma * rng.normal() : 0;
  }
  step(dtS: number, rng: Rng): number {
    if (dtS !== this.dt) {
      this.dt = dtS;
      this.a = Math.exp(-dtS / this.tauS);
      this.b = this.sigma * Math.sqrt(1 - this.a * this.a);
    }
    this.value = this.a * this.value + this.b * rng.normal();
    return this.value;
  }
}

// ------------------------------------------------------------------------------ time of day
/** The park is in Chongqing: China Standard Time, UTC+8, no daylight saving. */
export const PARK_UTC_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** Local hour of day, 0 ≤ h < 24 (fractional). */
export function localHour(tMs: number): number {
  return (((tMs + PARK_UTC_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS / 3_600_000;
}

/** True when the local time is in [fromH, toH) (wraps past midnight when fromH > toH). */
export function inHours(tMs: number, fromH: number, toH: number): boolean {
  const h = localHour(tMs);
  return fromH <= toH ? h >= fromH && h < toH : h >= fromH || h < toH;
}

/** Local calendar date as YYYYMMDD. */
export function localDate(tMs: number): string {
  return new Date(tMs + PARK_UTC_OFFSET_MS).toISOString().slice(0, 10).replaceAll('-', '');
}

/**
 * Outdoor air temperature in Chongqing, °C: annual mean 18.5, July ~28, January ~8, daily swing
 * ±4 °C peaking at 15:00 local (climate normals, rounded).
 */
export function outdoorTempC(tMs: number): number {
  const dayOfYear = ((tMs + PARK_UTC_OFFSET_MS) % (365.25 * DAY_MS)) / DAY_MS;
  const seasonal = 18.5 - 10 * Math.cos((2 * Math.PI * (dayOfYear - 15)) / 365.25);
  const daily = 4 * Math.cos((2 * Math.PI * (localHour(tMs) - 15)) / 24);
  return seasonal + daily;
}
