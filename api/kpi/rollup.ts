/**
 * Hourly KPI facts in InfluxDB (`kpi_hourly`), for dashboards: InfluxQL cannot divide one
 * measurement by another (kgce per m² needs gas and electricity meters and the sorting line's
 * counter; OEE needs run states and counters), so the KPI engine of the API (compute.ts) computes
 * each hour of each enterprise and writes the results here as additive quantities — energy, CO2,
 * good output, output value, planned and run hours, ideal output — and the constant quota lines.
 * A dashboard divides sums of these over any range: kgce/m² = sum(kgce) / sum(good_units), OEE =
 * sum(gq) / sum(ideal_pbt), energy per 10⁴ yuan = 10 · sum(kgce) / sum(output_value_yuan).
 *
 * A point is keyed by its hour and tags, so recomputing an hour overwrites it: the runner
 * recomputes the hours still open to late data on every tick, and catches up at start.
 */
import { encodePoint, type FieldValue } from '../../core/influx/line-protocol.ts';
import { HOUR_MS, KPI_MEASUREMENT } from '../../core/kpi/facts.ts';
import { computeKpis, type KpiDeps, type Kpis } from './compute.ts';
import { resolveScope } from './scope.ts';

const float = (value: number): FieldValue => ({ type: 'float', value });
const int = (value: number): FieldValue => ({ type: 'integer', value: Math.round(value) });

/**
 * Denominators of the dashboards' ratios are written only when positive: InfluxQL answers 0 for
 * x / 0, which would show an hour without output as zero energy per unit. Without the field, the
 * sum over a range without output is null and the panel says "No data".
 */
const DENOMINATORS = new Set(['good_units', 'output_value_yuan', 'pq', 'pbt_h', 'ideal_apt', 'ideal_pbt', 'samples_expected', 'devices']);

function fields(entries: Record<string, number | null | undefined>, ints: readonly string[] = []): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const [k, v] of Object.entries(entries)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || (DENOMINATORS.has(k) && v <= 0)) continue;
    out[k] = ints.includes(k) ? int(v) : float(v);
  }
  return out;
}

interface Carrier { carrier: string; quantity: number; kgce: number }
interface ProductRow {
  product: string; line: string; produced: number; good: number; outputValueYuan: number;
  energy: { kgce: number; electricityKWh: number };
  quota?: { limits: { grade1: number; grade2: number; grade3: number } | null };
}
interface OeeRow { product: string; pbtH: number; aptH: number; pq: number; gq: number }

