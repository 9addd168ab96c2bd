/** A small dependency-free SVG line chart for benchmark results (x: seconds, y: one unit per chart). */
export interface Series { name: string; points: [number, number][] }

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], width = 760, height = 360): string {
  const m = { l: 70, r: 20, t: 40, b: 50 };
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const yMax = Math.max(1, ...all.map((p) => p[1])) * 1.1;
  const x = (v: number) => m.l + (v / xMax) * (width - m.l - m.r);
  const y = (v: number) => height - m.b - (v / yMax) * (height - m.t - m.b);
  const ticks = (max: number) => Array.from({ length: 6 }, (_, i) => (max * i) / 5);
  const fmt = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(0)}k` : v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    ...ticks(yMax).map((v) => `<line x1="${m.l}" x2="${width - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`),
    ...ticks(xMax).map((v) => `<text x="${x(v)}" y="${height - m.b + 16}" text-anchor="middle">${fmt(v)}</text>`),
    `<text x="${width / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${height / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    ...series.map((s, i) => `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${s.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ')}"/>`),
    ...series.map((s, i) => `<text x="${m.l + 10 + i * 220}" y="${m.t + 4}" fill="${COLORS[i % COLORS.length]}">■ ${esc(s.name)}</text>`),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}
