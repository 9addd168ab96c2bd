/**
 * Dashboard-side InfluxQL: the Grafana macros and template variables a dashboard query needs, as
 * `Fragment`s of the one InfluxQL builder (core/influx/influxql.ts). Dashboards cannot send bound
 * parameters (Grafana sends the text), so every piece of a query is an identifier (`ident`), an
 * escaped literal (`literal`), a checked duration, a regex built here from model ids, or one of
 * the macros below — never pasted text. `iql` accepts Fragments only.
 */
import { Fragment, ident, join } from '../core/influx/influxql.ts';

/** Grafana's time-range macro: `time >= <from>ms and time <= <to>ms`. */
export const TIME_FILTER = new Fragment('$timeFilter');
/** Grafana's automatic GROUP BY interval (from the time range and max data points). */
export const INTERVAL = new Fragment('$__interval');
/** The automatic interval in milliseconds (a number), for rates per interval. */
export const INTERVAL_MS = new Fragment('$__interval_ms');
/** End of the dashboard time range in epoch ms, as an InfluxQL time literal (`<to>ms`). */
export const RANGE_END = new Fragment('${__to}ms');

const VARIABLE_NAME = /^[a-z][a-z0-9_]{0,31}$/;

/** `$name`: a template variable reference (name checked). */
export function variable(name: string): Fragment {
  if (!VARIABLE_NAME.test(name)) throw new RangeError(`template variable name ${JSON.stringify(name)} is not like park or device_kind`);
  return new Fragment(`$${name}`);
}

/** `"tag" =~ /^$name$/`: a tag filtered by a (multi-value / All) template variable. */
export function tagMatchesVariable(tag: string, name: string): Fragment {
  return new Fragment(`${ident(tag).text} =~ /^${variable(name).text}$/`);
}

/** Escapes a value for use inside an InfluxQL regex literal `/.../` (regex metacharacters and `/`). */
export function regexEscape(s: string): string {
  if (/[\n\r]/.test(s)) throw new RangeError('regex value has a line break');
  return s.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** `/^(a|b|c)$/`: matches exactly one of the given names (measurements or tag values). */
export function exactly(names: readonly string[]): Fragment {
  if (names.length === 0) throw new RangeError('exactly() needs at least one name');
  return new Fragment(`/^(${[...new Set(names)].map(regexEscape).join('|')})$/`);
}

/** A finite number literal (e.g. a reporting interval from the park model). */
export function num(n: number): Fragment {
  if (!Number.isFinite(n)) throw new RangeError(`number ${n} is not finite`);
  return new Fragment(String(n));
}

/** `"tag" =~ /^(a|b)$/`. */
export function tagIn(tag: string, values: readonly string[]): Fragment {
  return new Fragment(`${ident(tag).text} =~ ${exactly(values).text}`);
}

/** Conditions joined with AND. */
export function and(conds: readonly Fragment[]): Fragment {
  return join(conds, ' AND ');
}

/** A statement from Fragments only: `iql\`SELECT ${ident('x')} FROM ${ident('m')} WHERE ${TIME_FILTER}\``. */
export function iql(strings: TemplateStringsArray, ...parts: Fragment[]): string {
  let text = strings[0] ?? '';
  parts.forEach((p, i) => {
    if (!(p instanceof Fragment)) throw new TypeError('iql takes Fragments only (ident, literal, duration, the macros)');
    text += p.text + (strings[i + 1] ?? '');
  });
  if (/[\n\r;]/.test(text)) throw new RangeError('a dashboard query is one statement on one line');
  return text;
}
