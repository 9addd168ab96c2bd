/**
 * The one place that builds InfluxQL. Values never enter the statement text: the `influxql`
 * tagged template turns every interpolated value into a bound parameter (`$p0`, `$p1`, ...,
 * sent in `params=`), which InfluxDB 1.x, 2.x (v1 API) and 3.x bind as literals. Identifiers and
 * keywords cannot be bound, so they enter only through the checked fragments below.
 */
export class Fragment {
  constructor(readonly text: string) {}
}

/** A double-quoted identifier (measurement, field, tag key), with `"` and `\` escaped. */
export function ident(name: string): Fragment {
  if (name.length === 0 || /[\n\r]/.test(name)) throw new RangeError(`identifier ${JSON.stringify(name)} is empty or has a line break`);
  return new Fragment(`"${name.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
}

/** A single-quoted string literal, escaped: for statements that cannot carry parameters (dashboards). */
export function literal(s: string): Fragment {
  if (/[\n\r]/.test(s)) throw new RangeError('string literal has a line break');
  return new Fragment(`'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`);
}

export const DURATION_PATTERN = /^[1-9][0-9]{0,8}(ms|s|m|h|d|w)$/;

/** A duration literal such as `1m` or `15s` (GROUP BY time() takes no parameter). */
export function duration(d: string): Fragment {
  if (!DURATION_PATTERN.test(d)) throw new RangeError(`duration ${JSON.stringify(d)} is not like 10s, 1m, 1h or 1d`);
  return new Fragment(d);
}

export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(d);
  if (!m) throw new RangeError(`duration ${JSON.stringify(d)} is not like 10s, 1m, 1h or 1d`);
  const unit = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

/** A keyword from a fixed list (an aggregate function, ASC/DESC...). */
export function keyword<T extends string>(v: string, allowed: readonly T[]): Fragment {
  if (!(allowed as readonly string[]).includes(v)) throw new RangeError(`${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  return new Fragment(v);
}

/** Joins fragments (e.g. a list of fields) with a separator. */
export function join(parts: readonly Fragment[], sep = ', '): Fragment {
  return new Fragment(parts.map((p) => p.text).join(sep));
}

export type Param = string | number | boolean;

export interface Statement {
  readonly text: string;
  readonly params: Readonly<Record<string, Param>>;
}

/** Concatenates statements (e.g. one query per measurement) into one request, keeping parameters apart. */
export function statements(list: readonly Statement[]): Statement {
  let text = '';
  const params: Record<string, Param> = {};
  list.forEach((s, i) => {
    let t = s.text;
    for (const [k, v] of Object.entries(s.params)) {
      const nk = `s${i}${k}`;
      t = t.replace(new RegExp(`\\$${k}\\b`, 'g'), `$${nk}`);
      params[nk] = v;
    }
    text += (i ? '; ' : '') + t;
  });
  return { text, params };
}

/**
 * influxql`SELECT ${ident(f)} FROM ${ident(m)} WHERE "device" = ${id} AND time >= ${from}`
 * Values (string, number, boolean, Date) become bound parameters; Fragments are inserted as text.
 */
export function influxql(strings: TemplateStringsArray, ...values: (Fragment | Param | Date)[]): Statement {
  let text = strings[0] ?? '';
  const params: Record<string, Param> = {};
  values.forEach((v, i) => {
    if (v instanceof Fragment) text += v.text;
    else {
      const name = `p${Object.keys(params).length}`;
      if (v instanceof Date) {
        if (Number.isNaN(v.getTime())) throw new RangeError('invalid date');
        params[name] = v.toISOString();
      } else {
        if (typeof v === 'number' && !Number.isFinite(v)) throw new RangeError(`parameter ${v} is not finite`);
        params[name] = v;
      }
      text += `$${name}`;
    }
    text += strings[i + 1] ?? '';
  });
  return { text, params };
}
