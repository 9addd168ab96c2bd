/** One device's telemetry over a chosen range (mean per window), as a line chart per numeric metric. */
import { api, HttpError } from '../api.ts';
import { chart } from '../charts.ts';
import { h } from '../dom.ts';
import { t } from '../i18n.ts';
import { allDevices, type Page } from './types.ts';

const RANGES = [['-1h', '1m'], ['-6h', '5m'], ['-24h', '15m'], ['-7d', '1h']] as const;

export const devicePage: Page = async (root, ctx) => {
  const devs = allDevices(ctx.park);
  const id = ctx.params.get('id') ?? devs[0]!.id;
  const range = ctx.params.get('range') ?? '-1h';
  const go = (dev: string, r: string) => { location.hash = `#/device?id=${dev}&range=${r}`; };
  const devSel = h('select', { 'data-testid': 'device-select', onchange: (e) => go((e.target as HTMLSelectElement).value, range) },
    ...devs.map((d) => h('option', { value: d.id, selected: d.id === id }, `${d.name} (${d.id})`)));
  const rangeSel = h('select', { 'data-testid': 'range-select', onchange: (e) => go(id, (e.target as HTMLSelectElement).value) },
    ...RANGES.map(([r]) => h('option', { value: r, selected: r === range }, r)));
  const el = h('div', { class: 'chart tall', 'data-testid': 'telemetry-chart' });
  root.append(h('h2', {}, t('device'), ' ', devSel, ' ', t('range'), ' ', rangeSel), el);
  const info = await api(`/api/v1/devices/${id}`);
  const numeric = (info.metrics as { name: string; type: string; unit?: string }[]).filter((m) => m.type === 'number' || m.type === 'counter' || m.type === 'integer');
  const window = RANGES.find(([r]) => r === range)?.[1] ?? '1m';
  try {
    const q = new URLSearchParams({ from: range, to: 'now', agg: 'mean', window });
    if (numeric.length > 0) q.set('metric', numeric.map((m) => m.name).join(','));
    const series = await api(`/api/v1/devices/${id}/telemetry?${q}`);
    const names = (series.metrics as { name: string; unit: string }[]).map((m) => m.name);
    // cumulative counters (meters, pieces) grow far beyond the gauges: they get the right-hand axis
    const counters = new Set(numeric.filter((m) => m.type === 'counter').map((m) => m.name));
    const unitOf = new Map(numeric.map((m) => [m.name, m.unit ?? '']));
    chart(el, {
      tooltip: { trigger: 'axis' }, legend: { type: 'scroll' }, dataZoom: [{ type: 'inside' }, { type: 'slider' }],
      grid: { left: 60, right: 70, top: 40, bottom: 70 },
      xAxis: { type: 'time' }, yAxis: [{ type: 'value', scale: true }, { type: 'value', scale: true, splitLine: { show: false } }],
      series: names.map((n) => ({
        name: unitOf.get(n) && unitOf.get(n) !== '1' ? `${n} (${unitOf.get(n)})` : n, type: 'line', showSymbol: false, sampling: 'lttb', yAxisIndex: counters.has(n) ? 1 : 0,
        data: (series.points as { ts: number; values: Record<string, number | null> }[]).map((p) => [p.ts, p.values[n]]),
      })),
    });
    el.dataset.points = String(series.points.length);
  } catch (e) {
    el.replaceWith(h('p', { class: 'error', 'data-testid': 'telemetry-refused' }, e instanceof HttpError && e.status === 403 ? t('needsEngineer') : (e as Error).message));
  }
};
