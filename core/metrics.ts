/**
 * Service metrics. Services count throughput here instead of logging it; each exposes
 * `GET /metrics` (Prometheus text, rendered by prom-client with its default process metrics) and
 * `GET /stats` (the same counters as JSON).
 *
 * The hot path stays a Map update (`inc` is called per message); prom-client reads the counters
 * at scrape time through each family's `collect`, so a counter is exposed as a counter, a level
 * as a gauge, each with its HELP, and label sets declared up front (`describe(…, series)`) are
 * exposed at 0 before their first event. Latencies are prom-client histograms.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry as PromRegistry } from 'prom-client';

export type Labels = Record<string, string>;
type Kind = 'counter' | 'gauge';

function key(name: string, labels?: Labels): string {
  if (!labels) return name;
  const ks = Object.keys(labels);
  if (ks.length === 0) return name;
  if (ks.length > 1) ks.sort();
  let s = `${name}{`;
  for (let i = 0; i < ks.length; i++) {
    const k = ks[i]!;
    s += `${i ? ',' : ''}${k}="${String(labels[k]).replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`;
  }
  return `${s}}`;
}

interface Series { labels?: Labels; value: number }
interface Family {
  kind: Kind;
  series: Map<string, Series>;
  /** A value read at scrape time instead of counted. */
  read?: () => number;
  /** The label names prom-client was given (families are registered at their first scrape). */
  registeredLabels?: string;
}

/** A latency (or size) distribution: prom-client histogram, with count and sum for /stats. */
export interface Distribution {
  observe(value: number, labels?: Labels): void;
}

export class Registry {
  /** The prom-client registry behind /metrics. */
  readonly prom = new PromRegistry();
  private readonly families = new Map<string, Family>();
  private readonly help = new Map<string, string>();
  private readonly histograms = new Map<string, { h: Histogram; count: number; sum: number; d: Distribution }>();

  /** processMetrics: prom-client's default process_* and nodejs_* metrics (services: yes; unit tests: no need). */
  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) {
      collectDefaultMetrics({ register: this.prom });
      // prom-client 15 also exposes three sums of its per-type gauges as gauges named *_total,
      // which promtool refuses (a _total is a counter); the per-type gauges stay.
      for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.prom.removeSingleMetric(n);
    }
  }

  /** HELP text of a metric; `series` are label sets exposed at 0 before their first event. */
  describe(name: string, help: string, series: Labels[] = []): this {
    this.help.set(name, help);
    for (const labels of series) {
      const f = this.family(name, 'counter');
      const k = key(name, labels);
      if (!f.series.has(k)) f.series.set(k, { labels, value: 0 });
    }
    return this;
  }

  private family(name: string, kind: Kind): Family {
    let f = this.families.get(name);
    if (!f) this.families.set(name, (f = { kind, series: new Map() }));
    return f;
  }

  inc(name: string, labels?: Labels, by = 1): void {
    const k = key(name, labels);
    const f = this.families.get(name) ?? this.family(name, 'counter');
    const s = f.series.get(k);
    if (s) s.value += by;
    else f.series.set(k, { labels, value: by });
  }

  set(name: string, value: number, labels?: Labels): void {
    const f = this.family(name, 'gauge');
    f.kind = 'gauge';
    f.series.set(key(name, labels), { labels, value });
  }

  /** A value read when scraped: a level (gauge), or a count kept elsewhere (`kind: 'counter'`). */
  gauge(name: string, read: () => number, kind: Kind = 'gauge'): void {
    this.families.set(name, { kind, series: new Map(), read });
  }

  /** A prom-client histogram (buckets in the metric's unit, e.g. seconds). */
  histogram(name: string, help: string, buckets: number[], labelNames: string[] = []): Distribution {
    const had = this.histograms.get(name);
    if (had) return had.d;
    const h = new Histogram({ name, help, buckets, labelNames, registers: [this.prom] });
    const entry = {
      h, count: 0, sum: 0,
      d: {
        observe(value: number, labels?: Labels) {
          if (labels) h.observe(labels, value);
          else h.observe(value);
          entry.count++;
          entry.sum += value;
        },
      } as Distribution,
    };
    this.histograms.set(name, entry);
    return entry.d;
  }

  get(name: string, labels?: Labels): number {
    const f = this.families.get(name);
    if (!f) return 0;
    if (f.read && !labels) return f.read();
    return f.series.get(key(name, labels))?.value ?? 0;
  }

  /** Sum of a counter over all its label sets. */
  total(name: string): number {
    const f = this.families.get(name);
    if (!f) return 0;
    if (f.read) return f.read();
    let s = 0;
    for (const v of f.series.values()) s += v.value;
    return s;
  }

  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, f] of this.families) {
      if (f.read) out[name] = f.read();
      else for (const [k, v] of f.series) out[k] = v.value;
    }
    for (const [name, e] of this.histograms) {
      out[`${name}_count`] = e.count;
      out[`${name}_sum`] = e.sum;
    }
    return out;
  }

  /** Registers with prom-client each family it does not know yet (or whose label names grew). */
  private sync(): void {
    for (const [name, f] of this.families) {
      const names = new Set<string>();
      for (const s of f.series.values()) if (s.labels) for (const l of Object.keys(s.labels)) names.add(l);
      const labelNames = [...names].sort();
      const sig = `${f.kind}:${labelNames.join(',')}`;
      if (f.registeredLabels === sig) continue;
      if (f.registeredLabels !== undefined) this.prom.removeSingleMetric(name);
      f.registeredLabels = sig;
      const help = this.help.get(name) ?? name.replace(/_/g, ' ');
      const registers = [this.prom];
      if (f.kind === 'counter') {
        new Counter({
          name, help, labelNames, registers,
          collect() {
            this.reset();
            if (f.read) this.inc(f.read());
            else for (const s of f.series.values()) if (s.labels) this.inc(s.labels, s.value); else this.inc(s.value);
          },
        });
      } else {
        new Gauge({
          name, help, labelNames, registers,
          collect() {
            this.reset();
            if (f.read) this.set(f.read());
            else for (const s of f.series.values()) if (s.labels) this.set(s.labels, s.value); else this.set(s.value);
          },
        });
      }
    }
  }

  /** Prometheus text exposition (`contentType` is its Content-Type). */
  async toPrometheus(): Promise<string> {
    this.sync();
    return this.prom.metrics();
  }

  get contentType(): string {
    return this.prom.contentType;
  }
}

/** Answers a scrape: prom-client's text exposition with its Content-Type; 500 if rendering failed. */
export function serveMetrics(metrics: Registry, res: import('node:http').ServerResponse): void {
  metrics.toPrometheus().then((text) => {
    res.setHeader('content-type', metrics.contentType);
    res.end(text);
  }, (err: Error) => {
    res.statusCode = 500;
    res.end(`metrics: ${err.message}\n`);
  });
}
