/**
 * The KPI API against the real InfluxDB with hand-computed fixtures on the park model's devices,
 * one local day (2026-11-20, +08:00). Energy meters with a counter reset, a gap, a declared meter
 * replacement and a late reading; sorting-line counters and kiln run states for OEE; device
 * status. Every figure is compared with the hand calculation in the comments, to 1e-6 relative
 * or better (toBeCloseTo with 6+ digits), and the API's rounding (kgce 3 decimals, ratios 6).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import { KeyStore } from '../api/key-store.ts';
import { LiveHub } from '../api/live-hub.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { deviceTags, encodePoint, readingToLine, STATUS_MEASUREMENT } from '../core/influx/line-protocol.ts';
import { loadParkModel } from '../core/model-file.ts';
import type { MetricValue } from '../core/contract.ts';
import { hashSecret } from '../core/secrets.ts';

const model = loadParkModel();
const H = 3_600_000;
const DAY0 = Date.UTC(2026, 10, 19, 16); // 2026-11-20 00:00 +08:00
const L = (h: number, m = 0) => DAY0 + h * H + m * 60_000; // local time of that day
const DAYQ = 'period=day&date=2026-11-20';
const KEY = 'viewer-key-0123456789';

let app: FastifyInstance;
let influx: InfluxClient;
let dir: string;
const savedEnv = process.env.PRODUCTION_FILE;

const line = (id: string, ts: number, metrics: Record<string, MetricValue>) => readingToLine(model.devices.get(id)!, { ts, metrics });
const get = async (url: string) => {
  const r = await app.inject({ method: 'GET', url: `/api/v1/kpi/${url}`, headers: { 'x-api-key': KEY } });
  return { status: r.statusCode, body: r.json() };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kpi-api-'));
  // the park's production file plus a gas-meter replacement at 14:00 (old meter read 6400 when removed, new one fitted at 0)
  const prod = parse(readFileSync('config/production.yaml', 'utf8'));
  prod.meterReplacements = [{ device: 'wm-gm-main', metric: 'volume', at: new Date(L(14)).toISOString(), oldFinal: 6400, newInitial: 0 }];
  writeFileSync(join(dir, 'production.yaml'), stringify(prod));
  process.env.PRODUCTION_FILE = join(dir, 'production.yaml');

  influx = new InfluxClient({ url: inject('influxUrl'), token: inject('influxToken') || undefined, db: `kpi_api_${process.pid}_${Date.now()}` });
  await influx.ensureDatabase();
  const lines: string[] = [];
  // electricity, wm-em-main (kWh): 23:00 the day before 1000 | 00:30 1100 (+100) | 06:00 1700 (+600) | gap |
  // 10:00 2500 (+800) | 12:00 50 (reset: +50) | 18:00 650 (+600) | next day 00:30 900 (outside) → day 2150 kWh
  for (const [ts, v] of [[L(-1), 1000], [L(0, 30), 1100], [L(6), 1700], [L(10), 2500], [L(12), 50], [L(18), 650], [L(24, 30), 900]] as const) lines.push(line('wm-em-main', ts, { energy: v, power: 1 }));
  // rongfood main meter: a reset INSIDE an hour (recomputed from raw readings):
  // 100 before | 09:10 300 (+200) | 09:20 20 (reset: +20) | 09:40 70 (+50) | 23:00 170 (+100) → 370 kWh, hour 09: 270
  for (const [ts, v] of [[L(-1), 100], [L(9, 10), 300], [L(9, 20), 20], [L(9, 40), 70], [L(23), 170]] as const) lines.push(line('rf-em-main', ts, { energy: v }));
  // a ball mill's own counter: a line sub-meter, never in workshop totals
  lines.push(line('wm-mill-1', L(-1), { energy: 0 }), line('wm-mill-1', L(12), { energy: 500 }));
  // gas, wm-gm-main (m3): 23:50 before 5000 | 01:00 5100 (+100) | 13:00 6300 (+1200) | replaced 14:00 |
  // 15:00 150 (6400-6300 + 150-0 = +250) | 23:59 1350 (+1200) → day 2750 m3
  for (const [ts, v] of [[L(-1, 50), 5000], [L(1), 5100], [L(13), 6300], [L(15), 150], [L(23, 59), 1350]] as const) lines.push(line('wm-gm-main', ts, { volume: v }));
  // water, wm-wm-main (t): 10 → 30 → 50: 40 t
  for (const [ts, v] of [[L(-1), 10], [L(12), 30], [L(23), 50]] as const) lines.push(line('wm-wm-main', ts, { volume: v }));
  // sorting line (m2): 0 before; 07:00 output 4000 / grade A 3800 (shift A); 19:00 9000 / 8600 (shift C)
  for (const [ts, o, g] of [[L(-1), 0, 0], [L(7), 4000, 3800], [L(19), 9000, 8600]] as const) lines.push(line('wm-sort-1', ts, { output: o, grade_a: g }));
  // kiln run state every 5 s: running 00:00-18:00 (12960 samples = 18 h), stopped 18:00-20:00 (1440), silent after
  for (let ts = L(0); ts < L(20); ts += 5000) lines.push(line('wm-kiln-1', ts, { run_state: ts < L(18) ? 'running' : 'stopped' }));
  // Aolong: electricity 1200 kWh (+ HVAC sub-meter 400, excluded), steam 2 t, water 5 t; 100000 good doses, 50 rejected vials
  for (const [id, f, a, b] of [['al-em-main', 'energy', 300, 1500], ['al-em-hvac', 'energy', 0, 400], ['al-sm-main', 'mass', 7, 9], ['al-wm-main', 'volume', 1, 6]] as const) {
    lines.push(line(id, L(-1), { [f]: a }), line(id, L(22), { [f]: b }));
  }
  lines.push(line('al-fill-1', L(-1), { doses: 0, rejects: 0 }), line('al-fill-1', L(19), { doses: 100_000, rejects: 50 }));
  // status: kiln online 00:00, offline 20:00
  const kiln = model.devices.get('wm-kiln-1')!;
  for (const [ts, state] of [[L(0), 'online'], [L(20), 'offline']] as const) {
    lines.push(encodePoint(STATUS_MEASUREMENT, { ...deviceTags(kiln), kind: kiln.kind.id }, { state: { type: 'string', value: state } }, ts));
  }
  expect(await influx.write(lines.join('\n'))).toEqual({ kind: 'ok' });
  app = buildApp({ model, influx, live: new LiveHub(model), keys: new KeyStore([{ id: 'v', role: 'viewer', hash: hashSecret(KEY) }]) });
  await app.ready();
}, 30_000);

afterAll(async () => {
  await app?.close();
  if (savedEnv === undefined) delete process.env.PRODUCTION_FILE;
  else process.env.PRODUCTION_FILE = savedEnv;
  rmSync(dir, { recursive: true, force: true });
});

const carrier = (body: { energy: { carriers: { carrier: string }[] } }, c: string) => body.energy.carriers.find((x) => x.carrier === c) as unknown as Record<string, unknown> & { quantity: number; kgce: number };

describe('energy accounting from cumulative meters', () => {
  it('sums a workshop\'s main meters across a reset, a gap and a declared replacement, with coefficients and sources', async () => {
    const { status, body } = await get(`energy?park=guangfu&enterprise=weimei&workshop=tile&${DAYQ}`);
    expect(status).toBe(200);
    expect(body.scope).toEqual({ level: 'workshop', park: 'guangfu', enterprise: 'weimei', workshop: 'tile' });
    expect(body.period).toEqual({ from: L(0), to: L(24), timezone: '+08:00' });
    expect(carrier(body, 'electricity')).toMatchObject({
      quantity: 2150, unit: 'kWh', kgce: 264.235, kgceEquivalent: 264.235, kgceEqualValue: 645,
      coefficient: { kgcePerUnit: 0.1229, unit: 'kgce/kWh', confidence: 'S', source: expect.stringContaining('GB/T 2589-2020') },
    });
    expect(carrier(body, 'natural_gas')).toMatchObject({ quantity: 2750, unit: 'm3', kgce: 3339.325, coefficient: { kgcePerUnit: 1.2143 } });
    expect(carrier(body, 'fresh_water')).toMatchObject({ quantity: 40, unit: 't', kgce: 3.428 });
    // 264.235 + 3339.325 + 3.428 = 3606.988 kgce
    expect(body.energy.comprehensive).toEqual({ kgce: 3606.988, tce: 3.606988, electricityValue: 'equivalent' });
    expect(body.energy.meters.find((m: { device: string }) => m.device === 'wm-em-main')).toMatchObject({ quantity: 2150, resets: 1 });
    expect(body.energy.meters.find((m: { device: string }) => m.device === 'wm-gm-main')).toMatchObject({ quantity: 2750, replacements: 1 });
    expect(body.energy.meters.map((m: { device: string }) => m.device)).not.toContain('wm-mill-1');
  });

  it('finds a reset inside an hour and recomputes that hour from its readings', async () => {
    const day = (await get(`energy?device=rf-em-main&${DAYQ}`)).body;
    expect(carrier(day, 'electricity').quantity).toBe(370);
    expect(day.energy.meters[0]).toMatchObject({ device: 'rf-em-main', quantity: 370, resets: 1 });
    expect(carrier((await get(`energy?device=rf-em-main&period=hour&date=2026-11-20T09`)).body, 'electricity').quantity).toBe(270);
  });

  it('counts a line\'s own counters for the line scope', async () => {
    const { body } = await get(`energy?enterprise=weimei&line=line1&${DAYQ}`);
    expect(carrier(body, 'electricity')).toMatchObject({ quantity: 500, kgce: 61.45 });
  });

  it('attributes a gap to the hour of the reading after it, and splits it once a late reading arrives', async () => {
    const hour = async (h: string) => carrier((await get(`energy?device=wm-em-main&period=hour&date=2026-11-20T${h}`)).body, 'electricity')?.quantity ?? 0;
    expect([await hour('08'), await hour('10')]).toEqual([0, 800]);
    expect(await influx.write(line('wm-em-main', L(8), { energy: 2100 }))).toEqual({ kind: 'ok' });
    expect([await hour('08'), await hour('10')]).toEqual([400, 400]);
    const { body } = await get(`energy?device=wm-em-main&${DAYQ}`);
    expect(carrier(body, 'electricity').quantity).toBe(2150);
  });

  it('adds up hours to the day (no interval lost or counted twice at the boundaries)', async () => {
    let sum = 0;
    for (let h = 0; h < 24; h++) sum += carrier((await get(`energy?device=wm-gm-main&from=${L(h)}&to=${L(h + 1)}`)).body, 'natural_gas')?.quantity ?? 0;
    expect(sum).toBe(2750);
    // the same in one call: series=hour (01:00 +100, 13:00 +1200, 15:00 +250 across the replacement, 23:00 +1200)
    const { body } = await get(`energy?device=wm-gm-main&${DAYQ}&series=hour`);
    const hours = body.energy.series.map((x: { carriers: { natural_gas?: number } }) => x.carriers.natural_gas ?? 0);
    expect(hours.length).toBe(24);
    expect(Object.fromEntries(hours.map((v: number, h: number) => [h, v]).filter(([, v]: number[]) => v !== 0))).toEqual({ 1: 100, 13: 1200, 15: 250, 23: 1200 });
    expect(body.energy.series[15]).toMatchObject({ from: L(15), to: L(16), kgce: 303.575 }); // 250 × 1.2143
    const month = (await get('energy?device=wm-gm-main&period=month&date=2026-11&series=day')).body.energy.series;
    expect(month.length).toBe(30);
    expect(month[19]).toMatchObject({ from: L(0), to: L(24), carriers: { natural_gas: 2750 } });
  });
});

describe('carbon, per-unit energy, intensity', () => {
  it('computes tCO2 with the dated grid factor (2023 for 2026 data) and the natural-gas factor', async () => {
    const { body } = await get(`carbon?park=guangfu&enterprise=weimei&workshop=tile&${DAYQ}`);
    // 2150 × 0.5306 = 1140.79 kg; 2750 × 2.1622 = 5946.05 kg → 7.08684 t
    expect(body.carbon).toMatchObject({ tCO2: 7.08684, dataYear: 2026, notCovered: ['fresh_water'] });
    expect(body.carbon.byCarrier[0]).toMatchObject({ carrier: 'electricity', tCO2: 1.14079, factor: 0.5306, factorUnit: 'kgCO2/kWh', factorYear: 2023 });
  });

  it('gives tiles in kgce/m2 with the GB 21252-2023 grade, and the vaccine in kWh and kgce per 1,000 doses', async () => {
    const { body } = await get(`products?${DAYQ}`);
    const tile = body.products.find((p: { product: string }) => p.product === 'porcelain_tile');
    // 3606.988 kgce / 8600 m2 grade A = 0.419417 kgce/m2; E <= 0.2 %: 4.5 / 5.5 / 7.0 → grade 1
    expect(tile).toMatchObject({ produced: 9000, good: 8600, outputValueYuan: 344000, energy: { kgce: 3606.988, electricityKWh: 2150, share: 1 } });
    expect(tile.perUnit).toMatchObject({ kgce: 0.419417, unit: 'kgce/m2', electricityKWh: 0.25, electricityUnit: 'kWh/m2' });
    expect(tile.quota).toMatchObject({ table: 'ceramic_tile_dry_pressed', class: 'E<=0.2', thicknessFactor: 1, limits: { grade1: 4.5, grade2: 5.5, grade3: 7 }, grade: 1, meetsLimit: true });
    const vac = body.products.find((p: { product: string }) => p.product === 'live_vaccine');
    // 1200 kWh / 100 (thousand doses) = 12; kgce 1200×0.1229 + 2000 kg×0.1286 + 5×0.0857 = 147.48 + 257.2 + 0.4285 = 405.1085
    expect(vac).toMatchObject({ produced: 100_500, good: 100_000, outputValueYuan: 60_000, energy: { electricityKWh: 1200 } });
    expect(vac.energy.kgce).toBeCloseTo(405.1085, 3);
    expect(vac.perUnit).toMatchObject({ electricityKWh: 12, electricityUnit: 'kWh/1000 dose', unit: 'kgce/1000 dose' });
    expect(vac.perUnit.kgce).toBeCloseTo(4.051085, 6);
  });

  it('gives tce per 10,000 yuan per enterprise and for the zone over enterprises with output value', async () => {
    const { body } = await get(`intensity?${DAYQ}`);
    const we = body.intensity.byEnterprise.find((e: { enterprise: string }) => e.enterprise === 'weimei');
    expect(we.tcePer10kYuan).toBeCloseTo(3.606988 / 34.4, 6); // 0.104854
    // (3606.988 + 405.1085) kgce / (344000 + 60000) yuan = 4.0120965 tce / 40.4 → 0.099309
    expect(body.intensity.kgce).toBeCloseTo(4012.0965, 2); // API rounds kgce to 3 decimals
    expect(body.intensity.outputValueYuan).toBe(404000);
    expect(body.intensity.tcePer10kYuan).toBeCloseTo(4.0120965 / 40.4, 6);
    expect(body.intensity.excluded).toEqual([{ enterprise: 'rongfood', park: 'ronglong', kgce: 45.473, reason: expect.any(String) }]); // 370 × 0.1229
  });
});

describe('OEE and data quality', () => {
  it('computes ISO 22400 OEE of the tile line over three shifts and by shift', async () => {
    const { body } = await get(`oee?park=guangfu&enterprise=weimei&line=line1&${DAYQ}`);
    const o = body.oee[0];
    // PBT 24 h, APT 18 h → A 0.75; PRI 1/500 h × 9000 / 18 h → E 1; Q 8600/9000; OEE 0.716667
    expect(o).toMatchObject({ product: 'porcelain_tile', pbtH: 24, aptH: 18, pq: 9000, gq: 8600, availability: 0.75, effectiveness: 1, quality: 0.955556, oee: 0.716667 });
    expect(o.byShift).toEqual([
      { shift: 'A', pbtH: 8, aptH: 8, pq: 4000, gq: 3800, availability: 1, effectiveness: 1, quality: 0.95, oee: 0.95 },
      { shift: 'B', pbtH: 8, aptH: 8, pq: 0, gq: 0, availability: 1, effectiveness: 0, quality: null, oee: null },
      { shift: 'C', pbtH: 8, aptH: 2, pq: 5000, gq: 4800, availability: 0.25, effectiveness: 5, quality: 0.96, oee: 1.2 },
    ]);
  });

  it('gives online rate from the last status and completeness from samples expected by intervalMs', async () => {
    const day = (await get(`data-quality?device=wm-kiln-1&${DAYQ}`)).body.dataQuality;
    // 14400 samples of 17280 expected (5 s); status offline at 20:00
    expect(day).toMatchObject({ devices: 1, online: 0, onlineRate: 0, reporting: 1, samplesExpected: 17280, samplesReceived: 14400, completeness: 0.833333 });
    const morning = (await get(`data-quality?device=wm-kiln-1&from=${L(0)}&to=${L(12)}`)).body.dataQuality;
    expect(morning).toMatchObject({ online: 1, onlineRate: 1, samplesExpected: 8640, samplesReceived: 8640, completeness: 1 });
    // no status record: online when it reported within max(60 s, 3 intervals) before `to`
    const meter = async (to: number) => (await get(`data-quality?device=wm-em-main&from=${L(0)}&to=${to}`)).body.dataQuality;
    expect(await meter(L(18) + 30_000)).toMatchObject({ online: 1, byDevice: [{ status: 'unknown', online: true }] });
    expect(await meter(L(18) + 61_000)).toMatchObject({ online: 0, byDevice: [{ status: 'unknown', online: false }] });
  });

  // its speed is measured by `npm run bench:kpi`, not asserted here
  it('answers the whole zone\'s day summary in one call', async () => {
    const { status, body } = await get(`summary?${DAYQ}`);
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['scope', 'period', 'energy', 'carbon', 'products', 'intensity', 'oee', 'dataQuality']);
    expect(body.energy.comprehensive.kgce).toBeCloseTo(4057.5695, 2); // 3606.988 + 405.1085 + 45.473
    expect(body.dataQuality.devices).toBe(model.devices.size);
  });
});

describe('parameters', () => {
  it('refuses unknown, ambiguous and malformed scope and period parameters naming them', async () => {
    const cases: [string, string][] = [
      ['energy?line=nope', 'line'], ['energy?line=line1', 'line'], ['energy?park=banqiao&enterprise=weimei', 'enterprise'],
      ['energy?period=day', 'date'], ['energy?period=day&date=2026-13-01', 'date'], ['energy?period=week&date=x', 'period'],
      ['energy?from=now&to=-1h', 'from'], ['energy?colour=red', 'colour'], ['oee?from=yesterday', 'from'],
      ['oee?series=hour', 'series'], ['energy?series=minute', 'series'], ['energy?period=month&date=2026-11&series=day&from=-1d', 'period'],
    ];
    for (const [url, param] of cases) {
      const r = await get(url);
      expect({ url, status: r.status, code: r.body.error?.code, param: r.body.error?.param }).toEqual({ url, status: 400, code: 'SP_ERR_API_PARAM', param });
    }
  });

  it('needs an API key, and lists the coefficients in use with their sources', async () => {
    expect((await app.inject({ url: '/api/v1/kpi/summary' })).statusCode).toBe(401);
    const { body } = await get('standards');
    expect(body.carriers.find((c: { carrier: string }) => c.carrier === 'natural_gas')).toMatchObject({ kgcePerUnit: 1.2143, unit: 'm3', confidence: 'S' });
    expect(body.carbon.electricity.byYear.at(-1)).toMatchObject({ year: 2023, kgCO2PerUnit: 0.5306, confidence: 'C' });
  });
});
