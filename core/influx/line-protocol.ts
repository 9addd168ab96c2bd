/**
 * The one place that builds InfluxDB line protocol. Every measurement, tag and field passes
 * through the escapers below, so no device-supplied text can add a tag, a field or a point.
 * Rules (InfluxDB 1.x/2.x/3.x line protocol):
 *   measurement         escape `,` and space
 *   tag key/value,
 *   field key           escape `,`, `=` and space
 *   string field value  wrap in `"`, escape `"` and `\`
 * A line break or backslash cannot be escaped safely in names or tag values, so they are refused.
 */
import type { Reading } from '../contract.ts';
import type { DeviceModel } from '../model.ts';

// A backslash is refused too: `a\` before a separator would escape the separator itself.
const NAME_FORBIDDEN = /[\n\r\\]/;

export function escapeMeasurement(s: string): string {
  if (NAME_FORBIDDEN.test(s) || s.length === 0) throw new RangeError(`measurement ${JSON.stringify(s)} is empty or has a line break or backslash`);
  return s.replace(/[, ]/g, (c) => `\\${c}`);
}

export function escapeKey(s: string): string {
  if (NAME_FORBIDDEN.test(s) || s.length === 0) throw new RangeError(`tag or field name ${JSON.stringify(s)} is empty or has a line break or backslash`);
  return s.replace(/[,= ]/g, (c) => `\\${c}`);
}

/** Tag values: same escapes as keys; an empty tag value is not allowed by InfluxDB. */
export const escapeTagValue = escapeKey;

/**
 * String field value: wrapped in `"`, with `"` and `\` escaped. A line break inside the quotes
 * is kept verbatim by InfluxDB (proven in test/influx-escaping.test.ts), so text is stored as sent.
 */
export function encodeStringField(s: string): string {
  // most values (enum values, plain text) have nothing to escape: skip the regex then
  if (typeof s === 'string' && s.indexOf('"') < 0 && s.indexOf('\\') < 0) return `"${s}"`;
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export type FieldValue =
  | { type: 'float'; value: number }
  | { type: 'integer'; value: number }
  | { type: 'boolean'; value: boolean }
  | { type: 'string'; value: string };

function encodeField(f: FieldValue): string {
  switch (f.type) {
    case 'float':
      if (!Number.isFinite(f.value)) throw new RangeError(`float field ${f.value} is not finite`);
      return String(f.value);
    case 'integer':
      if (!Number.isSafeInteger(f.value)) throw new RangeError(`integer field ${f.value} is not a safe integer`);
      return `${f.value}i`;
    case 'boolean':
      return f.value ? 'true' : 'false';
    case 'string':
      return encodeStringField(f.value);
  }
}

/** One point. Tags are written in key order (InfluxDB's preferred order); timestamp in ms. */
export function encodePoint(
  measurement: string, tags: Record<string, string>, fields: Record<string, FieldValue>, tsMs: number,
): string {
  let line = escapeMeasurement(measurement);
  for (const k of Object.keys(tags).sort()) {
    const v = tags[k];
    if (v === undefined || v === '') continue;
    line += `,${escapeKey(k)}=${escapeTagValue(v)}`;
  }
  const fk = Object.keys(fields);
  if (fk.length === 0) throw new RangeError('a point needs at least one field');
  line += ' ';
  line += fk.map((k) => `${escapeKey(k)}=${encodeField(fields[k]!)}`).join(',');
  if (!Number.isSafeInteger(tsMs)) throw new RangeError(`timestamp ${tsMs} is not an integer`);
  return `${line} ${tsMs}`;
}

/**
 * The InfluxDB schema of telemetry: one measurement per device kind; tags come from the park
 * model only (park, enterprise, workshop, line, device), so series cardinality is bounded by
 * the number of devices; each metric is a field typed by its declaration.
 */
export function deviceTags(d: DeviceModel): Record<string, string> {
  const t: Record<string, string> = { park: d.park, enterprise: d.enterprise, workshop: d.workshop, device: d.id };
  if (d.line) t.line = d.line;
  return t;
}

// Measurement and tag set of a device never change: encode them once per device.
const seriesKeys = new WeakMap<DeviceModel, string>();

function seriesKey(d: DeviceModel): string {
  let k = seriesKeys.get(d);
  if (k === undefined) {
    const tags = deviceTags(d);
    k = escapeMeasurement(d.kind.id) + Object.keys(tags).sort().map((t) => `,${escapeKey(t)}=${escapeTagValue(tags[t]!)}`).join('');
    seriesKeys.set(d, k);
  }
  return k;
}

/** One reading as one point: `kind,tags metric=value,...,seq=Ni ts`. Hot path of ingest. */
export function readingToLine(d: DeviceModel, r: Reading): string {
  // Same checks, encodings and errors (in the same order) as encodeField, written out inline:
  // this runs for every metric of every message.
  const defs = d.kind.metrics;
  let fields = '';
  for (const name in r.metrics) {
    const def = defs.get(name);
    if (!def) throw new RangeError(`metric ${name} is not declared for ${d.kind.id}`);
    const v = r.metrics[name]!;
    // metric names are validated ids (a-z0-9_): nothing to escape
    if (fields.length > 0) fields += ',';
    fields += name;
    switch (def.type) {
      case 'number': case 'counter':
        if (!Number.isFinite(v)) throw new RangeError(`float field ${v} is not finite`);
        fields += `=${v as number}`;
        break;
      case 'integer':
        if (!Number.isSafeInteger(v)) throw new RangeError(`integer field ${v} is not a safe integer`);
        fields += `=${v as number}i`;
        break;
      case 'boolean': fields += v ? '=true' : '=false'; break;
      case 'enum': case 'text': fields += `=${encodeStringField(v as string)}`; break;
    }
  }
  if (!fields) throw new RangeError('a point needs at least one field');
  if (r.seq !== undefined) {
    if (!Number.isSafeInteger(r.seq)) throw new RangeError(`integer field ${r.seq} is not a safe integer`);
    fields += `,seq=${r.seq}i`;
  }
  if (!Number.isSafeInteger(r.ts)) throw new RangeError(`timestamp ${r.ts} is not an integer`);
  return `${seriesKey(d)} ${fields} ${r.ts}`;
}

/** Measurement for device status changes (online/offline). */
export const STATUS_MEASUREMENT = 'device_status';
