/**
 * The one place that builds InfluxQL. A statement is a `Fragment`: trusted text (from the
 * `influxql` template, checked identifiers, durations and keywords) and values kept apart from it.
 * Fragments compose: interpolating one into `influxql` carries its values along, and names are
 * given only when a fragment is rendered, so they never collide:
 *   - `bind(f)` (what the client sends): each value becomes `$p0`, `$p1`, ... in `params=`, which
 *     InfluxDB 1.x, 2.x (v1 API) and 3.x bind as literals;
 *   - `renderInline(f)` (what Grafana sends, which cannot carry parameters): each value becomes
 *     an escaped literal.
 * The constructor is private: text enters only through the builders below, and constant text
 * through the one escape hatch, raw`...`.
 */

export type Param = string | number | boolean;
/** A value of a statement: bound as a parameter, or rendered as a literal. */
export type Value = Param | Date;

/** The bound form of a statement: what POST /query takes as `q` and `params`. */
export interface Statement {
  readonly text: string;
  readonly params: Readonly<Record<string, Param>>;
}

interface Slot { readonly value: Param }
type Part = string | Slot;

const TOKEN = Symbol('Fragment');
let make: (parts: readonly Part[]) => Fragment;
let partsOf: (f: Fragment) => readonly Part[];

export class Fragment {
  readonly #parts: readonly Part[];

  private constructor(token: symbol, parts: readonly Part[]) {
    if (token !== TOKEN) throw new TypeError('Fragment is built by core/influx/influxql.ts only (influxql`...`, ident, raw`...`)');
    this.#parts = parts;
  }

  /** A fragment is not text: pasting one into a string would lose its values. */
  toString(): never {
    throw new TypeError('a Fragment is not text: compose it with influxql`...`, render it with bind() or renderInline()');
  }

  static {
    make = (parts) => new Fragment(TOKEN, normalise(parts));
    partsOf = (f) => f.#parts;
  }
}

/** Adjacent text merged, empty text dropped. */
function normalise(parts: readonly Part[]): Part[] {
  const out: Part[] = [];
  for (const p of parts) {
    if (typeof p !== 'string') out.push(p);
    else if (p !== '') {
      const last = out.length - 1;
      if (typeof out[last] === 'string') out[last] += p;
      else out.push(p);
    }
  }
  return out;
}

function slot(v: Value): Slot {
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new RangeError('invalid date');
    return { value: v.toISOString() };
  }
  if (typeof v === 'number' && !Number.isFinite(v)) throw new RangeError(`parameter ${v} is not finite`);
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new TypeError(`${typeof v} is not an InfluxQL value (string, number, boolean, Date) or Fragment`);
  return { value: v };
}

/**
 * influxql`SELECT ${ident(f)} FROM ${ident(m)} WHERE "device" = ${id} AND time >= ${from}`
 * Values (string, number, boolean, Date) stay values; Fragments are spliced in with their values.
 */
export function influxql(strings: TemplateStringsArray, ...values: (Fragment | Value)[]): Fragment {
  const parts: Part[] = [strings[0] ?? ''];
  values.forEach((v, i) => {
    if (v instanceof Fragment) parts.push(...partsOf(v));
    else parts.push(slot(v));
    parts.push(strings[i + 1] ?? '');
  });
  return make(parts);
}

/**
 * The escape hatch, for constant text that is not InfluxQL of its own: what a client substitutes
 * before sending, such as Grafana's raw`$timeFilter`. (Constant InfluxQL is just influxql`...`.)
 * It takes no `${}`, so nothing computed can pass through it.
 */
export function raw(strings: TemplateStringsArray): Fragment {
  if (!Array.isArray(strings) || !Array.isArray((strings as { raw?: unknown }).raw) || !Object.isFrozen(strings) || strings.length !== 1) {
    throw new TypeError('raw`...` takes constant text written as a tagged template, without ${}');
  }
  return make([strings[0]!]);
}

/** A double-quoted identifier (measurement, field, tag key), with `"` and `\` escaped. */
export function ident(name: string): Fragment {
  if (name.length === 0 || /[\n\r]/.test(name)) throw new RangeError(`identifier ${JSON.stringify(name)} is empty or has a line break`);
  return make([`"${name.replace(/[\\"]/g, (c) => `\\${c}`)}"`]);
}

export const DURATION_PATTERN = /^[1-9][0-9]{0,8}(ms|s|m|h|d|w)$/;
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd' | 'w';
const UNIT_MS: Readonly<Record<DurationUnit, number>> = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 };

/** A duration literal such as `1m` or `15s` (GROUP BY time() takes no parameter). */
export function duration(d: string): Fragment {
  if (!DURATION_PATTERN.test(d)) throw new RangeError(`duration ${JSON.stringify(d)} is not like 10s, 1m, 1h or 1d`);
  return make([d]);
}

