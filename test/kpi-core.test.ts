/**
 * The pure KPI formulas of core/kpi against hand-computed numbers (exact, or to 1e-9 where
 * floating point rounds): counter accounting across resets, gaps and meter replacements, the
 * database digest path agreeing with the raw-reading reference, standard coal, carbon with dated
 * grid factors, GB 21252 grades, ISO 22400 OEE, shift windows, and config validation naming paths.
 */
import { describe, expect, it } from 'vitest';
import { counterIncrements, digestIncrements, replacementIncrement, stepIncrement, sumIncrements, type CounterDigest, type Sample } from '../core/kpi/counters.ts';
import { loadProduction, loadStandards } from '../core/kpi/config-file.ts';
import { carbon, carrierEnergy, grade, intensityTcePer10kYuan, oee, perUnit, plannedWindows, standardCoal, windowsMs } from '../core/kpi/formulas.ts';
import { parseProduction } from '../core/kpi/production.ts';
import { parseStandards, unitFactor } from '../core/kpi/standards.ts';
import { loadParkModel } from '../core/model-file.ts';
import { parseParkModel } from '../core/model.ts';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';

const H = 3_600_000;
const standards = loadStandards();
const model = loadParkModel();

describe('counter accounting', () => {
  it('takes the difference of readings, and the new value after a reset (counter restarted from 0)', () => {
    expect(stepIncrement(100, 130)).toBe(30);
    expect(stepIncrement(1000, 40)).toBe(40);
    expect(replacementIncrement(6300, 150, { at: 0, oldFinal: 6400, newInitial: 0 })).toBe(250);
    expect(replacementIncrement(6300, 150, { at: 0, oldFinal: 6400, newInitial: 100 })).toBe(150);
  });

  it('attributes each increment to the period of the reading that revealed it: a gap lands whole after it', () => {
    // 0h:1000 (before the period) | 1h:1100 | 2h:1250 | gap | 7h:1850 | 8h:20 (reset) | 9h:80
    const s: Sample[] = [[0, 1000], [1, 1100], [2, 1250], [7, 1850], [8, 20], [9, 80]].map(([h, v]) => ({ ts: h! * H, v: v! }));
    const inc = counterIncrements(s, 0.5 * H, 10 * H);
    expect(inc.map((x) => [x.ts / H, x.amount, x.kind])).toEqual([[1, 100, 'first'], [2, 150, 'interval'], [7, 600, 'interval'], [8, 20, 'reset'], [9, 60, 'interval']]);
    expect(sumIncrements(inc)).toBe(930);
    // periods that tile the range sum to the range
    const a = sumIncrements(counterIncrements(s, 0.5 * H, 5 * H));
    const b = sumIncrements(counterIncrements(s, 5 * H, 10 * H));
    expect([a, b, a + b]).toEqual([250, 680, 930]);
    // a late reading in the gap splits it, the total stays
    const late = [...s, { ts: 4 * H, v: 1500 }];
    expect([sumIncrements(counterIncrements(late, 0.5 * H, 5 * H)), sumIncrements(counterIncrements(late, 5 * H, 10 * H))]).toEqual([500, 430]);
  });

  it('turns the interval across a declared meter replacement into the old meter\'s rest plus the new one\'s start', () => {
    const s: Sample[] = [{ ts: 0, v: 6300 }, { ts: 2 * H, v: 150 }, { ts: 3 * H, v: 400 }];
    const r = { at: 1 * H, oldFinal: 6400, newInitial: 0 };
    expect(sumIncrements(counterIncrements(s, 0, 4 * H, [r]))).toBe(100 + 150 + 250);
    expect(sumIncrements(counterIncrements(s, 0, 4 * H))).toBe(150 + 250); // undeclared: seen as a reset
  });

  it('gives from a database digest the same sums as from the raw readings (resets, replacement, bucketed)', () => {
    let v = 500;
    const raw: Sample[] = [];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let t = 0; t < 30 * H; t += 10 * 60_000) {
      if (rnd() < 0.08) continue; // gaps
      v = rnd() < 0.03 ? rnd() * 5 : v + rnd() * 20; // resets
      raw.push({ ts: t, v });
    }
    const r = { at: 20 * H + 5 * 60_000, oldFinal: 0, newInitial: 0 };
    const before = [...raw].reverse().find((x) => x.ts < r.at)!;
    r.oldFinal = before.v + 3;
    const from = 5 * H + 60_000;
    const to = 28 * H;
    const inRange = raw.filter((x) => x.ts >= from && x.ts < to);
    const buckets = new Map<number, number>();
    let resets = 0;
    for (let i = 1; i < inRange.length; i++) {
      const b = Math.max(from, Math.floor(inRange[i]!.ts / H) * H);
      buckets.set(b, (buckets.get(b) ?? 0) + stepIncrement(inRange[i - 1]!.v, inRange[i]!.v));
      if (inRange[i]!.v < inRange[i - 1]!.v) resets++;
    }
    expect(resets).toBeGreaterThan(0);
    const digest: CounterDigest = {
      prev: [...raw].reverse().find((x) => x.ts < from), first: inRange[0], resets,
      buckets: [...buckets].map(([ts, sum]) => ({ ts, sum })),
      replacements: [{ r, before, after: raw.find((x) => x.ts >= r.at) }],
    };
    const ref = counterIncrements(raw, from, to, [r]);
    const dig = digestIncrements(digest, from, to);
    expect(sumIncrements(dig)).toBeCloseTo(sumIncrements(ref), 9);
    for (let h = 5; h < 28; h++) {
      const keep = (ts: number) => ts >= h * H && ts < (h + 1) * H;
      expect(sumIncrements(dig, keep)).toBeCloseTo(sumIncrements(ref, keep), 9);
    }
  });
});

