/**
 * Injection, proven against the real InfluxDB: hostile text in every place a device or user can
 * put text is stored as sent and never forges a tag, a field, a point or a statement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { InfluxClient } from '../core/influx/client.ts';
import { bind, exactly, ident, influxql, join, renderInline, statements, type Fragment } from '../core/influx/influxql.ts';
import { encodePoint } from '../core/influx/line-protocol.ts';
import { deviceTopic } from '../core/contract.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

const HOSTILE = [
  'plain',
  'a,park=VIP',
  'with space',
  'k=v',
  'quote"inside',
  "single'quote",
  'back\\slash',
  'trailing\\',
  'line1\nm2,device=forged value=1 1',
  'crlf\r\nx',
  '"; DROP MEASUREMENT m; SELECT "',
  "x' OR device=~/.*/ OR device='y",
  '中文 ✓ ünïcode',
];

describe('line protocol and InfluxQL escaping against InfluxDB', () => {
  const influx = new InfluxClient({ url: inject('influxUrl'), token: inject('influxToken') || undefined, db: `esc_${process.pid}` });
  beforeAll(async () => {
    await influx.ensureDatabase();
  });
  afterAll(async () => {
    await influx.query(influxql`DROP DATABASE ${ident(influx.config.db)}`, { db: null });
  });

  it('stores hostile tag values and string fields verbatim, one point each', async () => {
    const body = HOSTILE.filter((s) => !/[\n\r\\]/.test(s))
      .map((s, i) => encodePoint('m', { device: s, park: 'p' }, { text: { type: 'string', value: HOSTILE[i]! }, n: { type: 'integer', value: i } }, 1000 + i))
      .concat(HOSTILE.map((s, i) => encodePoint('m', { device: 'strings' }, { text: { type: 'string', value: s }, n: { type: 'integer', value: i } }, 2000 + i)))
      .join('\n');
    expect(await influx.write(body)).toEqual({ kind: 'ok' });
    const tagged = HOSTILE.filter((s) => !/[\n\r\\]/.test(s));
    const tags = await influx.query('SHOW TAG VALUES FROM "m" WITH KEY = "device"');
    expect(tags[0]![0]!.values.map((v) => v[1]).sort()).toEqual([...tagged, 'strings'].sort());
    const parks = await influx.query('SHOW TAG VALUES FROM "m" WITH KEY = "park"');
    expect(parks[0]![0]!.values.map((v) => v[1])).toEqual(['p']);
    const rows = (await influx.query(influxql`SELECT "text", "n" FROM "m" WHERE "device" = ${'strings'}`))[0]![0]!.values;
    expect(rows.map((r) => r[1])).toEqual(HOSTILE);
    const measurements = await influx.query('SHOW MEASUREMENTS');
    expect(measurements[0]![0]!.values.flat()).toEqual(['m']);
    const fields = await influx.query('SHOW FIELD KEYS FROM "m"');
    expect(fields[0]![0]!.values.map((v) => v[0]).sort()).toEqual(['n', 'text']);
  });

  it('refuses line breaks and backslashes in names and tag values rather than guess', () => {
    expect(() => encodePoint('m', { device: 'a\nb' }, { v: { type: 'float', value: 1 } }, 1)).toThrow(RangeError);
    expect(() => encodePoint('m\n', { device: 'a' }, { v: { type: 'float', value: 1 } }, 1)).toThrow(RangeError);
    expect(() => encodePoint('m', { device: 'a\\' }, { v: { type: 'float', value: 1 } }, 1)).toThrow(RangeError);
  });

  it('binds hostile values as parameters: they select nothing extra and run nothing', async () => {
    for (const s of HOSTILE) {
      const res = await influx.query(influxql`SELECT "n" FROM "m" WHERE "device" = ${s}`);
      const expected = /[\n\r\\]/.test(s) ? 0 : 1;
      expect(res[0]?.[0]?.values.length ?? 0, s).toBe(expected);
    }
    // identifiers are quoted and escaped: a hostile measurement name is just a missing measurement
    const q = await influx.query(influxql`SELECT * FROM ${ident('m" WHERE 1=1; DROP MEASUREMENT "m')}`);
    expect(q[0]).toEqual([]);
    // string literals for statements without parameters are escaped too
    const l = await influx.query(renderInline(influxql`SELECT "n" FROM "m" WHERE "device" = ${"x' OR device=~/.*/ OR device='y"}`));
    expect(l[0]?.[0]?.values.length).toBe(1);
    const all = await influx.query('SELECT count("n") FROM "m"');
    expect(all[0]![0]!.values[0]![1]).toBe(HOSTILE.length * 2 - 4);
  });

  it('composes fragments that carry hostile values: each keeps its own, whatever names they look like', async () => {
    const values = [...HOSTILE.filter((s) => !/[\n\r\\]/.test(s)), '$p0', '$p1 OR 1=1', "'; DROP DATABASE x; --"];
    const body = values.map((s, i) => encodePoint('c', { device: s }, { text: { type: 'string', value: s }, n: { type: 'integer', value: i } }, 1000 + i)).join('\n');
    expect(await influx.write(body)).toEqual({ kind: 'ok' });
    const is = (s: string) => influxql`"device" = ${s} AND "text" = ${s}`;
    const anyOf = (list: readonly string[]) => influxql`(${join(list.map(is), ' OR ')})`;
    const first = values.slice(0, 5);
    const stmt = statements([
      influxql`SELECT count("n") FROM "c" WHERE ${anyOf(values)} AND time >= ${new Date(0)}`,
      influxql`SELECT "n" FROM "c" WHERE ${anyOf(first)} AND "n" < ${first.length}`,
      influxql`SELECT "n" FROM "c" WHERE ${is(values.at(-2)!)} AND ${is(values.at(-1)!)}`,
      influxql`SELECT "n" FROM "c" WHERE ${anyOf([values.at(-3)!])}`,
    ]);
    const bound = bind(stmt);
    expect(Object.keys(bound.params)).toHaveLength(2 * values.length + 1 + 2 * first.length + 1 + 4 + 2);
    expect(bound.text).not.toMatch(/'/); // no literal at all: every value is a parameter
    const res = await influx.query(stmt);
    expect(res[0]![0]!.values[0]![1]).toBe(values.length);
    expect(res[1]![0]!.values.map((r) => r[1])).toEqual([0, 1, 2, 3, 4]);
    expect(res[2]).toEqual([]);
    expect(res[3]![0]!.values.map((r) => r[1])).toEqual([values.length - 3]);
    // the same statements rendered inline (the form Grafana sends) read the same rows
    expect(await influx.query(renderInline(stmt))).toEqual(res);
  });

  it('renders hostile values inline as literals that InfluxDB reads back exactly, and refuses what has no literal', async () => {
    const same = async (f: Fragment) => {
      const inline = await influx.query(renderInline(f));
      expect(inline, renderInline(f)).toEqual(await influx.query(f));
      return inline;
    };
    for (const [i, s] of HOSTILE.entries()) {
      const text = influxql`SELECT "n" FROM "m" WHERE "device" = ${'strings'} AND "text" = ${s}`;
      if (s.includes('\r')) { // InfluxQL has no escape for a carriage return: only a bound parameter can carry it
        expect(() => renderInline(text)).toThrow(RangeError);
        continue;
      }
      expect((await same(text))[0]?.[0]?.values.map((r) => r[1]), s).toEqual([i]);
      const tag = await same(influxql`SELECT "n" FROM "m" WHERE "device" = ${s}`);
      expect(tag[0]?.[0]?.values.length ?? 0, s).toBe(/[\n\r\\]/.test(s) ? 0 : 1);
    }
    // regex literals and identifiers from hostile names, composed with values
    const tagged = HOSTILE.filter((s) => !/[\n\r\\]/.test(s));
    const byRegex = await same(influxql`SELECT count("n") FROM "m" WHERE "device" =~ ${exactly(tagged)} AND "park" = ${'p'}`);
    expect(byRegex[0]![0]!.values[0]![1]).toBe(tagged.length);
    expect(await same(influxql`SELECT * FROM ${ident('m" WHERE 1=1; DROP MEASUREMENT "m')}`)).toEqual([[]]);
    // numbers (negative, tiny, beyond int64) and dates as literals
    const numbers = await same(influxql`SELECT count("n") FROM "m" WHERE "device" = ${'strings'} AND "n" > ${-1} AND "n" * ${1e-7} < ${1} AND "n" < ${1e21} AND time >= ${new Date(2000)}`);
    expect(numbers[0]![0]!.values[0]![1]).toBe(HOSTILE.length);
    const measurements = await influx.query('SHOW MEASUREMENTS');
    expect(measurements[0]![0]!.values.flat()).toEqual(['c', 'm']);
  });
});

describe('hostile device text through the whole pipeline', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await new TestPlatform().start();
  });
  afterAll(async () => {
    await p?.stop();
  });

  it('stores a text metric with commas, quotes, = and newlines as sent, forging nothing', async () => {
    const d = p.model.devices.get('al-bio-1')!;
    const c = await p.connect(d.id);
    const t0 = Date.now() - 10_000;
    const texts = HOSTILE;
    for (let i = 0; i < texts.length; i++) {
      await c.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ ts: t0 + i, seq: i, metrics: { batch_id: texts[i], temp: 37 } }), { qos: 1 });
    }
    // a metric name trying to be a tag or a second field is refused, not stored
    await c.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ ts: t0 + 100, metrics: { 'temp,park=VIP': 1 } }), { qos: 1 });
    await c.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ ts: t0 + 101, metrics: { 'temp=1 x': 1 } }), { qos: 1 });
    await waitFor('texts stored', async () => (await p.count(d.id)) >= texts.length);
    await waitFor('refusals counted', async () => (await p.ingestStat('ingest_messages_refused_total{code="SP_ERR_UNKNOWN_METRIC"}')) >= 2);
    const rows = (await p.influx.query(influxql`SELECT "batch_id", "park", "device" FROM "bioreactor" WHERE "device" = ${d.id} ORDER BY time`))[0]![0]!.values;
    expect(rows.map((r) => r[1])).toEqual(texts);
    expect(rows.every((r) => r[2] === 'banqiao' && r[3] === d.id)).toBe(true);
    const ms = (await p.influx.query('SHOW MEASUREMENTS'))[0]![0]!.values.flat();
    expect(ms.sort()).toEqual(['bioreactor', 'device_status']);
    const parks = (await p.influx.query('SHOW TAG VALUES WITH KEY = "park"'))[0]!.flatMap((s) => s.values.map((v) => v[1]));
    expect(new Set(parks)).toEqual(new Set(['banqiao']));
    expect(await p.count(d.id)).toBe(texts.length);
  });
});
