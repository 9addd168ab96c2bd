/**
 * Physics sanity of every device model over simulated days, without MQTT: counters never
 * decrease, cold rooms hold their band, the kiln holds its set point and burns gas in proportion
 * to output, freeze-dryer phases come in order, the cleanroom cascade stays at 10–15 Pa, and
 * meters read what their workshop consumes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { MetricValue } from '../core/contract.ts';
import { loadParkModel } from '../core/model-file.ts';
import type { DeviceModel } from '../core/model.ts';
import { createSim } from '../simulators/models/index.ts';
import { FD_PHASE_ORDER } from '../simulators/models/vaccine.ts';
import { outdoorTempC } from '../simulators/physics.ts';

const model = loadParkModel();
const DAY = 86_400_000;
/** 2025-07-01 00:00 in Chongqing (UTC+8). */
const ORIGIN = Date.UTC(2025, 5, 30, 16, 0, 0);
type Row = Record<string, MetricValue> & { t: number };

/**
 * Samples a device every stepMs. The physics tick is coarser than the runner's default 1 s to
 * keep multi-day runs fast; every law is discretised exactly, so the behaviour is the same.
 */
function series(d: DeviceModel, days: number, stepMs: number, seed = 'physics', tickMs = 5000): Row[] {
  const sim = createSim(d, { seed, originMs: ORIGIN, model, tickMs });
  const out: Row[] = [];
  for (let t = ORIGIN; t < ORIGIN + days * DAY; t += stepMs) out.push({ ...sim.sample(t), t });
  return out;
}
const dev = (id: string): DeviceModel => model.devices.get(id) as DeviceModel;
const num = (r: Row, k: string): number => r[k] as number;
const share = <T>(xs: readonly T[], f: (x: T) => boolean): number => xs.filter(f).length / xs.length;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** One simulated day of the whole park, sampled every 30 s. */
const day = new Map<string, Row[]>();
beforeAll(() => {
  for (const d of model.devices.values()) day.set(d.id, series(d, 1, 30_000, 'physics', 2000));
});

