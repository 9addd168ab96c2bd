/**
 * The one module that speaks HTTP to InfluxDB, through the v1-compatible endpoints that
 * InfluxDB 1.x, 2.x (2.4+, DBRP mappings) and 3.x all serve: POST /write (line protocol),
 * POST /query (InfluxQL, bound parameters), GET /ping.
 */
import { bind, encodeParams, ident, influxql, type Fragment } from './influxql.ts';

export interface InfluxConfig {
  /** Base URL, e.g. http://127.0.0.1:8086 */
  url: string;
  /** Database (1.x) or bucket mapped through DBRP (2.x/3.x). */
  db: string;
  /** Retention policy; empty for the default. */
  rp?: string;
  /** InfluxDB 2.x/3.x API token (sent as `Authorization: Token ...`). */
  token?: string;
  /** InfluxDB 1.x user (sent as HTTP Basic auth). */
  username?: string;
  password?: string;
  /** Per-request timeout. */
  timeoutMs?: number;
}

export type WriteOutcome =
  /** Every line stored. */
  | { kind: 'ok' }
  /** InfluxDB refused some or all lines as bad (400): good lines of the batch ARE stored; do not retry. */
  | { kind: 'rejected'; status: number; error: string; dropped?: number }
  /** Nothing is known to be stored: retry the same batch (writes with fixed timestamps are idempotent). */
  | { kind: 'retry'; status?: number; error: string };

export interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export class InfluxQueryError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'InfluxQueryError';
  }
}

export class InfluxClient {
  readonly config: Readonly<InfluxConfig>;
  private readonly headers: Record<string, string>;

  constructor(config: InfluxConfig) {
    this.config = Object.freeze({ ...config, url: config.url.replace(/\/+$/, '') });
    this.headers = {};
    if (config.token) this.headers.authorization = `Token ${config.token}`;
    else if (config.username) {
      this.headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
    }
  }

  private signal(): AbortSignal {
    return AbortSignal.timeout(this.config.timeoutMs ?? 30_000);
  }

  async ping(): Promise<boolean> {
    try {
      const res = await fetch(`${this.config.url}/ping`, { headers: this.headers, signal: this.signal() });
      await res.arrayBuffer();
      return res.status === 204 || res.status === 200;
    } catch {
      return false;
    }
  }

