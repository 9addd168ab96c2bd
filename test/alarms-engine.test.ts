/**
 * The alarm state machine, rule type by rule type, driven by readings with device timestamps and
 * a fake platform clock: raises after the duration and not before, clears only past the
 * hysteresis (no flapping at the threshold), ignores late readings, rebuilds after a restart.
 */
import { describe, expect, it } from 'vitest';
import { AlarmEngine } from '../core/alarms/engine.ts';
import type { AlarmEvent } from '../core/alarms/events.ts';
import { parseAlarmRules } from '../core/alarms/rules.ts';
import type { MetricValue } from '../core/contract.ts';
import { loadParkModel } from '../core/model-file.ts';

const model = loadParkModel();
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 25, 8, 0, 0);

function engine(rules: unknown[], clock = { now: T0 }) {
  const e = new AlarmEngine(parseAlarmRules({ rules }, model), () => clock.now);
  const events: AlarmEvent[] = [];
  /** One reading of a device at T0 + ms (device time). */
  const send = (device: string, ms: number, metrics: Record<string, MetricValue>) => {
    const out = e.onReadings(model.devices.get(device)!, [{ ts: T0 + ms, metrics }]);
    events.push(...out);
    return out;
  };
  /** The same metric at a series of (minute, value) points. */
  const series = (device: string, metric: string, points: [number, number][]) => {
    for (const [m, v] of points) send(device, m * MIN, { [metric]: v });
  };
  return { e, events, send, series, clock, states: () => events.map((x) => `${x.state}@${(x.ts - T0) / MIN}`) };
}

const coldRule = { id: 'cold', type: 'threshold', kind: 'cold_room', metric: 'temp', above: { rated: 'highC', default: 8 }, below: { rated: 'lowC', default: 2 }, for: '5m', hysteresis: 0.5, severity: 'critical', maxGap: '10m' };

describe('threshold rule (cold room band)', () => {
  it('raises only after the excursion lasted the duration, then clears once back inside by the hysteresis', () => {
    const t = engine([coldRule]);
    t.series('al-cold-1', 'temp', [[0, 5], [1, 8.5], [2, 9], [3, 9.2], [4, 8.8]]);
    expect(t.events).toEqual([]); // 3 min beyond: not yet
    t.series('al-cold-1', 'temp', [[5, 8.6], [6, 8.7]]);
    expect(t.states()).toEqual(['raised@6']); // beyond from minute 1 to 6 = 5 min
    const raised = t.events[0]!;
    expect(raised).toMatchObject({
      id: `cold:al-cold-1:${T0 + 6 * MIN}`, rule: 'cold', severity: 'critical', device: 'al-cold-1', park: 'banqiao',
      enterprise: 'aolong', workshop: 'vaccine', kind: 'cold_room', metric: 'temp', value: 8.7, threshold: 8, raisedAt: T0 + 6 * MIN,
    });
    expect(raised.message).toContain('temp 8.7 degC above 8');
    t.series('al-cold-1', 'temp', [[7, 7.9], [8, 7.6], [9, 8.2]]); // inside, but not by 0.5: still raised
    expect(t.states()).toEqual(['raised@6']);
    t.series('al-cold-1', 'temp', [[10, 7.4]]);
    expect(t.states()).toEqual(['raised@6', 'cleared@10']);
    expect(t.events[1]).toMatchObject({ id: raised.id, state: 'cleared', raisedAt: T0 + 6 * MIN, value: 7.4 });
  });

  it('does not flap when the value dithers around the threshold', () => {
    const t = engine([{ ...coldRule, for: '0' }]);
    const points: [number, number][] = Array.from({ length: 40 }, (_, i) => [i, i % 2 ? 8.05 : 7.95]);
    t.series('al-cold-1', 'temp', points);
    expect(t.states()).toEqual(['raised@1']); // once, and never cleared: 7.95 is not below 8 − 0.5
  });

  it('restarts the duration when the excursion is interrupted, and uses each device\'s rated band', () => {
    const t = engine([coldRule]);
    t.series('al-cold-1', 'temp', [[0, 9], [2, 9], [4, 9], [4.5, 7], [5, 9], [7, 9], [9, 9]]);
    expect(t.events).toEqual([]);
    t.series('al-cold-1', 'temp', [[10, 9]]);
    expect(t.states()).toEqual(['raised@10']);
    // rf-cold-1 is rated 0-4 degC: 5 degC is an excursion there and normal in al-cold-1
    t.series('rf-cold-1', 'temp', [[0, 5], [3, 5], [5, 5]]);
    t.series('al-cold-2', 'temp', [[0, 5], [3, 5], [5, 5]]);
    expect(t.events.map((e) => `${e.device}:${e.state}`)).toEqual(['al-cold-1:raised', 'rf-cold-1:raised']);
    expect(t.events[1]).toMatchObject({ threshold: 4 });
  });

  it('raises on low temperature too, and ignores readings without the metric', () => {
    const t = engine([coldRule]);
    t.send('al-cold-1', 0, { temp: 1.5 });
    t.send('al-cold-1', 3 * MIN, { door_open: true }); // says nothing about temp
    t.send('al-cold-1', 5 * MIN, { temp: 1.9 });
    expect(t.events).toMatchObject([{ state: 'raised', value: 1.9, threshold: 2 }]);
    expect(t.events[0]!.message).toContain('below 2');
  });

  it('ignores late and repeated readings (device time never goes backwards) and restarts after a gap', () => {
    const t = engine([coldRule]);
    t.series('al-cold-1', 'temp', [[0, 9], [6, 9]]);
    expect(t.states()).toEqual(['raised@6']);
    t.series('al-cold-1', 'temp', [[5, 5], [6, 5]]); // late / redelivered: do not clear
    expect(t.states()).toEqual(['raised@6']);
    expect(t.e.counters.outOfOrder).toBe(2);
    t.series('al-cold-1', 'temp', [[7, 5]]);
    expect(t.states()).toEqual(['raised@6', 'cleared@7']);
    // a gap longer than maxGap (10 min) between two bad readings is no proof of 5 min beyond
    t.series('al-cold-1', 'temp', [[8, 9], [30, 9]]);
    expect(t.states()).toEqual(['raised@6', 'cleared@7']);
    t.series('al-cold-1', 'temp', [[35, 9]]);
    expect(t.states()).toEqual(['raised@6', 'cleared@7', 'raised@35']);
  });
});