describe('standard coal and carbon (config/standards.yaml)', () => {
  it('converts carriers with the GB/T 2589-2020 coefficients, in the coefficient\'s unit', () => {
    expect(standardCoal(2150, 'kWh', standards.carriers.get('electricity')!)).toBeCloseTo(264.235, 9);
    expect(standardCoal(2750, 'm3', standards.carriers.get('natural_gas')!)).toBeCloseTo(3339.325, 9);
    expect(standardCoal(2, 't', standards.carriers.get('steam_lp')!)).toBeCloseTo(257.2, 9); // 2000 kg × 0.1286
    expect(standardCoal(40, 't', standards.carriers.get('fresh_water')!)).toBeCloseTo(3.428, 9);
    expect(unitFactor('t', 'kg')).toBe(1000);
    expect(unitFactor('kWh', 'kg')).toBeUndefined();
    const e = carrierEnergy(standards, 'electricity', 2150, 'kWh');
    expect([e.kgce, e.kgceEquivalent, e.kgceEqualValue]).toEqual([2150 * 0.1229, 2150 * 0.1229, 2150 * 0.3]);
  });

  it('picks the grid factor of the latest published year not after the data year', () => {
    expect(carbon(standards, 'electricity', 1000, 'kWh', 2021)!.kgCO2).toBeCloseTo(556.8, 9);
    expect(carbon(standards, 'electricity', 1000, 'kWh', 2022)!.kgCO2).toBeCloseTo(536.6, 9);
    expect(carbon(standards, 'electricity', 1000, 'kWh', 2023)!.kgCO2).toBeCloseTo(530.6, 9);
    expect(carbon(standards, 'electricity', 1000, 'kWh', 2026)).toMatchObject({ factor: 0.5306, year: 2023 });
    expect(carbon(standards, 'natural_gas', 2750, 'm3', 2026)!.kgCO2).toBeCloseTo(5946.05, 9);
    expect(carbon(standards, 'fresh_water', 40, 't', 2026)).toBeUndefined();
  });
});

describe('per-unit energy, grades, intensity, OEE', () => {
  const tiles = standards.quotas.get('ceramic_tile_dry_pressed')!;
  it('reports the GB 21252-2023 grade reached (lower is better, the limit itself meets it), × thickness factor', () => {
    const c = tiles.classes.get('0.5<E<=10')!; // 3.4 / 3.7 / 4.6
    expect(grade(3.4, c).grade).toBe(1);
    expect(grade(3.41, c).grade).toBe(2);
    expect(grade(4.6, c).grade).toBe(3);
    expect(grade(4.61, c).grade).toBeNull();
    expect(grade(4.61, c, 1.1).grade).toBe(3);
    expect(grade(4.0, c, 1.1)).toEqual({ grade: 2, limits: { grade1: 3.4 * 1.1, grade2: 3.7 * 1.1, grade3: 4.6 * 1.1 } });
    expect(grade(5, tiles.classes.get('E<=0.2')!).grade).toBe(2);
  });

  it('computes per-unit energy and tce per 10,000 yuan', () => {
    expect(perUnit(3606.988, 8600)).toBeCloseTo(0.41941721, 8);
    expect(perUnit(1200, 100_000, 1000)).toBe(12);
    expect(perUnit(5, 0)).toBeNull();
    expect(intensityTcePer10kYuan(3606.988, 344_000)).toBeCloseTo(0.10485430, 8);
    expect(intensityTcePer10kYuan(1, 0)).toBeNull();
  });

  it('computes OEE per ISO 22400-2 (effectiveness may exceed 1)', () => {
    expect(oee({ pbtMs: 24 * H, aptMs: 18 * H, pq: 9000, gq: 8600, idealRatePerHour: 500 })).toEqual({ availability: 0.75, effectiveness: 1, quality: 8600 / 9000, oee: 0.75 * (8600 / 9000) });
    expect(oee({ pbtMs: 8 * H, aptMs: 2 * H, pq: 5000, gq: 4800, idealRatePerHour: 500 }).effectiveness).toBe(5);
    expect(oee({ pbtMs: 8 * H, aptMs: 0, pq: 0, gq: 0, idealRatePerHour: 500 })).toEqual({ availability: 0, effectiveness: null, quality: null, oee: null });
  });

  it('lays shift calendars on local days, including a shift across midnight', () => {
    const day = Date.UTC(2026, 10, 19, 16); // 2026-11-20 00:00 +08:00
    const w = plannedWindows(day, day + 24 * H, [{ name: 'night', startMin: 22 * 60, endMin: 6 * 60 }, { name: 'day', startMin: 8 * 60, endMin: 20 * 60 }], 480);
    expect(w.map((x) => [(x.start - day) / H, (x.end - day) / H, x.shift])).toEqual([[0, 6, 'night'], [8, 20, 'day'], [22, 24, 'night']]);
    expect(windowsMs(w)).toBe(20 * H);
  });
});

