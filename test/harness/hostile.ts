/**
 * A deterministic generator of hostile MQTT payloads and topics for the fuzz tests. Seeded
 * (mulberry32), no dependencies. Every case says what the platform must do with it:
 *   expect = 'ok'            a valid message; `readings` is what must be stored, exactly
 *   expect = <ErrorCode>     refused with that code
 *   expect = 'refused'       refused with some code (random noise: the exact code is not the point)
 * Mutations break exactly one rule of docs/contract.md each, so the expected code is known.
 */
import { deviceTopic, DEFAULT_LIMITS, type MetricValue, type Reading } from '../../core/contract.ts';
import type { ErrorCode } from '../../core/errors.ts';
import type { DeviceModel, MetricDef, ParkModel } from '../../core/model.ts';

export type Expect = 'ok' | 'refused' | ErrorCode;

export interface PayloadCase {
  name: string;
  device: DeviceModel;
  payload: Buffer;
  expect: Expect;
  /** For 'ok': the readings that must come out, in order. */
  readings?: Reading[];
}

export interface TopicCase { name: string; topic: string; expect: 'ok' | ErrorCode; device?: string }

/** mulberry32: a small, fast, well-distributed 32-bit PRNG. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]!; }
  chance(p: number): boolean { return this.next() < p; }
  bytes(n: number): Buffer { return Buffer.from(Array.from({ length: n }, () => this.int(0, 255))); }
}

/** Text that is valid in a `text` metric but hostile to line protocol, JSON, logs and shells. */
const NASTY_TEXT = [
  'a"b', 'back\\slash', 'trail\\', 'comma,space here', 'eq=sign', 'line\nbreak', 'cr\r\nlf', 'tab\tx',
  'dev2,park=VIP', 'x\nroller_kiln,device=wm-kiln-1 t_firing=0 1', "x' OR device=~/.*/ OR device='y", '; DROP MEASUREMENT cold_room',
  '荣昌高新区', '🐖🏺', 'e\u0301', '\u202eRLO', '\u00a0nbsp', '\ufeffbom-in-text', '\u2028ls\u2029ps', '{"__proto__":1}', '${jndi:x}', '%s%n',
  '\\u0000 (escaped, not a NUL)',
];

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
const HUGE_NUMBERS = [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 1e300, -1e-300, 2 ** 53 + 2, 123456789.123456789];