describe('deviation rule (kiln firing zone)', () => {
  const kiln = { id: 'kiln', type: 'deviation', kind: 'roller_kiln', metric: 't_firing', setpoint: { metric: 'sp_firing' }, maxDeviation: 15, hysteresis: 5, for: '10m', maxGap: '5m', when: { metric: 'run_state', in: ['running'] }, severity: 'major' };

  it('raises after |t − set point| > X for N minutes, using the last set point sent, and clears inside X − hysteresis', () => {
    const t = engine([kiln]);
    t.send('wm-kiln-1', 0, { sp_firing: 1190, t_firing: 1189, run_state: 'running' });
    for (let m = 1; m <= 9; m++) t.send('wm-kiln-1', m * MIN, { t_firing: 1170 });
    expect(t.events).toEqual([]);
    t.send('wm-kiln-1', 11 * MIN, { t_firing: 1172 });
    expect(t.events).toMatchObject([{ state: 'raised', metric: 't_firing', value: 18, threshold: 15 }]);
    t.send('wm-kiln-1', 12 * MIN, { t_firing: 1178 }); // 12 off: inside 15 but not by 5
    expect(t.events).toHaveLength(1);
    t.send('wm-kiln-1', 13 * MIN, { t_firing: 1181 });
    expect(t.states()).toEqual(['raised@11', 'cleared@13']);
  });

  it('does not alarm while the kiln is not running, and clears when it stops', () => {
    const t = engine([{ ...kiln, for: '0' }]);
    t.send('wm-kiln-1', 0, { sp_firing: 1190, t_firing: 900, run_state: 'stopped' });
    t.send('wm-kiln-1', MIN, { t_firing: 850 });
    expect(t.events).toEqual([]);
    t.send('wm-kiln-1', 2 * MIN, { t_firing: 1150, run_state: 'running' });
    t.send('wm-kiln-1', 3 * MIN, { t_firing: 1150, run_state: 'idle' });
    expect(t.states()).toEqual(['raised@2', 'cleared@3']);
  });
});

describe('cleanroom cascade (any of several metrics, per-device scope)', () => {
  const rules = [
    { id: 'cascade', type: 'threshold', kind: 'cleanroom_ahu', metrics: ['dp_c_d', 'dp_d_out'], below: 5, hysteresis: 1, for: '30s', severity: 'critical' },
    { id: 'cascade-b', type: 'threshold', kind: 'cleanroom_ahu', metric: 'dp_b_c', below: 5, hysteresis: 1, for: '30s', severity: 'critical', scope: { rated: { grade: { max: 2 } } } },
  ];
  const S = 1000;

  it('raises when any pressure step stays low, names the worst one, and spares grade-3 AHUs their dp_b_c = 0', () => {
    const t = engine(rules);
    for (let s = 0; s <= 40; s += 5) {
      t.send('al-ahu-1', s * S, { dp_b_c: 12, dp_c_d: s >= 5 ? 3 : 12, dp_d_out: 11 });
      t.send('al-ahu-2', s * S, { dp_b_c: 0, dp_c_d: 12, dp_d_out: 11 });
    }
    expect(t.events.map((e) => `${e.rule}:${e.device}:${e.metric}@${(e.ts - T0) / S}`)).toEqual(['cascade:al-ahu-1:dp_c_d@35']);
    // recovery of dp_c_d to 5.5 is not enough (hysteresis 1); to 6.5 clears
    t.send('al-ahu-1', 45 * S, { dp_c_d: 5.5 });
    t.send('al-ahu-1', 50 * S, { dp_c_d: 6.5 });
    expect(t.events.map((e) => e.state)).toEqual(['raised', 'cleared']);
    expect(t.events[1]).toMatchObject({ metric: 'dp_c_d', value: 6.5 });
  });
});

