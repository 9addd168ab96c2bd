/** ECharts, tree-shaken to what the pages use (line and bar charts on canvas). */
import { BarChart, LineChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, TitleComponent, MarkLineComponent, DataZoomComponent, CanvasRenderer]);

const charts = new Set<echarts.ECharts>();
export function chart(el: HTMLElement, option: echarts.EChartsCoreOption): echarts.ECharts {
  const c = echarts.init(el);
  c.setOption(option);
  charts.add(c);
  return c;
}
export function disposeCharts(): void {
  for (const c of charts) c.dispose();
  charts.clear();
}
addEventListener('resize', () => { for (const c of charts) c.resize(); });
