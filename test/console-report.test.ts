/**
 * The monthly energy report (.xlsx) against the real InfluxDB: readings of a past local month
 * (2026-11, +08:00) on the tile enterprise's meters and lines; the workbook is read back with
 * exceljs and every figure cell is compared with GET /api/v1/kpi/summary for the same enterprise
 * and month. Bad parameters are refused like the KPI routes refuse them.
 */
import type { FastifyInstance } from 'fastify';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import { KeyStore } from '../api/key-store.ts';
import { LiveHub } from '../api/live-hub.ts';
import type { MetricValue } from '../core/contract.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { deviceTags, encodePoint, readingToLine, STATUS_MEASUREMENT } from '../core/influx/line-protocol.ts';
import { loadParkModel } from '../core/model-file.ts';
import { hashSecret } from '../core/secrets.ts';

const model = loadParkModel();
const KEY = 'viewer-key-0123456789';
const M0 = Date.UTC(2026, 9, 31, 16); // 2026-11-01 00:00 +08:00
const D = 86_400_000;
let app: FastifyInstance;
let influx: InfluxClient;

const line = (id: string, ts: number, metrics: Record<string, MetricValue>) => readingToLine(model.devices.get(id)!, { ts, metrics });
const get = (url: string) => app.inject({ method: 'GET', url, headers: { 'x-api-key': KEY } });

beforeAll(async () => {
  influx = new InfluxClient({ url: inject('influxUrl'), token: inject('influxToken') || undefined, db: `console_report_${process.pid}` });
  await influx.ensureDatabase();
  const lines: string[] = [];
  // Weimei tiles, 2026-11: electricity, gas and water main meters; sorting-line output; kiln status
  for (const [ts, e, g, w] of [[M0 - 3600_000, 1000, 5000, 10], [M0 + 10 * D, 90_000, 25_000, 400], [M0 + 29 * D, 250_000, 61_000, 900]] as const) {
    lines.push(line('wm-em-main', ts, { energy: e, power: 1 }), line('wm-gm-main', ts, { volume: g }), line('wm-wm-main', ts, { volume: w }));
  }
  for (const [ts, o, a] of [[M0 - 3600_000, 0, 0], [M0 + 15 * D, 60_000, 57_000], [M0 + 29 * D, 120_000, 114_500]] as const) lines.push(line('wm-sort-1', ts, { output: o, grade_a: a }));
  for (let ts = M0; ts < M0 + 2 * D; ts += 600_000) lines.push(line('wm-kiln-1', ts, { run_state: 'running', t_firing: 1180 }));
  const kiln = model.devices.get('wm-kiln-1')!;
  lines.push(encodePoint(STATUS_MEASUREMENT, { ...deviceTags(kiln), kind: kiln.kind.id }, { state: { type: 'string', value: 'online' } }, M0 + D));
  expect(await influx.write(lines.join('\n'))).toEqual({ kind: 'ok' });
  app = buildApp({ model, influx, live: new LiveHub(model), keys: new KeyStore([{ id: 'v', role: 'viewer', hash: hashSecret(KEY) }]) });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await influx?.query(influxql`DROP DATABASE ${ident(influx.config.db)}`, { db: null }).catch(() => {});
});

describe('monthly energy report', () => {
  it('every figure of the workbook equals /api/v1/kpi/summary for the same enterprise and month', async () => {
    const r = await get('/api/v1/reports/energy?park=guangfu&enterprise=weimei&month=2026-11');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(r.headers['content-disposition']).toBe('attachment; filename="energy-guangfu-weimei-2026-11.xlsx"');
    const kpi = (await get('/api/v1/kpi/summary?park=guangfu&enterprise=weimei&period=month&date=2026-11')).json();
    expect(kpi.period.from).toBe(M0);
    expect(kpi.energy.comprehensive.kgce).toBeGreaterThan(10_000); // the fixture is there: not a comparison of zeros
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(r.rawPayload as unknown as Parameters<typeof wb.xlsx.load>[0]);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Summary 汇总', 'Energy 能源', 'Products 产品', 'Data quality 数据质量']);

    const summary = new Map<string, unknown>();
    wb.getWorksheet('Summary 汇总')!.eachRow((row, i) => { if (i > 1) summary.set(String(row.getCell(4).value), row.getCell(2).value); });
    expect(Object.fromEntries(summary)).toEqual({
      'scope.enterprise': `${model.parks.find((p) => p.id === 'guangfu')!.enterprises.find((e) => e.id === 'weimei')!.name} (weimei)`,
      'scope.park': 'guangfu',
      period: '2026-11',
      'energy.comprehensive.tce': kpi.energy.comprehensive.tce,
      'energy.comprehensive.kgce': kpi.energy.comprehensive.kgce,
      'carbon.tCO2': kpi.carbon.tCO2,
      'intensity.outputValueYuan': kpi.intensity.outputValueYuan,
      'intensity.tcePer10kYuan': kpi.intensity.tcePer10kYuan,
      'dataQuality.onlineRate': kpi.dataQuality.onlineRate,
      'dataQuality.completeness': kpi.dataQuality.completeness,
    });

    const energy = wb.getWorksheet('Energy 能源')!;
    expect(energy.rowCount - 1).toBe(kpi.energy.carriers.length);
    kpi.energy.carriers.forEach((c: { carrier: string; quantity: number; unit: string; kgce: number }, i: number) => {
      const v = energy.getRow(i + 2).values as unknown[];
      expect(v.slice(1, 6)).toEqual([c.carrier, c.quantity, c.unit, c.kgce, Math.round(c.kgce * 1000) / 1e6]);
    });

    const products = wb.getWorksheet('Products 产品')!;
    expect(products.rowCount - 1).toBe(kpi.products.length);
    const tiles = kpi.products.findIndex((p: { quota?: unknown }) => p.quota);
    expect(tiles).toBeGreaterThanOrEqual(0); // the tile line has a GB 21252 quota
    kpi.products.forEach((p: any, i: number) => {
      const v = products.getRow(i + 2).values as unknown[];
      expect(v.slice(1, 12)).toEqual([p.product, p.name, p.good, p.unit, p.outputValueYuan, p.perUnit.kgce, p.perUnit.unit,
        p.quota?.grade ?? null, p.quota?.limits?.grade1 ?? null, p.quota?.limits?.grade2 ?? null, p.quota?.limits?.grade3 ?? null]
        .map((x) => (x === null ? undefined : x))); // exceljs reads an empty cell as undefined
    });
    expect(kpi.products[tiles].perUnit.kgce).toBeGreaterThan(0);

    const dq = wb.getWorksheet('Data quality 数据质量')!;
    expect(dq.rowCount - 1).toBe(kpi.dataQuality.byDevice.length);
    kpi.dataQuality.byDevice.forEach((d: { device: string; expected: number; received: number; status: string }, i: number) => {
      expect((dq.getRow(i + 2).values as unknown[]).slice(1, 5)).toEqual([d.device, d.expected, d.received, d.status]);
    });
  });

  it('refuses a bad month, an unknown enterprise and a missing key like the KPI routes', async () => {
    const bad = await get('/api/v1/reports/energy?enterprise=weimei&month=2026-13');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'SP_ERR_API_PARAM', param: 'month' });
    const unknown = await get('/api/v1/reports/energy?enterprise=nobody&month=2026-11');
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toMatchObject({ code: 'SP_ERR_API_PARAM', param: 'enterprise' });
    expect((await app.inject({ method: 'GET', url: '/api/v1/reports/energy?enterprise=weimei&month=2026-11' })).statusCode).toBe(401);
  });
});
