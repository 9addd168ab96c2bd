/**
 * The alarm state machine, one per (rule, device), driven by validated readings (device time)
 * and by a clock (platform time, for silent devices only). Pure and synchronous: the caller
 * spools the events it returns. See docs/alarms.md for the semantics:
 *
 *   normal --(condition beyond the limit for `for`, readings no more than maxGap apart)--> raised
 *   raised --(value back inside the limit by `hysteresis` for `clearFor`)--> normal (cleared)
 *
 * A reading not newer than the last one evaluated for a (rule, device) is ignored by that rule
 * (it is still stored): redeliveries and late readings never move an alarm backwards.
 */
import type { MetricValue, Reading } from '../contract.ts';
import type { DeviceModel } from '../model.ts';
import { alarmId, eventPlace, type AlarmEvent } from './events.ts';
import type { AlarmRules, BoundRule } from './rules.ts';

/** What one reading says about a rule's condition. */
interface Observation {
  /** Beyond the limit. */
  bad: boolean;
  /** Inside the limit by the hysteresis (or the gate is closed): may clear. */
  ok: boolean;
  metric: string;
  value: number;
  threshold: number;
  /** How to word it; the message is built only when an event is emitted (hot path: no closures, no strings). */
  say: 'above' | 'below' | 'inside' | 'gate' | 'deviation' | 'increase' | 'silent' | 'reporting';
  /** deviation: the measured value and the set point. */
  raw?: number;
  setpoint?: number;
}

interface Active { id: string; raisedAt: number; metric: string }

interface PairState {
  readonly b: BoundRule;
  lastTs: number;
  pendingSince?: number;
  clearSince?: number;
  active?: Active;
  /** This run emitted an event for the pair: what it knows beats anything restored. */
  touched: boolean;
  /** ts of the newest restored event applied. */
  restoredTs: number;
  values?: Map<string, number>;
  setpoint?: number;
  gate?: MetricValue;
  window?: { ts: number; delta: number }[];
  windowSum: number;
  lastCounter?: number;
  /** silence: platform time of the last reading. */
  lastSeen: number;
}

interface DeviceEntry { pairs: PairState[]; silence: PairState[] }

export interface EngineCounters { evaluated: number; outOfOrder: number; raised: number; cleared: number }

/** A stored or spooled event used to rebuild state after a restart. */
export type RestoredEvent = Pick<AlarmEvent, 'id' | 'state' | 'rule' | 'device' | 'ts' | 'raisedAt' | 'metric'>;

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(4)).toString());
const NONE: AlarmEvent[] = [];

export class AlarmEngine {
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly pairs = new Map<string, PairState>();
  private readonly silent: PairState[] = [];
  readonly counters: EngineCounters = { evaluated: 0, outOfOrder: 0, raised: 0, cleared: 0 };

  constructor(rules: AlarmRules, private readonly clock: () => number = Date.now) {
    const start = clock();
    for (const [id, list] of rules.byDevice) {
      const entry: DeviceEntry = { pairs: [], silence: [] };
      for (const b of list) {
        const s: PairState = { b, lastTs: -Infinity, touched: false, restoredTs: -Infinity, windowSum: 0, lastSeen: start };
        this.pairs.set(`${b.rule.id}\u0000${id}`, s);
        if (b.rule.type === 'silence') {
          entry.silence.push(s);
          this.silent.push(s);
        } else entry.pairs.push(s);
      }
      this.devices.set(id, entry);
    }
  }

  /** Evaluates the readings of one message (in order). Hot path: devices without rules cost one Map get. */
  onReadings(device: DeviceModel, readings: readonly Reading[]): AlarmEvent[] {
    const entry = this.devices.get(device.id);
    if (!entry) return NONE;
    let out: AlarmEvent[] | undefined;
    if (entry.silence.length > 0) {
      const now = this.clock();
      for (const s of entry.silence) {
        s.lastSeen = now;
        if (s.active) (out ??= []).push(this.clear(s, now, { bad: false, ok: true, metric: '_silence', value: 0, threshold: s.b.silenceMs! / 1000, say: 'reporting' }));
      }
    }
    for (const r of readings) {
      for (const s of entry.pairs) {
        const ev = this.step(s, r);
        if (ev) (out ??= []).push(ev);
      }
    }
    return out ?? NONE;
  }