  /** Writes newline-separated line protocol with millisecond timestamps. Never throws. */
  async write(body: string): Promise<WriteOutcome> {
    const q = new URLSearchParams({ db: this.config.db, precision: 'ms' });
    if (this.config.rp) q.set('rp', this.config.rp);
    let res: Response;
    try {
      res = await fetch(`${this.config.url}/write?${q}`, {
        method: 'POST', body, signal: this.signal(),
        headers: { ...this.headers, 'content-type': 'text/plain; charset=utf-8' },
      });
    } catch (e) {
      return { kind: 'retry', error: `InfluxDB unreachable: ${(e as Error).message}` };
    }
    const text = await res.text().catch(() => '');
    if (res.status === 204 || res.status === 200) return { kind: 'ok' };
    let error = text;
    try {
      error = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch { /* plain text */ }
    if (res.status === 400) {
      const m = /dropped=(\d+)/.exec(error);
      return { kind: 'rejected', status: 400, error, dropped: m ? Number(m[1]) : undefined };
    }
    return { kind: 'retry', status: res.status, error: `InfluxDB answered ${res.status}: ${error.slice(0, 500)}` };
  }

  /**
   * Runs one or more InfluxQL statements (a Fragment, its values bound; or constant text);
   * returns the series of each. Throws InfluxQueryError.
   */
  async query(stmt: Fragment | string, opts: { db?: string | null } = {}): Promise<Series[][]> {
    const s = typeof stmt === 'string' ? { text: stmt, params: {} } : bind(stmt);
    const form = new URLSearchParams({ q: s.text, epoch: 'ms' });
    const db = opts.db === undefined ? this.config.db : opts.db;
    if (db) form.set('db', db);
    if (this.config.rp) form.set('rp', this.config.rp);
    if (Object.keys(s.params).length > 0) form.set('params', encodeParams(s.params));
    let res: Response;
    try {
      res = await fetch(`${this.config.url}/query`, {
        method: 'POST', body: form, signal: this.signal(),
        headers: { ...this.headers, 'content-type': 'application/x-www-form-urlencoded' },
      });
    } catch (e) {
      throw new InfluxQueryError(`InfluxDB unreachable: ${(e as Error).message}`);
    }
    const text = await res.text();
    let json: { results?: { series?: Series[]; error?: string }[]; error?: string };
    try {
      json = JSON.parse(text);
    } catch {
      throw new InfluxQueryError(`InfluxDB answered ${res.status}: ${text.slice(0, 300)}`, res.status);
    }
    if (json.error) throw new InfluxQueryError(json.error, res.status);
    if (!res.ok) throw new InfluxQueryError(`InfluxDB answered ${res.status}`, res.status);
    return (json.results ?? []).map((r) => {
      if (r.error) throw new InfluxQueryError(r.error, res.status);
      return r.series ?? [];
    });
  }

  /** The server's version from /ping (`X-Influxdb-Version`: "1.6.7", "v2.7.11", "3.0.0"…); '' when it does not say. */
  async serverVersion(): Promise<string> {
    const res = await fetch(`${this.config.url}/ping`, { headers: this.headers, signal: this.signal() });
    await res.arrayBuffer();
    return (res.headers.get('x-influxdb-version') ?? '').replace(/^v/, '');
  }

  /**
   * Makes sure the database exists (idempotent). InfluxDB 1.x: CREATE DATABASE. 2.x: a bucket named
   * "<db>/<rp or autogen>" in the token's organisation, which 2.x maps to database <db> by itself
   * (virtual DBRP, 2.1+). 3.x creates a database at its first write: nothing to do.
   */
  async ensureDatabase(): Promise<void> {
    const version = await this.serverVersion().catch(() => '');
    if (version.startsWith('2.')) return this.ensureBucket();
    if (version.startsWith('3.')) return;
    await this.query(influxql`CREATE DATABASE ${ident(this.config.db)}`, { db: null });
  }

  private async v2(path: string, init: RequestInit = {}): Promise<{ status: number; json: any }> {
    const res = await fetch(`${this.config.url}${path}`, { ...init, headers: { ...this.headers, 'content-type': 'application/json' }, signal: this.signal() });
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch { /* not JSON: reported by status below */ }
    return { status: res.status, json };
  }

  private async ensureBucket(): Promise<void> {
    const name = `${this.config.db}/${this.config.rp || 'autogen'}`;
    const found = await this.v2(`/api/v2/buckets?name=${encodeURIComponent(name)}`);
    if (found.status === 200 && found.json?.buckets?.length) return;
    const orgs = await this.v2('/api/v2/orgs?limit=1');
    const orgID = orgs.json?.orgs?.[0]?.id;
    if (!orgID) throw new InfluxQueryError(`InfluxDB 2.x: cannot create bucket ${name}: no organisation visible to the token (GET /api/v2/orgs answered ${orgs.status})`, orgs.status);
    const made = await this.v2('/api/v2/buckets', { method: 'POST', body: JSON.stringify({ orgID, name, retentionRules: [] }) });
    if (made.status !== 201 && made.status !== 422 && made.status !== 409) {
      throw new InfluxQueryError(`InfluxDB 2.x: creating bucket ${name} answered ${made.status}: ${made.json?.message ?? ''}`, made.status);
    }
  }
}

/** Reads the InfluxDB settings every service shares from the environment. */
export function influxConfigFromEnv(env: NodeJS.ProcessEnv = process.env): InfluxConfig | undefined {
  if (!env.INFLUX_URL) return undefined;
  return {
    url: env.INFLUX_URL,
    db: env.INFLUX_DB ?? 'smartpark',
    rp: env.INFLUX_RP || undefined,
    token: env.INFLUX_TOKEN || undefined,
    username: env.INFLUX_USERNAME || undefined,
    password: env.INFLUX_PASSWORD || undefined,
  };
}
