/**
 * Alarm rules: the shipped config/alarms.yaml is valid against the park model and binds rated
 * limits per device; bad files are refused naming path, value and expectation.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ALARM_RULES, loadAlarmRules } from '../core/alarms/file.ts';
import { parseAlarmRules } from '../core/alarms/rules.ts';
import { loadParkModel } from '../core/model-file.ts';
import { refusalMessage } from './harness/refusal.ts';

const model = loadParkModel();

const refusal = (data: unknown): string => refusalMessage(() => parseAlarmRules(data, model), 'SP_ERR_ALARM_RULES', 'rules were');

describe('alarm rules config', () => {
  it('accepts config/alarms.yaml and binds each cold room to its own rated band', () => {
    const rules = loadAlarmRules(DEFAULT_ALARM_RULES, model);
    const cold = (id: string) => rules.byDevice.get(id)!.find((b) => b.rule.id === 'cold-room-temp')!;
    expect([cold('al-cold-1').below, cold('al-cold-1').above]).toEqual([2, 8]);
    expect([cold('rf-cold-1').below, cold('rf-cold-1').above]).toEqual([0, 4]);
  });

  it('scopes the B/C cascade rule away from grade-3 AHUs, keeping C/D and D/corridor on both', () => {
    const rules = loadAlarmRules(DEFAULT_ALARM_RULES, model);
    const ids = (dev: string) => rules.byDevice.get(dev)!.map((b) => b.rule.id);
    expect(ids('al-ahu-1')).toEqual(expect.arrayContaining(['cleanroom-cascade', 'cleanroom-cascade-b']));
    expect(ids('al-ahu-2')).toContain('cleanroom-cascade');
    expect(ids('al-ahu-2')).not.toContain('cleanroom-cascade-b');
  });

  it('gives every device a silence limit of factor × its interval, at least the minimum', () => {
    const rules = loadAlarmRules(DEFAULT_ALARM_RULES, model);
    const silent = (id: string) => rules.byDevice.get(id)!.find((b) => b.rule.type === 'silence')!.silenceMs;
    expect(silent('al-cold-1')).toBe(60_000); // 6 × 10 s
    expect(silent('wm-kiln-1')).toBe(60_000); // 6 × 5 s = 30 s, raised to the 1 min minimum
    expect(rules.byDevice.size).toBe(model.devices.size);
  });

  it('refuses unknown kinds, devices, metrics and rated figures, naming the path', () => {
    const msg = refusal({
      rules: [
        { id: 'a', type: 'threshold', kind: 'cold_rooms', metric: 'temp', above: 8, severity: 'critical' },
        { id: 'b', type: 'threshold', kind: 'cold_room', metric: 'tmp', above: 8, severity: 'critical' },
        { id: 'c', type: 'threshold', kind: 'cold_room', metric: 'temp', above: { rated: 'maxC' }, severity: 'warning' },
        { id: 'd', type: 'threshold', kind: 'cold_room', metric: 'temp', below: 2, severity: 'loud', scope: { exclude: ['no-such-room'] } },
        { id: 'e', type: 'deviation', kind: 'roller_kiln', metric: 'run_state', setpoint: { metric: 'sp_firing' }, maxDeviation: 10, severity: 'major' },
        { id: 'f', type: 'increase', kind: 'electricity_meter', metric: 'power', window: '1h', above: 5, severity: 'info' },
        { id: 'g', type: 'threshold', kind: 'cold_room', metric: 'temp', above: 8, for: '5 minutes', severity: 'info' },
        { id: 'h', type: 'deviation', kind: 'roller_kiln', metric: 't_firing', setpoint: { rated: 'firingSetpointC' }, maxDeviation: 10, severity: 'major', when: { metric: 'run_state', in: ['runing'] } },
      ],
    });
    expect(msg).toContain('rules[0].kind[0]: "cold_rooms" — expected a device kind in the park model');
    expect(msg).toContain('rules[1].metric: "tmp" — expected a metric declared for kind cold_room');
    expect(msg).toContain('rules[2].above.rated: "maxC" — expected a rated figure of every device in scope');
    expect(msg).toContain('rules[3].severity: "loud"');
    expect(msg).toContain('rules[3].scope.exclude[0]: "no-such-room" — expected a device in the park model');
    expect(msg).toContain('rules[4].metric: "run_state" — expected a number or counter or integer metric');
    expect(msg).toContain('rules[5].metric: "power" — expected a counter metric');
    expect(msg).toContain('rules[6].for: "5 minutes" — expected a duration like 30s, 5m, 1h');
    expect(msg).toContain('rules[7].when.in[0]: "runing" — expected one of running, idle, stopped, fault');
  });

  it('refuses a hysteresis that leaves no normal range, duplicate ids and a scope matching nothing', () => {
    const msg = refusal({
      rules: [
        { id: 'x', type: 'threshold', kind: 'cold_room', metric: 'temp', above: 4, below: 3, hysteresis: 1, severity: 'info' },
        { id: 'x', type: 'threshold', kind: 'cold_room', metric: 'temp', above: 9, severity: 'info', scope: { parks: ['guangfu'] } },
      ],
    });
    expect(msg).toContain('rules[0].hysteresis: 1 — expected a dead band that leaves a normal range');
    expect(msg).toContain('rules[1].id: "x" — expected an id not used by another rule');
    expect(msg).toMatch(/scope: .* — expected a scope that matches at least one device/);
  });
});
