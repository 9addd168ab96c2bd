/**
 * The InfluxQL builder without a server: fragments carry their values through composition, names
 * are given once at rendering (so composed fragments never collide), the inline form escapes as
 * InfluxQL reads it, and text enters only through the builders. The same statements are run
 * against the real InfluxDB in test/influx-escaping.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  bind, duration, encodeParams, exactly, Fragment, ident, influxql, join, keyword, numberLiteral, offsetDuration, quoteString, raw, renderInline, statements,
} from '../core/influx/influxql.ts';

describe('InfluxQL fragments', () => {
  it('carry their values through composition and get collision-free names when bound', () => {
    const a = influxql`"x" = ${1}`;
    const b = influxql`"y" = ${'b'} AND time >= ${new Date(1000)}`;
    expect(bind(influxql`SELECT * FROM ${ident('m')} WHERE ${a} AND (${join([b, a], ' OR ')})`)).toEqual({
      text: 'SELECT * FROM "m" WHERE "x" = $p0 AND ("y" = $p1 AND time >= $p2 OR "x" = $p3)',
      params: { p0: 1, p1: 'b', p2: '1970-01-01T00:00:01.000Z', p3: 1 },
    });
    expect(bind(statements([a, a, b]))).toEqual({
      text: '"x" = $p0; "x" = $p1; "y" = $p2 AND time >= $p3',
      params: { p0: 1, p1: 1, p2: 'b', p3: '1970-01-01T00:00:01.000Z' },
    });
    expect(bind(influxql`SELECT ${join([ident('a'), ident('b')])} FROM "m"${influxql``}`)).toEqual({ text: 'SELECT "a", "b" FROM "m"', params: {} });
  });

  it('render values inline as InfluxQL literals', () => {
    const f = influxql`${"it's"} ${'a\\b'} ${'l1\nl2'} ${-480} ${0.1229} ${1e-7} ${1e21} ${2 ** 53 + 2} ${true} ${new Date(1000)}`;
    expect(renderInline(f)).toBe(String.raw`'it\'s' 'a\\b' 'l1\nl2' -480 0.1229 0.0000001 1000000000000000000000.0 9007199254740994.0 true '1970-01-01T00:00:01.000Z'`);
    expect(() => quoteString('a\rb')).toThrow(RangeError);
    expect(numberLiteral(-1.5e-10)).toBe('-0.00000000015');
    expect(numberLiteral(1.25e22)).toBe('12500000000000000000000.0');
  });

  it('send numbers in params as InfluxDB 1.x reads them (no exponent; a float has a point)', () => {
    const params = { p0: 1e-7, p1: 1e21, p2: -480, p3: 'x"y', p4: true };
    expect(encodeParams(params)).toBe('{"p0":0.0000001,"p1":1000000000000000000000.0,"p2":-480,"p3":"x\\"y","p4":true}');
    expect(JSON.parse(encodeParams(params))).toEqual(params);
  });

  it('quote identifiers and regexes, and check durations and keywords', () => {
    expect(renderInline(ident('a"b\\c'))).toBe(String.raw`"a\"b\\c"`);
    expect(() => ident('')).toThrow(RangeError);
    expect(() => ident('a\nb')).toThrow(RangeError);
    expect(renderInline(exactly(['x/y', 'a.b', 'a.b', '(c|d)*']))).toBe(String.raw`/^(x\/y|a\.b|\(c\|d\)\*)$/`);
    expect(() => exactly([])).toThrow(RangeError);
    expect(renderInline(influxql`time(${duration('15m')}), time(1d, ${offsetDuration(-480, 'm')})`)).toBe('time(15m), time(1d, -480m)');
    expect(() => duration('1m; DROP')).toThrow(RangeError);
    expect(() => offsetDuration(1.5, 'm')).toThrow(RangeError);
    expect(renderInline(keyword('mean', ['mean', 'max']))).toBe('mean');
    expect(() => keyword('mean()', ['mean', 'max'])).toThrow(RangeError);
  });

  it('let text in only through the builders: no public constructor, raw takes constant text, a fragment is not a string', () => {
    expect(renderInline(raw`$timeFilter`)).toBe('$timeFilter');
    expect(() => new (Fragment as unknown as new (t: string) => Fragment)('SELECT 1')).toThrow(TypeError);
    expect(() => (raw as unknown as (t: string) => Fragment)('SELECT 1')).toThrow(TypeError);
    const x = 'DROP DATABASE d';
    expect(() => (raw as unknown as (s: TemplateStringsArray, ...v: unknown[]) => Fragment)`SELECT ${x}`).toThrow(TypeError);
    const f = ident('m');
    expect(() => `SELECT * FROM ${f}`).toThrow(TypeError);
    expect(() => influxql`SELECT ${{} as never}`).toThrow(TypeError);
  });

  it('refuse values that cannot be literals, and a value run into the text after it', () => {
    expect(() => influxql`${Number.NaN}`).toThrow(RangeError);
    expect(() => influxql`${Infinity}`).toThrow(RangeError);
    expect(() => influxql`${new Date('x')}`).toThrow(RangeError);
    expect(() => bind(influxql`time(${5}m)`)).toThrow(RangeError);
    expect(() => renderInline(influxql`time(${5}m)`)).toThrow(RangeError);
  });
});
