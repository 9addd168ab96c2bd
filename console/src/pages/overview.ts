/** Zone overview, today so far: standard coal, carbon, energy per 10,000 yuan by enterprise, device online rate, open alarms. */
import { api } from '../api.ts';
import { chart } from '../charts.ts';
import { h, table } from '../dom.ts';
import { fmtNum, fmtPct, nameOf, t } from '../i18n.ts';
import { enterprises, localToday, type Page } from './types.ts';

export const overviewPage: Page = async (root, ctx) => {
  const { date } = localToday();
  const [kpi, alarms] = await Promise.all([
    api(`/api/v1/kpi/summary?period=day&date=${date}`),
    api('/api/v1/alarms?state=open'),
  ]);
  const tile = (id: string, label: string, value: string, unit: string) =>
    h('div', { class: 'tile', 'data-testid': `tile-${id}` }, h('span', { class: 'label' }, label), h('b', { class: 'value' }, value), h('span', { class: 'unit' }, unit));
  const names = new Map(enterprises(ctx.park).map(({ park, ent }) => [`${park}/${ent.id}`, nameOf(ent)]));
  const by = (kpi.intensity?.byEnterprise ?? []) as { park: string; enterprise: string; kgce: number; outputValueYuan: number; tcePer10kYuan: number | null }[];
  const chartEl = h('div', { class: 'chart', 'data-testid': 'intensity-chart' });
  root.append(
    h('h2', {}, `${nameOf(ctx.park.zone)} · ${t('today')} ${date}`),
    h('div', { class: 'tiles' },
      tile('coal', t('standardCoal'), fmtNum(kpi.energy.comprehensive.tce, 3), 'tce'),
      tile('carbon', t('carbon'), fmtNum(kpi.carbon.tCO2, 3), 'tCO2'),
      tile('intensity', t('intensity'), fmtNum(kpi.intensity.tcePer10kYuan, 4), 'tce/10⁴ yuan'),
      tile('online', t('onlineRate'), fmtPct(kpi.dataQuality.onlineRate), `${kpi.dataQuality.online}/${kpi.dataQuality.devices}`),
      tile('alarms', t('openAlarms'), String(alarms.alarms.length), ''),
    ),
    h('h3', {}, t('intensity')),
    chartEl,
    table([t('enterprise'), 'tce', `${t('outputValue')} (yuan)`, 'tce/10⁴ yuan'],
      by.map((e) => [names.get(`${e.park}/${e.enterprise}`) ?? e.enterprise, fmtNum(e.kgce / 1000, 3), fmtNum(e.outputValueYuan, 0), fmtNum(e.tcePer10kYuan, 4)]), 'intensity-table'),
  );
  chart(chartEl, {
    tooltip: {}, grid: { left: 60, right: 20, top: 20, bottom: 60 },
    xAxis: { type: 'category', data: by.map((e) => names.get(`${e.park}/${e.enterprise}`) ?? e.enterprise), axisLabel: { rotate: 20 } },
    yAxis: { type: 'value', name: 'tce/10⁴ yuan' },
    series: [{ type: 'bar', data: by.map((e) => e.tcePer10kYuan) }],
  });
};
