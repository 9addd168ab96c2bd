/**
 * Grafana's side of InfluxQL, on the fragments of the one builder (core/influx/influxql.ts): the
 * macros Grafana substitutes, the dashboards' template variables, and `grafanaQuery`, the text
 * Grafana stores. Grafana sends no bound parameters, so a query is rendered inline: values as
 * escaped literals, identifiers quoted, by core's `renderInline`.
 */
import { exactly, ident, influxql, join, raw, renderInline, type Fragment } from '../core/influx/influxql.ts';

/** Grafana's time-range macro: `time >= <from>ms and time <= <to>ms`. */
export const TIME_FILTER = raw`$timeFilter`;
/** Grafana's automatic GROUP BY interval (from the time range and max data points). */
export const INTERVAL = raw`$__interval`;
/** The automatic interval in milliseconds (a number), for rates per interval. */
export const INTERVAL_MS = raw`$__interval_ms`;
/** End of the dashboard time range in epoch ms, as an InfluxQL time literal (`<to>ms`). */
export const RANGE_END = raw`\${__to}ms`;

/** The template variables every dashboard defines, in chain order: each one's values are filtered by those before it. */
export const VARIABLES = ['park', 'enterprise', 'workshop', 'device'] as const;
export type VariableName = (typeof VARIABLES)[number];
const REFERENCES: Readonly<Record<VariableName, Fragment>> = {
  park: raw`$park`, enterprise: raw`$enterprise`, workshop: raw`$workshop`, device: raw`$device`,
};

/** `$name`: a reference to one of the dashboards' template variables. */
export function variable(name: string): Fragment {
  if (!Object.hasOwn(REFERENCES, name)) throw new RangeError(`template variable ${JSON.stringify(name)} is not one of ${VARIABLES.join(', ')}`);
  return REFERENCES[name as VariableName];
}

/** `"tag" =~ /^$name$/`: a tag filtered by a (multi-value / All) template variable. */
export function tagMatchesVariable(tag: string, name: string): Fragment {
  return influxql`${ident(tag)} =~ /^${variable(name)}$/`;
}

/** `"tag" =~ /^(a|b)$/`. */
export function tagIn(tag: string, values: readonly string[]): Fragment {
  return influxql`${ident(tag)} =~ ${exactly(values)}`;
}

/** Conditions joined with AND. */
export function and(conds: readonly Fragment[]): Fragment {
  return join(conds, ' AND ');
}

/** The query text Grafana stores and sends: rendered inline, one statement on one line. */
export function grafanaQuery(f: Fragment): string {
  const text = renderInline(f);
  if (/[\n\r;]/.test(text)) throw new RangeError('a dashboard query is one statement on one line');
  return text;
}