  /** Raises silence alarms of devices not heard from for their limit (platform time). Call every second or so. */
  tick(): AlarmEvent[] {
    const now = this.clock();
    let out: AlarmEvent[] | undefined;
    for (const s of this.silent) {
      const limit = s.b.silenceMs!;
      if (s.active || now - s.lastSeen <= limit) continue;
      const secs = Math.round((now - s.lastSeen) / 1000);
      (out ??= []).push(this.raise(s, now, {
        bad: true, ok: false, metric: '_silence', value: secs, threshold: limit / 1000,
        say: 'silent',
      }));
    }
    return out ?? NONE;
  }

  /**
   * Rebuilds state from events of a previous run (InfluxDB at start, or the spool replayed).
   * Per (rule, device) the newest event wins; pairs this run already raised or cleared are left alone.
   * Returns how many events were applied.
   */
  restore(events: readonly RestoredEvent[]): number {
    let n = 0;
    for (const ev of events) {
      const s = this.pairs.get(`${ev.rule}\u0000${ev.device}`);
      if (!s || s.touched || ev.ts < s.restoredTs) continue;
      s.restoredTs = ev.ts;
      s.pendingSince = s.clearSince = undefined;
      s.active = ev.state === 'raised' ? { id: ev.id, raisedAt: ev.raisedAt, metric: ev.metric } : undefined;
      n++;
    }
    return n;
  }

  /** Open alarms: (rule, device, id). */
  open(): { rule: string; device: string; id: string }[] {
    const out = [];
    for (const s of this.pairs.values()) if (s.active) out.push({ rule: s.b.rule.id, device: s.b.device.id, id: s.active.id });
    return out;
  }

  private step(s: PairState, r: Reading): AlarmEvent | undefined {
    if (r.ts <= s.lastTs) {
      this.counters.outOfOrder++;
      return undefined;
    }
    const obs = this.observe(s, r);
    if (!obs) return undefined;
    this.counters.evaluated++;
    const t = r.ts;
    if (t - s.lastTs > s.b.maxGapMs) s.pendingSince = s.clearSince = undefined; // no continuous evidence
    s.lastTs = t;
    const { forMs, clearForMs } = s.b.rule;
    if (!s.active) {
      if (!obs.bad) {
        s.pendingSince = undefined;
        return undefined;
      }
      s.pendingSince ??= t;
      return t - s.pendingSince >= forMs ? this.raise(s, t, obs) : undefined;
    }
    if (!obs.ok) {
      s.clearSince = undefined;
      return undefined;
    }
    s.clearSince ??= t;
    return t - s.clearSince >= clearForMs ? this.clear(s, t, obs) : undefined;
  }

  private event(s: PairState, state: AlarmEvent['state'], ts: number, raisedAt: number, id: string, obs: Observation): AlarmEvent {
    const { rule, device } = s.b;
    return {
      id, state, rule: rule.id, severity: rule.severity, ...eventPlace(device),
      metric: obs.metric, value: obs.value, threshold: obs.threshold,
      message: `${device.id} ${rule.id}: ${state === 'raised' ? '' : 'cleared, '}${this.describe(s, obs)}${state === 'raised' && rule.forMs > 0 ? ` for ${fmt(rule.forMs / 1000)} s or more` : ''}`,
      ts, raisedAt, emittedAt: this.clock(),
    };
  }

  private raise(s: PairState, ts: number, obs: Observation): AlarmEvent {
    const id = alarmId(s.b.rule.id, s.b.device.id, ts);
    s.active = { id, raisedAt: ts, metric: obs.metric };
    s.pendingSince = s.clearSince = undefined;
    s.touched = true;
    this.counters.raised++;
    return this.event(s, 'raised', ts, ts, id, obs);
  }

  private clear(s: PairState, ts: number, obs: Observation): AlarmEvent {
    const a = s.active!;
    s.active = undefined;
    s.pendingSince = s.clearSince = undefined;
    s.touched = true;
    this.counters.cleared++;
    return this.event(s, 'cleared', ts, a.raisedAt, a.id, obs);
  }