describe('configuration files', () => {
  it('loads config/standards.yaml and config/production.yaml against config/park.yaml', () => {
    const p = loadProduction(model, standards, 'config/production.yaml');
    expect([...p.products.keys()]).toEqual(['porcelain_tile', 'live_vaccine', 'stamped_parts', 'summer_cloth']);
    expect(p.products.get('live_vaccine')!.oee!.idealRatePerHour).toBe(200 * 10 * 60);
    expect(standards.carriers.get('electricity')).toMatchObject({ kgcePerUnit: 0.1229, unit: 'kWh', confidence: 'S' });
  });

  it('uses the default production file only for its own zone; an explicit one must match the model', () => {
    const other = parseParkModel({ zone: { id: 'elsewhere', name: 'Elsewhere' }, kinds: { m: { description: 'meter', metrics: { energy: { type: 'counter', unit: 'kWh', carrier: 'electricity' } } } }, parks: [{ id: 'p', name: 'P', enterprises: [{ id: 'e', name: 'E', sector: 'x', workshops: [{ id: 'w', name: 'W', devices: [{ id: 'd', kind: 'm' }] }] }] }] });
    expect(loadProduction(other, standards, undefined).products.size).toBe(0);
    expect(() => loadProduction(other, standards, 'config/production.yaml')).toThrow(/config\/production\.yaml: production file refused .*\n  zone: "rongchang" — expected the zone id of the park model \(elsewhere\)/);
  });

  it('refuses a standards file naming the path, the value and the expectation', () => {
    const data = parse(readFileSync('config/standards.yaml', 'utf8'));
    data.carriers.natural_gas.kgcePerUnit = -1;
    data.quotas.ceramic_tile_dry_pressed.classes['E<=0.2'].grade1 = 9;
    data.carbon.electricity.byYear[0].confidence = 'X';
    expect(() => parseStandards(data)).toThrow(/carriers\.natural_gas\.kgcePerUnit: -1 — expected a finite number > 0/);
    expect(() => parseStandards(data)).toThrow(/quotas\.ceramic_tile_dry_pressed\.classes\.E<=0\.2: .* — expected grade1 <= grade2 <= grade3/);
    expect(() => parseStandards(data)).toThrow(/carbon\.electricity\.byYear\[0\]\.confidence: "X" — expected one of C, T, S/);
  });

  it('refuses production data naming unknown devices, metrics, lines and calendars by path', () => {
    const data = parse(readFileSync('config/production.yaml', 'utf8'));
    data.products.porcelain_tile.produced[0].device = 'wm-sort-9';
    data.products.porcelain_tile.good[0].metric = 'power';
    data.products.live_vaccine.line = 'banqiao/aolong/vaccine/nope';
    data.products.stamped_parts.oee.calendar = 'nights';
    data.subMeters = ['ghost'];
    const e = (() => { try { parseProduction(data, model, standards); } catch (x) { return (x as Error).message; } return ''; })();
    expect(e).toMatch(/^production file refused \(5 problems\)/);
    expect(e).toContain('products.porcelain_tile.produced[0].device: "wm-sort-9" — expected a device id of the park model');
    expect(e).toContain('products.porcelain_tile.good[0].metric: "power" — expected a counter metric of kind sorting_line (output, grade_a, rejects)');
    expect(e).toContain('products.live_vaccine.line: "banqiao/aolong/vaccine/nope" — expected a line of the park model');
    expect(e).toContain('products.stamped_parts.oee.calendar: "nights" — expected a calendar under calendars');
    expect(e).toContain('subMeters[0]: "ghost" — expected a device id of the park model');
  });
});