describe('silence rule (platform clock)', () => {
  it('raises after factor × interval without a reading, once, and clears on the next reading', () => {
    const clock = { now: T0 };
    const t = engine([{ id: 'silent', type: 'silence', kind: 'cold_room', factor: 3, severity: 'warning', scope: { devices: ['al-cold-1'] } }], clock);
    clock.now += 10_000;
    t.send('al-cold-1', 0, { temp: 5 });
    clock.now += 30_000; // exactly 3 × 10 s: not yet
    expect(t.e.tick()).toEqual([]);
    clock.now += 1;
    const raised = t.e.tick();
    expect(raised).toMatchObject([{ state: 'raised', rule: 'silent', device: 'al-cold-1', metric: '_silence', threshold: 30, ts: clock.now }]);
    clock.now += 60_000;
    expect(t.e.tick()).toEqual([]); // not raised twice
    clock.now += 1000;
    const cleared = t.send('al-cold-1', 1000, { temp: 5 });
    expect(cleared).toMatchObject([{ state: 'cleared', id: raised[0]!.id, ts: clock.now }]);
  });

  it('counts a device that never reported from the engine start', () => {
    const clock = { now: T0 };
    const t = engine([{ id: 'silent', type: 'silence', kind: 'cold_room', factor: 3, min: '2m', severity: 'warning' }], clock);
    clock.now += 2 * MIN;
    expect(t.e.tick()).toEqual([]);
    clock.now += 1;
    expect(t.e.tick().map((e) => e.device).sort()).toEqual(['al-cold-1', 'al-cold-2', 'rf-cold-1']);
  });
});

describe('increase rule (simple quota)', () => {
  it('raises when a counter rises more than the quota within the rolling window, and clears as the window moves on', () => {
    const t = engine([{ id: 'quota', type: 'increase', kind: 'electricity_meter', metric: 'energy', window: '1h', above: 100, hysteresis: 10, severity: 'warning', scope: { devices: ['al-em-main'] } }]);
    let e = 5000;
    for (let m = 0; m <= 50; m += 10) t.series('al-em-main', 'energy', [[m, (e += 15)]]); // 75 kWh in 50 min
    expect(t.events).toEqual([]);
    t.series('al-em-main', 'energy', [[55, (e += 30)]]); // 105 in 55 min
    expect(t.events).toMatchObject([{ state: 'raised', value: 105, threshold: 100 }]);
    t.series('al-em-main', 'energy', [[56, 10]]); // counter reset: counts nothing
    t.series('al-em-main', 'energy', [[70, 12], [80, 14], [125, 15]]);
    expect(t.states()).toEqual(['raised@55', 'cleared@80']);
  });
});

describe('restart', () => {
  it('rebuilds open alarms from stored events so the next readings neither re-raise nor forget them', () => {
    const first = engine([coldRule]);
    first.series('al-cold-1', 'temp', [[0, 9], [5, 9]]);
    first.series('al-cold-2', 'temp', [[0, 9], [5, 9], [6, 5]]);
    expect(first.states()).toEqual(['raised@5', 'raised@5', 'cleared@6']);
    const second = engine([coldRule]);
    // newest event per (rule, device) wins whatever order they come in
    expect(second.e.restore([...first.events].reverse())).toBe(2);
    expect(second.e.open()).toEqual([{ rule: 'cold', device: 'al-cold-1', id: first.events[0]!.id }]);
    second.series('al-cold-1', 'temp', [[7, 9], [15, 9]]);
    expect(second.events).toEqual([]); // still open, not raised again
    second.series('al-cold-1', 'temp', [[16, 5]]);
    expect(second.events).toMatchObject([{ state: 'cleared', id: first.events[0]!.id }]);
    // a late restore (InfluxDB slow to answer) does not undo what this run decided
    expect(second.e.restore([first.events[0]!])).toBe(0);
    expect(second.e.open()).toEqual([]);
  });
});
