/**
 * Consumption from cumulative counters (energy meters, production counters). Pure, no I/O.
 *
 * Rules (docs/kpi.md):
 * - Each interval between consecutive readings (a, b] yields an increment b - a; if the counter
 *   dropped (b < a) it was reset and restarted from 0, so the increment is b.
 * - Attribution "at the reading": an increment belongs to the period that holds the reading that
 *   revealed it (b.ts in [from, to)). Consumption across a gap is the difference of the readings
 *   around it and lands, whole, in the period of the first reading after the gap. Periods that
 *   tile a range therefore sum exactly to the range (nothing lost or counted twice).
 * - The first interval of a period starts at the last reading before `from` (found within a
 *   look-back); without one, the first reading of the period is the baseline.
 * - A declared meter replacement at `at` (readings before it from the old meter, from it on from
 *   the new one) turns the interval across it into (oldFinal - a) + (b - newInitial).
 * - Late data: nothing is cached; a late reading that lands in a gap splits the gap's increment
 *   between the periods around it on the next query.
 */

export interface Sample { readonly ts: number; readonly v: number }

export type IncrementKind = 'interval' | 'first' | 'reset' | 'replacement';
/** An increment of a counter attributed to instant `ts` (for server-side sums: the hour bucket). */
export interface Increment { readonly ts: number; readonly amount: number; readonly kind: IncrementKind }

export interface Replacement { readonly at: number; readonly oldFinal: number; readonly newInitial: number }

/** Increment from reading a to reading b of the same meter: b - a, or b after a reset (b < a). */
export function stepIncrement(a: number, b: number): number {
  return b >= a ? b - a : b;
}

/** Increment across a meter replacement: rest of the old meter plus the start of the new one. */
export function replacementIncrement(a: number, b: number, r: Replacement): number {
  return Math.max(0, r.oldFinal - a) + Math.max(0, b - r.newInitial);
}

/**
 * Reference computation from raw readings (any order; include the reading before `from`):
 * the increments whose revealing reading lies in [from, to).
 */
export function counterIncrements(samples: readonly Sample[], from: number, to: number, replacements: readonly Replacement[] = []): Increment[] {
  const s = [...samples].sort((x, y) => x.ts - y.ts);
  const out: Increment[] = [];
  for (let i = 1; i < s.length; i++) {
    const a = s[i - 1]!;
    const b = s[i]!;
    if (b.ts < from || b.ts >= to) continue;
    const r = replacements.find((x) => a.ts < x.at && x.at <= b.ts);
    if (r) out.push({ ts: b.ts, amount: replacementIncrement(a.v, b.v, r), kind: 'replacement' });
    else out.push({ ts: b.ts, amount: stepIncrement(a.v, b.v), kind: b.v < a.v ? 'reset' : i === 1 || s[i - 1]!.ts < from ? 'first' : 'interval' });
  }
  return out;
}

/**
 * What the database computes for one counter over [from, to), so that a day is a handful of rows
 * instead of thousands of readings (api/kpi/queries.ts).
 */
export interface CounterDigest {
  /** Last reading before `from` (within the look-back). */
  readonly prev?: Sample;
  /** First reading in [from, to). */
  readonly first?: Sample;
  /**
   * Per bucket (start clamped to `from`), the sum of the step increments of consecutive in-range
   * readings whose later reading falls in it (resets included: the database sums differences,
   * and a bucket whose smallest difference is negative is recomputed from its raw readings).
   */
  readonly buckets: readonly { readonly ts: number; readonly sum: number }[];
  /** Resets seen in the period (for the report; their increments are in the buckets). */
  readonly resets: number;
  /** Readings around each declared replacement (the last before `at`, the first from `at`). */
  readonly replacements: readonly { readonly r: Replacement; readonly before?: Sample; readonly after?: Sample }[];
}

/** Increments of a digest; sums equal `counterIncrements` on the raw readings (bucketed). */
export function digestIncrements(d: CounterDigest, from: number, to: number): Increment[] {
  const out: Increment[] = [];
  if (d.prev && d.first) out.push({ ts: d.first.ts, amount: stepIncrement(d.prev.v, d.first.v), kind: 'first' });
  for (const b of d.buckets) if (b.sum !== 0) out.push({ ts: b.ts, amount: b.sum, kind: 'interval' });
  for (const { r, before, after } of d.replacements) {
    if (!before || !after || after.ts < from || after.ts >= to) continue;
    const counted = d.prev === undefined && after.ts === d.first?.ts ? 0 : stepIncrement(before.v, after.v);
    out.push({ ts: after.ts, amount: replacementIncrement(before.v, after.v, r) - counted, kind: 'replacement' });
  }
  return out;
}

/** Sum of increments, optionally only those whose ts passes `keep`. */
export function sumIncrements(list: readonly Increment[], keep?: (ts: number) => boolean): number {
  let s = 0;
  for (const x of list) if (!keep || keep(x.ts)) s += x.amount;
  return s;
}