/** A valid value for a metric declaration (hostile where the contract allows it). */
function validValue(rng: Rng, def: MetricDef): MetricValue {
  switch (def.type) {
    case 'number': return rng.chance(0.15) ? rng.pick(HUGE_NUMBERS) : Math.round((rng.next() * 2000 - 500) * 1000) / 1000;
    case 'counter': return rng.chance(0.1) ? rng.pick([0, 1e21, Number.MAX_VALUE]) : Math.round(rng.next() * 1e9) / 100;
    case 'integer': return rng.chance(0.1) ? rng.pick([0, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) : rng.int(-1000, 1_000_000);
    case 'boolean': return rng.chance(0.5);
    case 'enum': return rng.pick(def.values!);
    case 'text': {
      const max = def.maxLength ?? 256;
      const s = rng.chance(0.6) ? rng.pick(NASTY_TEXT) : 'x'.repeat(rng.int(0, max));
      return s.length > max ? s.slice(0, max) : s;
    }
  }
}

/** A wrong value for a metric declaration, with the code it must be refused with. */
function wrongValue(rng: Rng, def: MetricDef): { raw: string; code: ErrorCode } {
  const typeErrors = ['"12"', 'true', 'null', '[]', '[1]', '{}', '{"__proto__":{"polluted":1}}', '""'];
  switch (def.type) {
    case 'number':
    case 'counter':
    case 'integer': {
      const r = rng.int(0, 9);
      if (r < 2) return { raw: rng.pick(['1e400', '-1e400', '1e999999']), code: 'SP_ERR_NON_FINITE' };
      if (def.type === 'counter' && r < 4) return { raw: rng.pick(['-1', '-0.001', '-1e300']), code: 'SP_ERR_COUNTER_NEGATIVE' };
      if (def.type === 'integer' && r < 4) return { raw: rng.pick(['1.5', '9007199254740993', '1e300']), code: 'SP_ERR_METRIC_TYPE' };
      return { raw: rng.pick(typeErrors.filter((t) => !/^-?\d/.test(t))), code: 'SP_ERR_METRIC_TYPE' };
    }
    case 'boolean':
      return { raw: rng.pick(['0', '1', '"true"', 'null', '[]', '{}']), code: 'SP_ERR_METRIC_TYPE' };
    case 'enum':
      return rng.chance(0.5)
        ? { raw: JSON.stringify(rng.pick(['', 'RUNNING', 'running ', 'dancing', '__proto__', 'constructor', `${def.values![0]}\u0000`])), code: 'SP_ERR_ENUM_VALUE' }
        : { raw: rng.pick(['1', 'true', 'null', '["running"]', '{}']), code: 'SP_ERR_METRIC_TYPE' };
    case 'text': {
      const r = rng.int(0, 2);
      if (r === 0) return { raw: JSON.stringify('x'.repeat((def.maxLength ?? 256) + rng.int(1, 1000))), code: 'SP_ERR_TEXT_LENGTH' };
      if (r === 1) return { raw: JSON.stringify(`a\u0000b${rng.pick(NASTY_TEXT)}`), code: 'SP_ERR_TEXT_NUL' };
      return { raw: rng.pick(['1', 'true', 'null', '["x"]', '{}']), code: 'SP_ERR_METRIC_TYPE' };
    }
  }
}

const deep = (open: string, close: string, n: number, inner = '') => open.repeat(n) + inner + close.repeat(n);

/** Serialises a reading by hand, so keys may repeat and values may be raw JSON text. */
function readingJson(parts: [string, string][]): string {
  return `{${parts.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

export class HostileGenerator {
  constructor(private readonly model: ParkModel, private readonly rng: Rng, private readonly now: number) {}

  private devices(): DeviceModel[] { return [...this.model.devices.values()]; }

  /** A valid reading for a device; metrics are a random non-empty subset of its kind's. */
  validReading(d: DeviceModel, ts: number, seq?: number): Reading {
    const defs = [...d.kind.metrics.values()].filter(() => this.rng.chance(0.5));
    if (defs.length === 0) defs.push(this.rng.pick([...d.kind.metrics.values()]));
    const metrics: Record<string, MetricValue> = {};
    for (const def of defs) metrics[def.name] = validValue(this.rng, def);
    return seq === undefined ? { ts, metrics } : { ts, seq, metrics };
  }

  private ts(): number { return this.now - this.rng.int(0, 6 * 86_400_000); }

  /** The raw parts of a reading, for mutation. */
  private parts(r: Reading): [string, string][] {
    const p: [string, string][] = [['ts', JSON.stringify(r.ts)]];
    if (r.seq !== undefined) p.push(['seq', JSON.stringify(r.seq)]);
    p.push(['metrics', JSON.stringify(r.metrics)]);
    return p;
  }

  /** One reading with exactly one rule broken; returns its JSON and the expected code. */
  private badReading(d: DeviceModel): { json: string; code: ErrorCode } {
    const rng = this.rng;
    const good = this.validReading(d, this.ts(), rng.chance(0.5) ? rng.int(0, 1e6) : undefined);
    const parts = this.parts(good);
    const set = (k: string, raw: string | undefined) => {
      const i = parts.findIndex(([pk]) => pk === k);
      if (raw === undefined) parts.splice(i, 1);
      else if (i >= 0) parts[i] = [k, raw];
      else parts.push([k, raw]);
    };
    const defs = [...d.kind.metrics.values()];
    switch (rng.int(0, 12)) {
      case 0: set('ts', rng.pick([undefined, 'null', '"yesterday"', '"2026-11-25 12:00:00"', '"2026-11-25T12:00:00"', '1.5', '0', '-1', '1e400', 'true', '[]', '{}', '"NaN"', '"Infinity"', `"${this.now}"`, deep('[', ']', 20_000)]));
        return { json: readingJson(parts), code: 'SP_ERR_TIMESTAMP' };
      case 1: set('ts', String(this.now + DEFAULT_LIMITS.maxFutureMs + rng.int(60_000, 1e10)));
        return { json: readingJson(parts), code: 'SP_ERR_TS_FUTURE' };
      case 2: set('ts', rng.pick([String(this.now - DEFAULT_LIMITS.maxPastMs - rng.int(60_000, 1e10)), '"1970-01-01T00:00:01Z"', '1']));
        return { json: readingJson(parts), code: 'SP_ERR_TS_PAST' };
      case 3: set('seq', rng.pick(['-1', '1.5', '"7"', 'null', 'true', '9007199254740993', '1e400', '[]', deep('{"a":', '}', 5000, '1')]));
        return { json: readingJson(parts), code: 'SP_ERR_SEQ' };
      case 4: set('metrics', rng.pick(['{}']));
        return { json: readingJson(parts), code: 'SP_ERR_NO_METRICS' };
      case 5: set('metrics', rng.pick([undefined, 'null', '[]', '[{"power":1}]', '"power=1"', '1', 'true']));
        return { json: readingJson(parts), code: 'SP_ERR_PAYLOAD_SHAPE' };
      case 6: set(rng.pick([...PROTO_KEYS, 'readings', 'device', 'park', 'TS', 'ts ', '']), rng.pick(['1', '{"polluted":true}', 'null', '[]']));
        return { json: readingJson(parts), code: 'SP_ERR_PAYLOAD_SHAPE' };
      case 7: case 8: {
        const name = rng.pick([...PROTO_KEYS, 'seq', 'T_FIRING', 'power ', 'pow er', 'power,park=x', 'power\n', '', 'é', '😀', 'x'.repeat(49), 'a'.repeat(10_000), 'metrics', 'ts', '0abc']);
        const m = JSON.parse(parts.find(([k]) => k === 'metrics')![1]) as Record<string, unknown>;
        const entries = Object.entries(m).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
        entries.splice(rng.int(0, entries.length), 0, `${JSON.stringify(name)}:${rng.pick(['1', '{"polluted":true}', '"x"'])}`);
        set('metrics', `{${entries.join(',')}}`);
        return { json: readingJson(parts), code: 'SP_ERR_UNKNOWN_METRIC' };
      }
      case 9: {
        // a deeply nested value where a scalar belongs: must be refused, not blow the stack
        const def = rng.pick(defs);
        set('metrics', `{${JSON.stringify(def.name)}:${rng.chance(0.5) ? deep('[', ']', rng.int(5_000, 50_000)) : deep('{"a":', '}', rng.int(1_000, 20_000), '1')}}`);
        return { json: readingJson(parts), code: 'SP_ERR_METRIC_TYPE' };
      }
      default: {
        // a wrong value in one position, the others valid (text metrics are rare: favour them)
        const texts = defs.filter((x) => x.type === 'text');
        const def = texts.length > 0 && rng.chance(0.4) ? rng.pick(texts) : rng.pick(defs);
        const { raw, code } = wrongValue(rng, def);
        const m = JSON.parse(parts.find(([k]) => k === 'metrics')![1]) as Record<string, unknown>;
        delete m[def.name];
        const entries = Object.entries(m).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
        entries.splice(rng.int(0, entries.length), 0, `${JSON.stringify(def.name)}:${raw}`);
        set('metrics', `{${entries.join(',')}}`);
        return { json: readingJson(parts), code };
      }
    }
  }

  /** One generated telemetry case. */
  payload(i: number): PayloadCase {
    const rng = this.rng;
    // kinds with text, integer or boolean metrics are few: give them a fair share
    const rare = this.devices().filter((x) => [...x.kind.metrics.values()].some((m) => m.type === 'text' || m.type === 'integer' || m.type === 'boolean'));
    const d = rng.pick(rng.chance(0.3) ? rare : this.devices());
    const c = (name: string, payload: string | Buffer, expect: Expect, readings?: Reading[]): PayloadCase =>
      ({ name: `#${i} ${name}`, device: d, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'), expect, readings });
    const kind = rng.int(0, 19);
    if (kind <= 3) {
      const r = this.validReading(d, this.ts(), rng.chance(0.7) ? rng.int(0, 2 ** 40) : undefined);
      return c('valid reading', JSON.stringify(r), 'ok', [r]);
    }
    if (kind === 4) {
      const rs = Array.from({ length: rng.int(1, 50) }, (_, k) => this.validReading(d, this.ts() - k, k));
      return c('valid batch', JSON.stringify({ readings: rs }), 'ok', rs);
    }
    if (kind === 5) {
      // duplicate keys: JSON's last one wins, and that is what must be stored
      const r = this.validReading(d, this.ts());
      const name = Object.keys(r.metrics)[0]!;
      const def = d.kind.metrics.get(name)!;
      const first = validValue(rng, def);
      const text = `{"ts":"not a time","ts":${r.ts},"metrics":{${JSON.stringify(name)}:${JSON.stringify(first)},${Object.entries(r.metrics).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}}`;
      return c('duplicate keys (last wins)', text, 'ok', [r]);
    }
    if (kind === 6) {
      // a UTF-8 byte-order mark is ignored by the decoder (RFC 8259 §8.1 allows ignoring it)
      const r = this.validReading(d, this.ts());
      return c('BOM then a valid reading', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(r))]), 'ok', [r]);
    }
    if (kind <= 11) {
      const b = this.badReading(d);
      return c(`bad reading (${b.code})`, b.json, b.code);
    }
    if (kind <= 13) {
      // a batch with one bad reading among good ones: all of it refused, the bad one named
      const n = rng.int(2, 30);
      const at = rng.int(0, n - 1);
      const b = this.badReading(d);
      const items = Array.from({ length: n }, (_, k) => (k === at ? b.json : JSON.stringify(this.validReading(d, this.ts() - k))));
      return c(`batch with a bad reading at ${at} (${b.code})`, `{"readings":[${items.join(',')}]}`, b.code);
    }
    if (kind === 14) {
      const good = JSON.stringify(this.validReading(d, this.ts()));
      const v = rng.int(0, 9);
      const shapes: [string, ErrorCode][] = [
        ['[]', 'SP_ERR_PAYLOAD_SHAPE'], ['null', 'SP_ERR_PAYLOAD_SHAPE'], ['42', 'SP_ERR_PAYLOAD_SHAPE'], ['"text"', 'SP_ERR_PAYLOAD_SHAPE'],
        ['{"readings":[]}', 'SP_ERR_PAYLOAD_SHAPE'], ['{"readings":{}}', 'SP_ERR_PAYLOAD_SHAPE'], [`{"readings":[${good}],"ts":1}`, 'SP_ERR_PAYLOAD_SHAPE'],
        [`{"readings":[${Array.from({ length: DEFAULT_LIMITS.maxBatch + 1 }, () => '{}').join(',')}]}`, 'SP_ERR_BATCH_SIZE'],
        [`[${good}]`, 'SP_ERR_PAYLOAD_SHAPE'], [deep('[', ']', rng.int(1000, 100_000)), 'SP_ERR_PAYLOAD_SHAPE'],
      ];
      const [p, code] = shapes[v]!;
      return c(`bad shape (${code})`, p, code);
    }
    if (kind === 15) {
      // text-level damage to a valid payload
      const good = JSON.stringify(this.validReading(d, this.ts()));
      const v = rng.int(0, 7);
      const buf = Buffer.from(good);
      if (v === 0) return c('truncated', buf.subarray(0, rng.int(0, buf.length - 1)), 'SP_ERR_PAYLOAD_JSON');
      if (v === 1) { const i = rng.int(0, buf.length); return c('invalid UTF-8 inserted', Buffer.concat([buf.subarray(0, i), rng.pick([Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])]), buf.subarray(i)]), 'SP_ERR_PAYLOAD_JSON'); }
      // the first number in a reading is its ts: make it a JavaScript-only literal
      if (v === 2) return c('NaN/Infinity literal', good.replace(/"ts":\d+/, `"ts":${rng.pick(['NaN', 'Infinity', '-Infinity', 'undefined', '0x10', '+1', '.5', '01'])}`), 'SP_ERR_PAYLOAD_JSON');
      if (v === 3) return c('trailing garbage', `${good}${rng.pick(['x', '}', ',', '\u0000', '{}'])}`, 'SP_ERR_PAYLOAD_JSON');
      if (v === 4) return c('single quotes / comments', rng.pick([good.replaceAll('"', "'"), `/*c*/${good}`, `${good}//c`]), 'SP_ERR_PAYLOAD_JSON');
      if (v === 5) return c('UTF-16 encoded', Buffer.from(`\ufeff${good}`, 'utf16le'), 'SP_ERR_PAYLOAD_JSON');
      if (v === 6) return c('empty', Buffer.alloc(0), 'SP_ERR_PAYLOAD_JSON');
      return c('oversized', `{"ts":1,"metrics":{"power":1},"pad":"${'x'.repeat(DEFAULT_LIMITS.maxPayloadBytes)}"}`, 'SP_ERR_PAYLOAD_SIZE');
    }
    if (kind === 16) return c('random bytes', rng.bytes(rng.int(0, 2000)), 'refused');
    if (kind === 17) {
      // random printable JSON-ish characters
      const alphabet = '{}[]":,0123456789.-+eE tfnrulas\\/\u0000\n';
      let s = '';
      for (let k = rng.int(0, 300); k > 0; k--) s += alphabet[rng.int(0, alphabet.length - 1)];
      return c('random JSON-ish text', s, 'refused');
    }
    // random flips of a valid payload: anything may happen except a crash or a wrong store
    const buf = Buffer.from(JSON.stringify(this.validReading(d, this.ts())));
    for (let k = rng.int(1, 4); k > 0; k--) buf[rng.int(0, buf.length - 1)] = rng.int(0, 255);
    return c('byte flips', buf, 'any' as Expect);
  }

  /** One generated topic case. */
  topic(i: number): TopicCase {
    const rng = this.rng;
    const d = rng.pick(this.devices());
    const ch = rng.pick(['telemetry', 'status'] as const);
    const good = deviceTopic(d, ch);
    const parts = good.split('/');
    const t = (name: string, topic: string, expect: TopicCase['expect']): TopicCase => ({ name: `#${i} ${name}`, topic, expect, device: d.id });
    switch (rng.int(0, 11)) {
      case 0: return t('valid', good, 'ok');
      case 1: {
        const other = rng.pick(this.devices().filter((o) => o.park !== d.park || o.enterprise !== d.enterprise || o.workshop !== d.workshop));
        return t('device under another place', `sp/v1/${other.park}/${other.enterprise}/${other.workshop}/${d.id}/${ch}`, 'SP_ERR_TOPIC_PATH');
      }
      case 2: return t('unknown device', `sp/v1/${d.park}/${d.enterprise}/${d.workshop}/${rng.pick(['x', 'wm-kiln-99', 'constructor', '__proto__'.replaceAll('_', 'a'), 'tostring'])}/${ch}`, 'SP_ERR_UNKNOWN_DEVICE');
      case 3: {
        const k = rng.int(2, 6);
        parts[k] = rng.pick(['+', '#', '', ' ', 'A', 'a b', 'a,b', 'a=b', 'a\nb', 'a\u0000b', '$SYS', '..', 'é', '🐖', '-x', '_x', 'x'.repeat(49), '__proto__', 'a"b', "a'b", 'a\\b']);
        return t(`bad level ${k}`, parts.join('/'), 'SP_ERR_TOPIC');
      }
      case 4: return t('extra level', `${good}/${rng.pick(['x', '', '#'])}`, 'SP_ERR_TOPIC');
      case 5: { const gone = rng.int(2, 6); return t('missing level', parts.filter((_, k) => k !== gone).join('/'), 'SP_ERR_TOPIC'); }
      case 6: return t('wrong root', good.replace('sp/v1', rng.pick(['sp/v2', 'SP/v1', '/sp/v1', 'sp//v1', 'sp/v1/', '$share/g/sp/v1'])), 'SP_ERR_TOPIC');
      case 7: return t('deep', `${good}${'/x'.repeat(rng.int(1, 10_000))}`, 'SP_ERR_TOPIC');
      case 8: return t('leading/trailing slash', rng.chance(0.5) ? `/${good}` : `${good}/`, 'SP_ERR_TOPIC');
      case 9: { let s = ''; for (let k = rng.int(0, 200); k > 0; k--) s += String.fromCharCode(rng.int(0, 0xffff)); return t('random unicode', s, 'SP_ERR_TOPIC'); }
      case 10: return t('empty', '', 'SP_ERR_TOPIC');
      default: return t('huge', `sp/v1/${'a'.repeat(rng.int(49, 70_000))}/e/w/d/telemetry`, 'SP_ERR_TOPIC');
    }
  }
}