/** A signed whole-number duration such as `-480m` (the offset of GROUP BY time(1d, -480m)). */
export function offsetDuration(n: number, unit: DurationUnit): Fragment {
  if (!Number.isSafeInteger(n) || !(unit in UNIT_MS)) throw new RangeError(`offset ${n}${unit} is not a whole number of ms, s, m, h, d or w`);
  return make([`${n}${unit}`]);
}

export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(d);
  if (!m) throw new RangeError(`duration ${JSON.stringify(d)} is not like 10s, 1m, 1h or 1d`);
  return Number(m[1]) * UNIT_MS[m[2] as DurationUnit];
}

/** A keyword from a fixed list (an aggregate function, ASC/DESC...). */
export function keyword<T extends string>(v: string, allowed: readonly T[]): Fragment {
  if (!(allowed as readonly string[]).includes(v)) throw new RangeError(`${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  return make([v]);
}

/** Escapes a value for use inside an InfluxQL regex literal `/.../` (regex metacharacters and `/`). */
export function regexEscape(s: string): string {
  if (/[\n\r]/.test(s)) throw new RangeError('regex value has a line break');
  return s.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** `/^(a|b|c)$/`: a regex literal matching exactly one of the given names (measurements or tag values). */
export function exactly(names: readonly string[]): Fragment {
  if (names.length === 0) throw new RangeError('exactly() needs at least one name');
  return make([`/^(${[...new Set(names)].map(regexEscape).join('|')})$/`]);
}

export type Separator = ', ' | ' AND ' | ' OR ';

/** Joins fragments (a list of fields, conditions) with a separator, keeping their values. */
export function join(parts: readonly Fragment[], sep: Separator = ', '): Fragment {
  return make(parts.flatMap((p, i) => (i ? [sep, ...partsOf(p)] : partsOf(p))));
}

/** Several statements in one request (e.g. one query per measurement). */
export function statements(list: readonly Fragment[]): Fragment {
  return make(list.flatMap((p, i) => (i ? ['; ', ...partsOf(p)] : partsOf(p))));
}

/** Walks the parts; a value right before an identifier character would merge with it (`$p0m`, `5m`). */
function render(f: Fragment, value: (v: Param) => string): string {
  const parts = partsOf(f);
  let text = '';
  parts.forEach((p, i) => {
    if (typeof p === 'string') text += p;
    else {
      const next = parts[i + 1];
      if (typeof next === 'string' && /^[\p{L}\p{N}_]/u.test(next)) throw new RangeError(`a value is followed by ${JSON.stringify(next.slice(0, 10))}: separate it, or use duration() for a duration`);
      text += value(p.value);
    }
  });
  return text;
}

/** The statement as sent to InfluxDB: values as `$p0`, `$p1`, ... in order, in `params`. */
export function bind(f: Fragment): Statement {
  const params: Record<string, Param> = {};
  let n = 0;
  const text = render(f, (v) => {
    const name = `p${n++}`;
    params[name] = v;
    return `$${name}`;
  });
  return { text, params };
}

/**
 * `params` as JSON for POST /query. InfluxDB 1.x reads a number without `.` as int64 and fails on
 * `1e-7` or `1e+21` (JSON.stringify's form), so numbers are written as their InfluxQL literals.
 */
export function encodeParams(params: Statement['params']): string {
  return `{${Object.entries(params).map(([k, v]) => `${JSON.stringify(k)}:${typeof v === 'number' ? numberLiteral(v) : JSON.stringify(v)}`).join(',')}}`;
}

/** A single-quoted string literal: `\` and `'` escaped, a line feed as `\n`; InfluxQL has no escape for a carriage return. */
export function quoteString(s: string): string {
  if (s.includes('\r')) throw new RangeError('a string literal cannot hold a carriage return (bind it as a parameter instead)');
  return `'${s.replace(/[\\'\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}'`;
}

/** A number literal without exponent (InfluxQL reads none); integers beyond 2^53 as floats (they are doubles). */
export function numberLiteral(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`number ${n} is not finite`);
  const s = String(n);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  let text = s;
  if (m) {
    const [, sign, d, frac = '', e] = m;
    const digits = d! + frac;
    const point = 1 + Number(e);
    if (point <= 0) text = `${sign}0.${'0'.repeat(-point)}${digits}`;
    else if (point >= digits.length) text = `${sign}${digits}${'0'.repeat(point - digits.length)}`;
    else text = `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  return Number.isInteger(n) && !Number.isSafeInteger(n) ? `${text}.0` : text;
}

/**
 * The statement with its values written in as literals, for clients that send text only
 * (Grafana): strings (and dates, as RFC 3339) quoted and escaped, numbers and booleans as such.
 */
export function renderInline(f: Fragment): string {
  return render(f, (v) => (typeof v === 'string' ? quoteString(v) : typeof v === 'number' ? numberLiteral(v) : String(v)));
}