describe('every model over a simulated day', () => {
  it('counters only count up, and the producing ones do count', () => {
    for (const d of model.devices.values()) {
      const rows = day.get(d.id) as Row[];
      for (const m of d.kind.metrics.values()) {
        if (m.type !== 'counter') continue;
        for (let i = 1; i < rows.length; i++) {
          expect(num(rows[i] as Row, m.name), `${d.id} ${m.name} at ${i}`).toBeGreaterThanOrEqual(num(rows[i - 1] as Row, m.name));
        }
      }
    }
    for (const [id, m] of [['wm-em-main', 'energy'], ['wm-gm-main', 'volume'], ['al-sm-main', 'mass'], ['wm-press-1', 'pieces'],
      ['wm-sort-1', 'output'], ['al-fill-1', 'doses'], ['dj-weld-1', 'welds'], ['xb-loom-1', 'cloth'], ['wm-mill-1', 'energy']] as const) {
      const rows = day.get(id) as Row[];
      expect(num(rows.at(-1) as Row, m), `${id} ${m}`).toBeGreaterThan(num(rows[0] as Row, m));
    }
  });

  it('sorting line: grade A is about gradeAShare of output and rejects are exactly output − grade A', () => {
    const rows = day.get('wm-sort-1') as Row[];
    for (const r of rows) expect(num(r, 'rejects')).toBeCloseTo(num(r, 'output') - num(r, 'grade_a'), 6);
    const first = rows[0] as Row;
    const last = rows.at(-1) as Row;
    const ratio = (num(last, 'grade_a') - num(first, 'grade_a')) / (num(last, 'output') - num(first, 'output'));
    expect(ratio).toBeGreaterThan(0.93);
    expect(ratio).toBeLessThan(0.99);
  });

  it('cold rooms hold 2–8 °C with a compressor duty cycle; power follows the compressor; doors open', () => {
    for (const id of ['al-cold-1', 'al-cold-2']) {
      const rows = day.get(id) as Row[];
      expect(share(rows, (r) => num(r, 'temp') >= 1.5 && num(r, 'temp') <= 9), id).toBeGreaterThan(0.99);
      expect(Math.max(...rows.map((r) => num(r, 'temp'))), id).toBeLessThan(12);
      const duty = share(rows, (r) => r.compressor_on === true);
      expect(duty, id).toBeGreaterThan(0.2);
      expect(duty, id).toBeLessThan(0.8);
      let switches = 0;
      for (let i = 1; i < rows.length; i++) if ((rows[i] as Row).compressor_on !== (rows[i - 1] as Row).compressor_on) switches++;
      expect(switches, id).toBeGreaterThan(40); // cycles of tens of minutes, not a constant state
      for (const r of rows) expect(num(r, 'power') > 5, id).toBe(r.compressor_on);
      expect(rows.some((r) => r.door_open === true), id).toBe(true);
    }
    const chill = day.get('rf-cold-1') as Row[]; // 0–4 °C chilled store
    expect(share(chill, (r) => num(r, 'temp') >= -0.5 && num(r, 'temp') <= 5)).toBeGreaterThan(0.99);
  });

  it('cleanroom AHUs keep the cascade positive at ~10–15 Pa; grade 3 has no B room; particles within limits; chiller follows the outdoor cycle', () => {
    for (const [id, dps] of [['al-ahu-1', ['dp_b_c', 'dp_c_d', 'dp_d_out']], ['al-ahu-2', ['dp_c_d', 'dp_d_out']]] as const) {
      const rows = day.get(id) as Row[];
      for (const k of dps) {
        const v = rows.map((r) => num(r, k));
        expect(Math.min(...v), `${id} ${k}`).toBeGreaterThan(0);
        expect(median(v), `${id} ${k}`).toBeGreaterThanOrEqual(10);
        expect(median(v), `${id} ${k}`).toBeLessThanOrEqual(15);
        expect(share(rows, (r) => num(r, k) >= 10 && num(r, k) <= 15), `${id} ${k}`).toBeGreaterThan(0.95);
      }
      const chiller = rows.map((r) => num(r, 'chiller_power'));
      const outdoor = rows.map((r) => outdoorTempC(r.t));
      expect(correlation(chiller, outdoor), id).toBeGreaterThan(0.8);
      for (const r of rows) expect(Math.abs(num(r, 'supply_temp') - 20), id).toBeLessThan(1);
    }
    expect((day.get('al-ahu-2') as Row[]).every((r) => r.dp_b_c === 0)).toBe(true);
    expect(Math.max(...(day.get('al-ahu-1') as Row[]).map((r) => num(r, 'particles_05')))).toBeLessThan(352_000); // grade B, in operation
    expect(Math.max(...(day.get('al-ahu-2') as Row[]).map((r) => num(r, 'particles_05')))).toBeLessThan(3_520_000); // grade C
  });

  it('meters: the main electricity meter reads about the sum of its workshop, the gas meter the sum of the burners', () => {
    const tile = ['wm-mill-1', 'wm-mill-2', 'wm-spray-1', 'wm-press-1', 'wm-press-2', 'wm-dryer-1', 'wm-glaze-1', 'wm-kiln-1', 'wm-polish-1'];
    const meter = day.get('wm-em-main') as Row[];
    const gas = day.get('wm-gm-main') as Row[];
    const ratios: number[] = [];
    const gasRatios: number[] = [];
    meter.forEach((m, i) => {
      const rows = tile.map((id) => (day.get(id) as Row[])[i] as Row);
      const kw = rows.reduce((s, r) => s + ((r.power ?? r.fan_power) as number), 0);
      const m3h = rows.reduce((s, r) => s + ((r.gas_flow as number | undefined) ?? 0), 0);
      ratios.push(num(m, 'power') / kw);
      if (m3h > 100) gasRatios.push(num(gas[i] as Row, 'flow') / m3h);
    });
    // The meter also sees base load (lighting, offices) and the sorting line's drives.
    expect(share(ratios, (x) => x > 0.97 && x < 1.15)).toBeGreaterThan(0.95);
    expect(share(gasRatios, (x) => x > 0.95 && x < 1.05)).toBeGreaterThan(0.95);
    // The energy counter is the integral of the power it reports.
    const kwh = num(meter.at(-1) as Row, 'energy') - num(meter[0] as Row, 'energy');
    const mean = meter.reduce((s, r) => s + num(r, 'power'), 0) / meter.length;
    expect(kwh / (mean * 24)).toBeCloseTo(1, 1);
  });

  it('machines count what they make: press pieces from strokes, loom cloth from picks', () => {
    const press = day.get('wm-press-1') as Row[];
    const strokes = press.reduce((s, r) => s + num(r, 'stroke_rate') * 0.5, 0); // 30 s samples
    const pieces = num(press.at(-1) as Row, 'pieces') - num(press[0] as Row, 'pieces');
    expect(pieces / (strokes * 4)).toBeCloseTo(1, 1);
    const loom = day.get('xb-loom-1') as Row[];
    const picks = loom.reduce((s, r) => s + num(r, 'speed') * 0.5, 0);
    const cloth = num(loom.at(-1) as Row, 'cloth') - num(loom[0] as Row, 'cloth');
    expect(cloth / (picks / 2400)).toBeCloseTo(1, 1);
  });

  it('the air compressor loads and unloads around its set point', () => {
    const rows = day.get('dj-comp-1') as Row[];
    for (const r of rows) expect(Math.abs(num(r, 'pressure') - 7)).toBeLessThan(0.65);
    expect(share(rows, (r) => r.loaded === true)).toBeGreaterThan(0.1);
    // Power follows the load state (a few seconds behind it at a switch).
    expect(share(rows, (r) => num(r, 'power') > 80 === r.loaded)).toBeGreaterThan(0.95);
  });
});