/** The kpi_hourly lines of one hour [hourStart, hourStart + 1 h) for every enterprise of the model. */
export async function hourLines(deps: KpiDeps, hourStart: number, now = Date.now()): Promise<string[]> {
  const to = hourStart + HOUR_MS;
  const lines: string[] = [];
  const enterprises = deps.model.parks.flatMap((p) => p.enterprises.map((e) => ({ park: p.id, enterprise: e.id })));
  // one enterprise after the other: a background job, it should not load InfluxDB in bursts
  const results: { e: { park: string; enterprise: string }; r: Kpis }[] = [];
  for (const e of enterprises) {
    results.push({ e, r: await computeKpis(deps, resolveScope(deps.model, e), hourStart, to, ['energy', 'carbon', 'products', 'intensity', 'oee', 'dataQuality'], { now }) });
  }
  for (const { e, r } of results) {
    const energy = r.energy as { comprehensive: { kgce: number }; carriers: Carrier[] };
    const carbon = r.carbon as { tCO2: number };
    const intensity = r.intensity as { byEnterprise: { enterprise: string; outputValueYuan: number }[] };
    const dq = r.dataQuality as { devices: number; online: number; samplesExpected: number; samplesReceived: number };
    const carriers: Record<string, number> = {};
    for (const c of energy.carriers) {
      carriers[c.carrier] = c.quantity;
      carriers[`kgce_${c.carrier}`] = c.kgce;
    }
    const value = intensity.byEnterprise.find((x) => x.enterprise === e.enterprise)?.outputValueYuan;
    lines.push(encodePoint(KPI_MEASUREMENT, { level: 'enterprise', park: e.park, enterprise: e.enterprise }, fields({
      kgce: energy.comprehensive.kgce, kgco2: carbon.tCO2 * 1000, output_value_yuan: value,
      // energy of an enterprise with configured output value: the numerator of energy per 10⁴ yuan
      kgce_valued: value === undefined ? undefined : energy.comprehensive.kgce,
      devices: dq.devices, devices_online: dq.online, samples_expected: dq.samplesExpected, samples_received: dq.samplesReceived,
      ...carriers,
    }, ['devices', 'devices_online', 'samples_expected', 'samples_received']), hourStart));
    const oee = new Map((r.oee as OeeRow[]).map((o) => [o.product, o]));
    for (const p of r.products as ProductRow[]) {
      const product = deps.production.products.get(p.product)!;
      const o = oee.get(p.product);
      const ideal = product.oee?.idealRatePerHour;
      const limits = p.quota?.limits;
      lines.push(encodePoint(KPI_MEASUREMENT, {
        level: 'product', park: product.line.park, enterprise: product.line.enterprise, workshop: product.line.workshop,
        line: product.line.line, product: p.product,
      }, fields({
        produced: p.produced, good: p.good, good_units: p.good / product.perUnit, kgce: p.energy.kgce, kwh: p.energy.electricityKWh,
        output_value_yuan: p.outputValueYuan,
        limit_grade1: limits?.grade1, limit_grade2: limits?.grade2, limit_grade3: limits?.grade3,
        ...(o && ideal !== undefined ? { pbt_h: o.pbtH, apt_h: o.aptH, pq: o.pq, gq: o.gq, ideal_apt: ideal * o.aptH, ideal_pbt: ideal * o.pbtH } : {}),
      }), hourStart));
    }
  }
  return lines;
}

/** Computes and writes the hours that start in [from, to); returns how many were written. `stopped`: checked between hours. */
export async function rollupRange(deps: KpiDeps, from: number, to: number, now = Date.now(), stopped: () => boolean = () => false): Promise<number> {
  let n = 0;
  for (let h = Math.floor(from / HOUR_MS) * HOUR_MS; h < to && !stopped(); h += HOUR_MS) {
    const lines = await hourLines(deps, h, now);
    const res = await deps.influx.write(lines.join('\n'));
    if (res.kind !== 'ok') throw new Error(`writing ${KPI_MEASUREMENT} for ${new Date(h).toISOString()} failed: ${res.error}`);
    n++;
  }
  return n;
}

export interface RollupOptions {
  /** How often the open hours are recomputed; 0 = never (no timer). */
  everyMs: number;
  /** Hours before the current one recomputed on every tick (late data). */
  lateHours: number;
  /** Hours computed once at start. */
  catchUpHours: number;
  onTick?: (hours: number, ms: number) => void;
  onError?: (err: Error) => void;
}

/** Runs the rollup on a timer: first a catch-up, then the current and late hours on every tick. */
export class KpiRollup {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private caughtUp = false;
  private stopping = false;
  hoursWritten = 0;
  errors = 0;

  constructor(private readonly deps: KpiDeps, private readonly o: RollupOptions) {}

  start(): void {
    if (this.o.everyMs <= 0) return;
    const tick = () => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        if (this.timer) this.timer = setTimeout(tick, this.o.everyMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async tick(now = Date.now()): Promise<void> {
    const t0 = Date.now();
    const back = this.caughtUp ? this.o.lateHours : Math.max(this.o.catchUpHours, this.o.lateHours);
    try {
      const n = await rollupRange(this.deps, now - back * HOUR_MS, now, now, () => this.stopping);
      if (this.stopping) return; // a catch-up cut short is done again at the next start
      this.caughtUp = true;
      this.hoursWritten += n;
      this.o.onTick?.(n, Date.now() - t0);
    } catch (e) {
      this.errors++;
      this.o.onError?.(e as Error);
    }
  }

  /** Stops the timer; a tick under way ends after the hour it is writing (not the whole catch-up). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
