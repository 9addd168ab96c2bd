/**
 * Service counters and their Prometheus text rendering. Services count throughput here
 * instead of logging it; each exposes `GET /metrics` (Prometheus text) and `GET /stats` (JSON).
 */
export type Labels = Record<string, string>;

function key(name: string, labels?: Labels): string {
  if (!labels || Object.keys(labels).length === 0) return name;
  const l = Object.keys(labels).sort().map((k) => `${k}="${String(labels[k]).replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
  return `${name}{${l.join(',')}}`;
}

export class Registry {
  private readonly values = new Map<string, { name: string; labels?: Labels; value: number; type: 'counter' | 'gauge' }>();
  private readonly help = new Map<string, string>();
  private readonly gauges = new Map<string, () => number>();

  describe(name: string, help: string): this {
    this.help.set(name, help);
    return this;
  }

  inc(name: string, labels?: Labels, by = 1): void {
    const k = key(name, labels);
    const v = this.values.get(k);
    if (v) v.value += by;
    else this.values.set(k, { name, labels, value: by, type: 'counter' });
  }

  set(name: string, value: number, labels?: Labels): void {
    this.values.set(key(name, labels), { name, labels, value, type: 'gauge' });
  }

  /** A gauge read when rendered. */
  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  get(name: string, labels?: Labels): number {
    if (!labels && this.gauges.has(name)) return this.gauges.get(name)!();
    return this.values.get(key(name, labels))?.value ?? 0;
  }

  /** Sum of a counter over all its label sets. */
  total(name: string): number {
    let s = 0;
    for (const v of this.values.values()) if (v.name === name) s += v.value;
    return s;
  }

  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.values) out[k] = v.value;
    for (const [k, read] of this.gauges) out[k] = read();
    return out;
  }

  toPrometheus(): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    const head = (name: string, type: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const h = this.help.get(name);
      if (h) lines.push(`# HELP ${name} ${h}`);
      lines.push(`# TYPE ${name} ${type}`);
    };
    for (const [k, v] of [...this.values].sort((a, b) => a[0].localeCompare(b[0]))) {
      head(v.name, v.type);
      lines.push(`${k} ${v.value}`);
    }
    for (const [name, read] of this.gauges) {
      head(name, 'gauge');
      lines.push(`${name} ${read()}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
