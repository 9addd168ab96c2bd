/** Energy per unit of product against the GB 21252 grade lines, OEE and its factors, and the monthly report download. */
import { api } from '../api.ts';
import { chart } from '../charts.ts';
import { h, table } from '../dom.ts';
import { fmtNum, fmtPct, nameOf, t } from '../i18n.ts';
import { enterprises, localToday, type Page } from './types.ts';

export const energyPage: Page = async (root, ctx) => {
  const { date, month } = localToday();
  const period = ctx.params.get('period') === 'month' ? 'month' : 'day';
  const q = period === 'month' ? `period=month&date=${month}` : `period=day&date=${date}`;
  const [products, oee] = await Promise.all([api(`/api/v1/kpi/products?${q}`), api(`/api/v1/kpi/oee?${q}`)]);
  const sel = h('select', { 'data-testid': 'period-select', onchange: (e) => { location.hash = `#/energy?period=${(e.target as HTMLSelectElement).value}`; } },
    h('option', { value: 'day', selected: period === 'day' }, t('today')), h('option', { value: 'month', selected: period === 'month' }, t('thisMonth')));
  const list = products.products as any[];
  const charts = list.filter((p) => p.quota?.limits).map((p) => {
    const el = h('div', { class: 'chart small', 'data-testid': `grade-chart-${p.product}` });
    const L = p.quota.limits;
    setTimeout(() => chart(el, {
      title: { text: `${p.name} (${p.perUnit.unit})`, textStyle: { fontSize: 13 } }, tooltip: {},
      grid: { left: 60, right: 90, top: 40, bottom: 30 }, xAxis: { type: 'category', data: [t('perUnit')] }, yAxis: { type: 'value' },
      series: [{
        type: 'bar', barWidth: 60, data: [p.perUnit.kgce],
        markLine: { symbol: 'none', label: { formatter: '{b}: {c}' }, data: [{ name: t('grade1'), yAxis: L.grade1 }, { name: t('grade2'), yAxis: L.grade2 }, { name: t('grade3'), yAxis: L.grade3 }] },
      }],
    }), 0);
    return el;
  });
  const ents = enterprises(ctx.park);
  const entSel = h('select', { 'data-testid': 'report-enterprise' }, ...ents.map(({ park, ent }) => h('option', { value: `${park}/${ent.id}` }, nameOf(ent))));
  const monthIn = h('input', { type: 'month', value: month, 'data-testid': 'report-month' });
  const link = h('a', { class: 'button', 'data-testid': 'report-download', href: '#' }, t('download'));
  const setHref = () => { const [park, ent] = entSel.value.split('/'); link.setAttribute('href', `/api/v1/reports/energy?park=${park}&enterprise=${ent}&month=${monthIn.value}`); };
  entSel.addEventListener('change', setHref);
  monthIn.addEventListener('change', setHref);
  setHref();
  root.append(
    h('h2', {}, t('energy'), ' ', sel),
    table([t('product'), t('line'), 'good', t('perUnit'), t('unit'), t('grade'), t('grade1'), t('grade2'), t('grade3')], list.map((p) => [
      p.name, p.line, fmtNum(p.good, 1), fmtNum(p.perUnit.kgce, 4), p.perUnit.unit,
      p.quota ? (p.quota.grade === null ? t('noGrade') : String(p.quota.grade)) : '—',
      fmtNum(p.quota?.limits?.grade1, 4), fmtNum(p.quota?.limits?.grade2, 4), fmtNum(p.quota?.limits?.grade3, 4),
    ]), 'products-table'),
    h('div', { class: 'cards' }, ...charts),
    h('h3', {}, t('oee')),
    table([t('product'), t('line'), t('availability'), t('effectiveness'), t('quality'), t('oee')], (oee.oee as any[]).map((o) => [
      o.product, o.line, fmtPct(o.availability), fmtPct(o.effectiveness), fmtPct(o.quality), fmtPct(o.oee),
    ]), 'oee-table'),
    h('h3', {}, t('report')),
    h('div', { class: 'row' }, t('enterprise'), ' ', entSel, ' ', t('month'), ' ', monthIn, ' ', link),
  );
};