describe('batch processes and the kiln over several days', () => {
  it('roller kiln: firing zone near set point when running, gas follows output and set point, the line follows the kiln', () => {
    const k = dev('wm-kiln-1');
    const rows = series(k, 7, 60_000, 'kiln-week');
    const states = new Set(rows.map((r) => r.run_state));
    expect([...states].sort()).toEqual(['fault', 'idle', 'running', 'stopped']);
    const settled = (i: number, state: string, minutes: number): boolean =>
      rows.slice(Math.max(0, i - minutes), i + 1).every((r) => r.run_state === state);
    const running = rows.filter((_, i) => settled(i, 'running', 45));
    const idle = rows.filter((_, i) => settled(i, 'idle', 15));
    expect(running.length).toBeGreaterThan(rows.length / 2);
    expect(idle.length).toBeGreaterThan(5);
    for (const r of running) {
      expect(Math.abs(num(r, 't_firing') - 1190)).toBeLessThan(15);
      expect(num(r, 'output_rate')).toBeGreaterThan(380);
      expect(num(r, 'gas_flow') / num(r, 'output_rate')).toBeGreaterThan(1.3 * 0.9);
      expect(num(r, 'gas_flow') / num(r, 'output_rate')).toBeLessThan(1.3 * 1.15);
    }
    for (const r of idle) {
      expect(num(r, 'output_rate')).toBeLessThan(5);
      expect(num(r, 'gas_flow') / 260).toBeGreaterThan(0.8);
      expect(num(r, 'gas_flow') / 260).toBeLessThan(1.2);
    }
    for (const r of rows.filter((x) => x.run_state === 'fault')) expect(r.gas_flow).toBe(0);
    // The sorting line on the same line never runs while the kiln is stopped or faulted.
    const sort = series(dev('wm-sort-1'), 7, 60_000, 'kiln-week');
    rows.forEach((r, i) => {
      if (r.run_state === 'stopped' || r.run_state === 'fault') expect((sort[i] as Row).run_state).not.toBe('running');
    });
  });

  it('freeze dryer: phases in order, shelf −45 °C by the end of freezing, condenser ≤ −60 °C and 5–30 Pa while drying', () => {
    const rows = series(dev('al-fd-1'), 5, 60_000, 'fd');
    const phases = rows.map((r) => r.phase as (typeof FD_PHASE_ORDER)[number]);
    const seen: string[] = [];
    phases.forEach((p, i) => {
      if (i > 0 && p !== phases[i - 1]) {
        const prev = FD_PHASE_ORDER.indexOf(phases[i - 1] as (typeof FD_PHASE_ORDER)[number]);
        expect(p).toBe(FD_PHASE_ORDER[(prev + 1) % FD_PHASE_ORDER.length]);
        seen.push(p);
      }
    });
    expect(new Set(seen).size).toBe(FD_PHASE_ORDER.length); // at least one full cycle in 5 days
    rows.forEach((r, i) => {
      if (r.phase === 'primary_drying' || r.phase === 'secondary_drying') {
        expect(num(r, 'condenser_temp')).toBeLessThanOrEqual(-60);
        if (rows[i - 30]?.phase === r.phase) {
          expect(num(r, 'chamber_pressure')).toBeGreaterThanOrEqual(4);
          expect(num(r, 'chamber_pressure')).toBeLessThanOrEqual(30);
        }
      }
      if (r.phase === 'freezing' && rows[i + 1]?.phase === 'primary_drying') expect(num(r, 'shelf_temp')).toBeLessThan(-42);
      if (r.phase === 'secondary_drying' && rows[i + 1]?.phase === 'unloading') expect(num(r, 'shelf_temp')).toBeGreaterThan(27);
    });
  });

  it('bioreactor: 37 ± 0.5 °C through culture, pH drifting in 6.9–7.4, one batch id per cycle', () => {
    const rows = series(dev('al-bio-1'), 8, 60_000, 'bio');
    const culture = rows.filter((r, i) => r.phase === 'culture' && rows[i - 60]?.phase === 'culture');
    expect(culture.length).toBeGreaterThan(2000);
    for (const r of culture) {
      expect(Math.abs(num(r, 'temp') - 37)).toBeLessThanOrEqual(0.5);
      expect(num(r, 'ph')).toBeGreaterThan(6.9);
      expect(num(r, 'ph')).toBeLessThan(7.4);
    }
    const ids = new Set(rows.map((r) => r.batch_id));
    expect(ids.size).toBeGreaterThanOrEqual(2);
    for (const id of ids) expect(id).toMatch(/^AL-BIO-1-\d{8}-\d{3}$/);
    rows.forEach((r, i) => {
      if (i > 0 && r.batch_id !== (rows[i - 1] as Row).batch_id) expect(r.phase).toBe('cip');
    });
  });
});

function correlation(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let c = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    c += da * db;
    va += da * da;
    vb += db * db;
  }
  return c / Math.sqrt(va * vb);
}
