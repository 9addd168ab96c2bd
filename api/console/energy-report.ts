/**
 * Lays out one enterprise's monthly KPIs (api/kpi/compute.ts, the figures of /api/v1/kpi/summary)
 * as an .xlsx workbook: Summary, Energy (by carrier, physical units and tce), Products (per-unit
 * energy and GB 21252 grade), Data quality. Every value row carries its KPI key in the last column
 * (e.g. `energy.comprehensive.tce`), so a reader — or a test — can match cells to the API answer.
 * Labels are bilingual (zh-CN / English). Pure: takes the figures, returns the file's bytes.
 */
import ExcelJS from 'exceljs';
import type { ParkModel } from '../../core/model.ts';
import type { Kpis } from '../kpi/compute.ts';

export interface ReportInput extends Kpis {
  scope: { level: string; park?: string; enterprise?: string };
  period: { from: number; to: number; timezone: string };
  month: string;
}

type Cell = string | number | null;
const HEAD = { bold: true } as const;

function sheet(wb: ExcelJS.Workbook, name: string, header: string[], rows: Cell[][], widths: number[]): void {
  const ws = wb.addWorksheet(name);
  ws.addRow(header).font = HEAD;
  for (const r of rows) ws.addRow(r);
  ws.columns.forEach((c, i) => { c.width = widths[i] ?? 14; });
  ws.views = [{ state: 'frozen', ySplit: 1 }];
}

export async function energyReport(k: ReportInput, model: ParkModel): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'smart-park console';
  wb.created = new Date(k.period.to);
  const ent = model.parks.find((p) => p.id === k.scope.park)?.enterprises.find((e) => e.id === k.scope.enterprise);
  const e = k.energy!;
  const intensity = k.intensity!;
  const dq = k.dataQuality!;
  sheet(wb, 'Summary 汇总', ['项目 Item', '数值 Value', '单位 Unit', 'KPI key'], [
    ['企业 Enterprise', ent ? `${ent.name} (${ent.id})` : k.scope.enterprise ?? '', null, 'scope.enterprise'],
    ['园区 Park', k.scope.park ?? '', null, 'scope.park'],
    ['月份 Month', k.month, k.period.timezone, 'period'],
    ['综合能耗 Comprehensive energy', e.comprehensive.tce, 'tce', 'energy.comprehensive.tce'],
    ['综合能耗 Comprehensive energy', e.comprehensive.kgce, 'kgce', 'energy.comprehensive.kgce'],
    ['碳排放 CO2 emissions', k.carbon!.tCO2, 'tCO2', 'carbon.tCO2'],
    ['工业总产值 Output value', intensity.outputValueYuan, 'yuan', 'intensity.outputValueYuan'],
    ['万元产值能耗 Energy intensity', intensity.tcePer10kYuan, 'tce/10^4 yuan', 'intensity.tcePer10kYuan'],
    ['设备在线率 Device online rate', dq.onlineRate, '1', 'dataQuality.onlineRate'],
    ['数据完整率 Data completeness', dq.completeness, '1', 'dataQuality.completeness'],
  ], [30, 18, 16, 30]);
  sheet(wb, 'Energy 能源', ['能源品种 Carrier', '实物量 Quantity', '单位 Unit', '折标煤 kgce', '折标煤 tce', 'KPI key'],
    e.carriers.map((c, i) => [c.carrier, c.quantity, c.unit, c.kgce, c.kgce === null ? null : Math.round(c.kgce * 1000) / 1e6, `energy.carriers[${i}]`]),
    [18, 16, 10, 14, 14, 20]);
  sheet(wb, 'Products 产品', ['产品 Product', '名称 Name', '合格品 Good', '单位 Unit', '产值 Output value (yuan)', '单位产品能耗 Per unit', '单位 Unit', '等级 GB 21252 grade', '1级 Grade 1', '2级 Grade 2', '3级(限定值) Grade 3 (limit)', 'KPI key'],
    (k.products ?? []).map((p, i) => [
      p.product, p.name, p.good, p.unit, p.outputValueYuan, p.perUnit.kgce, p.perUnit.unit,
      p.quota?.grade ?? null, p.quota?.limits?.grade1 ?? null, p.quota?.limits?.grade2 ?? null, p.quota?.limits?.grade3 ?? null, `products[${i}]`,
    ]), [16, 24, 12, 8, 16, 14, 16, 12, 10, 10, 14, 14]);
  sheet(wb, 'Data quality 数据质量', ['设备 Device', '应收 Expected', '实收 Received', '状态 Status', 'KPI key'],
    dq.byDevice.map((d, i) => [d.device, d.expected, d.received, d.status, `dataQuality.byDevice[${i}]`]), [22, 12, 12, 10, 24]);
  return Buffer.from(await wb.xlsx.writeBuffer());
}