  private describe(s: PairState, o: Observation): string {
    const { rule, device } = s.b;
    const unit = device.kind.metrics.get(o.metric)?.unit ?? '';
    const v = `${o.metric} ${fmt(o.value)} ${unit}`;
    switch (o.say) {
      case 'above': return `${v} above ${fmt(o.threshold)}`;
      case 'below': return `${v} below ${fmt(o.threshold)}`;
      case 'inside': return `${v} back within limits`;
      case 'gate': return `${'when' in rule && rule.when ? rule.when.metric : ''} is ${String(s.gate)}`;
      case 'deviation': return `${o.metric} ${fmt(o.raw!)} ${unit} is ${fmt(o.value)} off set point ${fmt(o.setpoint!)} (allowed ±${fmt(o.threshold)})`;
      case 'increase': return `${o.metric} rose ${fmt(o.value)} ${unit} in ${fmt((rule as { windowMs: number }).windowMs / 60_000)} min (quota ${fmt(o.threshold)})`;
      case 'silent': return `no reading for ${o.value} s (limit ${o.threshold} s = ${(rule as { factor: number }).factor} × interval ${device.intervalMs / 1000} s)`;
      case 'reporting': return 'reporting again';
    }
  }

  /** The rule's view of one reading, or undefined when the reading says nothing about it. */
  private observe(s: PairState, r: Reading): Observation | undefined {
    const rule = s.b.rule;
    const m = r.metrics;
    if ((rule.type === 'threshold' || rule.type === 'deviation') && rule.when) {
      const g = m[rule.when.metric];
      if (g !== undefined) s.gate = g;
    }
    const gateClosed = (rule.type === 'threshold' || rule.type === 'deviation') && rule.when !== undefined
      && s.gate !== undefined && !rule.when.in.includes(s.gate);
    const h = rule.hysteresis;
    switch (rule.type) {
      case 'threshold': {
        let seen = false;
        const values = (s.values ??= new Map());
        for (const name of rule.metrics) {
          const v = m[name];
          if (typeof v === 'number') {
            values.set(name, v);
            seen = true;
          }
        }
        if (!seen) return undefined;
        const { above, below } = s.b;
        let worst: Observation | undefined;
        let excess = -Infinity;
        let ok = true;
        for (const [name, v] of values) {
          if (above !== undefined) {
            if (v > above && v - above > excess) {
              excess = v - above;
              worst = { bad: true, ok: false, metric: name, value: v, threshold: above, say: 'above' };
            }
            if (v > above - h) ok = false;
          }
          if (below !== undefined) {
            if (v < below && below - v > excess) {
              excess = below - v;
              worst = { bad: true, ok: false, metric: name, value: v, threshold: below, say: 'below' };
            }
            if (v < below + h) ok = false;
          }
        }
        if (gateClosed) return { bad: false, ok: true, metric: rule.metrics[0]!, value: values.values().next().value ?? 0, threshold: above ?? below ?? 0, say: 'gate' };
        if (worst) return worst;
        const name = (s.active && values.has(s.active.metric) ? s.active.metric : undefined) ?? values.keys().next().value!;
        const v = values.get(name)!;
        return { bad: false, ok, metric: name, value: v, threshold: above ?? below!, say: 'inside' };
      }
      case 'deviation': {
        if ('metric' in rule.setpoint) {
          const sp = m[rule.setpoint.metric];
          if (typeof sp === 'number') s.setpoint = sp;
        }
        const v = m[rule.metric];
        const sp = s.b.setpoint ?? s.setpoint;
        if (typeof v !== 'number' || sp === undefined) return undefined;
        const dev = Math.abs(v - sp);
        if (gateClosed) return { bad: false, ok: true, metric: rule.metric, value: dev, threshold: rule.maxDeviation, say: 'gate' };
        return { bad: dev > rule.maxDeviation, ok: dev <= rule.maxDeviation - h, metric: rule.metric, value: dev, threshold: rule.maxDeviation, say: 'deviation', raw: v, setpoint: sp };
      }
      case 'increase': {
        const v = m[rule.metric];
        if (typeof v !== 'number') return undefined;
        const w = (s.window ??= []);
        if (s.lastCounter !== undefined) {
          const delta = v >= s.lastCounter ? v - s.lastCounter : 0; // a reset counts nothing
          w.push({ ts: r.ts, delta });
          s.windowSum += delta;
        }
        s.lastCounter = v;
        while (w.length > 0 && w[0]!.ts <= r.ts - rule.windowMs) s.windowSum -= w.shift()!.delta;
        const above = s.b.above!;
        const inc = Math.max(0, s.windowSum);
        return {
          bad: inc > above, ok: inc <= above - h, metric: rule.metric, value: inc, threshold: above,
          say: 'increase',
        };
      }
      case 'silence':
        return undefined;
    }
  }
}
