/**
 * Identifiers of parks, enterprises, workshops, lines, devices and metrics.
 * They appear in MQTT topics, MQTT client ids and InfluxDB tags, so the alphabet is narrow on
 * purpose: no MQTT separators or wildcards (`/ + #`), no `$`, no line-protocol specials
 * (space, comma, `=`, quotes, backslash, newline).
 */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,47}$/;
export const METRIC_PATTERN = /^[a-z][a-z0-9_]{0,47}$/;

export function isId(s: unknown): s is string {
  return typeof s === 'string' && ID_PATTERN.test(s);
}

export function isMetricName(s: unknown): s is string {
  return typeof s === 'string' && METRIC_PATTERN.test(s);
}

/** A short, printable rendering of an untrusted value for an error message. */
export function show(v: unknown, max = 60): string {
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  } catch {
    // JSON.stringify throws on deep nesting (stack) or BigInt; String() of a deeply nested
    // array recurses too, so objects are only named here (test/fuzz-contract.test.ts).
    s = Array.isArray(v) ? '[…]' : typeof v === 'object' && v !== null ? '{…}' : String(v);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
