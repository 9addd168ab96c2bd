/**
 * What Grafana (InfluxDB datasource, InfluxQL raw mode) does to a query before sending it, so
 * the generated dashboards can be run against a real InfluxDB without Grafana:
 *   $timeFilter            → time >= <from>ms and time <= <to>ms
 *   $__interval, _ms       → from the time range and the panel's resolution (max data points or
 *                            width), rounded like Grafana's rangeutil.roundInterval, not below the
 *                            panel's min interval
 *   ${__from}, ${__to}     → epoch milliseconds
 *   $var, ${var}, [[var]]  → a template variable: for multi-value / All variables each value is
 *                            regex-escaped and several are joined as (a|b|c); All without a
 *                            custom all value means every option.
 * Pure: no I/O.
 */

export interface VariableValue {
  /** Selected values; `$__all` selects every option. */
  value: readonly string[];
  /** The variable's options (what its query returned). */
  options: readonly string[];
  multi: boolean;
  includeAll: boolean;
}

export interface Interpolation {
  fromMs: number;
  toMs: number;
  intervalMs: number;
  variables: Readonly<Record<string, VariableValue>>;
}

/** Grafana's regex escaping of a variable value (kbn.regexEscape). */
export function grafanaRegexEscape(s: string): string {
  return s.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** The text a variable turns into inside an InfluxQL query. */
export function formatVariable(v: VariableValue): string {
  const values = v.value.includes('$__all') ? [...v.options] : [...v.value];
  if (!v.multi && !v.includeAll) return values[0] ?? '';
  const escaped = values.map((x) => (x !== '' && !Number.isNaN(Number(x)) ? x : grafanaRegexEscape(x)));
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
}

/** Grafana's rangeutil.roundInterval: a "nice" interval near the one asked for (ms). */
export function roundInterval(ms: number): number {
  const steps: [below: number, use: number][] = [
    [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1_500, 1_000], [3_500, 2_000], [7_500, 5_000],
    [12_500, 10_000], [17_500, 15_000], [25_000, 20_000], [45_000, 30_000], [90_000, 60_000], [210_000, 120_000],
    [450_000, 300_000], [750_000, 600_000], [1_050_000, 900_000], [1_500_000, 1_200_000], [2_700_000, 1_800_000],
    [5_400_000, 3_600_000], [9_000_000, 7_200_000], [16_200_000, 10_800_000], [32_400_000, 21_600_000],
    [86_400_000, 43_200_000], [604_800_000, 86_400_000], [1_814_400_000, 604_800_000], [3_628_800_000, 2_592_000_000],
  ];
  for (const [below, use] of steps) if (ms < below) return use;
  return 31_536_000_000;
}

/** Grafana's secondsToHms as used for $__interval (largest whole unit: 1y, 2d, 3h, 5m, 10s, 200ms). */
export function intervalText(ms: number): string {
  const s = ms / 1000;
  const parts: [number, string][] = [
    [Math.floor(s / 31_536_000), 'y'], [Math.floor((s % 31_536_000) / 86_400), 'd'], [Math.floor((s % 86_400) / 3_600), 'h'],
    [Math.floor((s % 3_600) / 60), 'm'], [Math.floor(s % 60), 's'],
  ];
  for (const [n, u] of parts) if (n) return `${n}${u}`;
  return `${Math.floor(ms)}ms`;
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8, y: 3.1536e10 };

/** `10s` → 10000 (a panel's min interval). */
export function intervalMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(text);
  if (!m) throw new RangeError(`interval ${JSON.stringify(text)} is not like 10s`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Grafana's calculateInterval: range / resolution, rounded, not below the min interval. */
export function panelInterval(fromMs: number, toMs: number, resolution: number, minInterval?: string): number {
  const ms = roundInterval((toMs - fromMs) / resolution);
  return Math.max(ms, minInterval ? intervalMs(minInterval) : 1);
}

/** The query as Grafana would send it. Unknown variables are left as they are (as Grafana does). */
export function interpolate(query: string, ctx: Interpolation): string {
  const builtin: Record<string, string> = {
    timeFilter: `time >= ${ctx.fromMs}ms and time <= ${ctx.toMs}ms`,
    __interval: intervalText(ctx.intervalMs),
    __interval_ms: String(ctx.intervalMs),
    __from: String(ctx.fromMs),
    __to: String(ctx.toMs),
  };
  return query.replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    if (name in builtin) return builtin[name]!;
    const v = ctx.variables[name];
    return v ? formatVariable(v) : whole;
  });
}

/** A panel's own time settings (Grafana's "Relative time" and "Time shift" of the query options). */
export interface PanelTime { timeFrom?: string; timeShift?: string }

/**
 * The range a panel queries: its relative time replaces the dashboard range (`now/d` = today so
 * far in the browser's time zone, `14d` = the last 14 days, both ending now), then its time
 * shift moves the range back.
 */
export function panelTimeRange(panel: PanelTime, range: { fromMs: number; toMs: number }, nowMs: number): { fromMs: number; toMs: number } {
  let { fromMs, toMs } = range;
  if (panel.timeFrom === 'now/d') {
    const d = new Date(nowMs);
    d.setHours(0, 0, 0, 0);
    fromMs = d.getTime();
    toMs = nowMs;
  } else if (panel.timeFrom) {
    fromMs = nowMs - intervalMs(panel.timeFrom);
    toMs = nowMs;
  }
  if (panel.timeShift) {
    const s = intervalMs(panel.timeShift);
    fromMs -= s;
    toMs -= s;
  }
  return { fromMs, toMs };
}
