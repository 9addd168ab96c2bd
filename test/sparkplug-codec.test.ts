import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { DataType, decodePayload, encodePayload, CODEC_LIMITS, SUPPORTED_DATATYPES } from '../core/sparkplug/codec.ts';
import { loadSparkplugConfig, parseSparkplugConfig } from '../core/sparkplug/config.ts';
import { loadParkModel } from '../core/model-file.ts';
import { PlatformError } from '../core/errors.ts';

const code = (f: () => unknown): string | undefined => {
  try { f(); return undefined; } catch (e) { return e instanceof PlatformError ? e.code : `not coded: ${(e as Error).message}`; }
};

describe('Sparkplug B codec', () => {
  it('round-trips every supported datatype exactly, with metric timestamps and is_historical', () => {
    const cases: [keyof typeof DataType, unknown][] = [
      ['Int8', -128], ['Int16', -32768], ['Int32', -2147483648], ['Int64', -9007199254740993n],
      ['UInt8', 255], ['UInt16', 65535], ['UInt32', 4294967295], ['UInt64', 18446744073709551615n],
      ['Float', Math.fround(3.14159)], ['Double', 1190.123456789], ['Boolean', true], ['String', 'running'],
      ['Text', '温度 ok'], ['UUID', '0b7d7e1a-5c2c-4f55-9b1d-1c7e2a9d2f10'], ['DateTime', 1764700000123],
    ];
    expect(cases.map((c) => c[0]).sort()).toEqual([...SUPPORTED_DATATYPES].sort());
    const buf = encodePayload({ timestamp: 1764700000000, seq: 7, metrics: cases.map(([t, v], i) => ({ name: `m/${t}`, alias: i + 1, timestamp: 1764700000000 + i, datatype: DataType[t], value: v as never, isHistorical: i === 3 })) });
    const p = decodePayload(buf);
    expect(p.seq).toBe(7);
    expect(p.timestamp).toBe(1764700000000);
    expect(p.metrics.map((m) => m.value)).toEqual(cases.map((c) => c[1]));
    expect(p.metrics.map((m) => m.alias)).toEqual(cases.map((_, i) => i + 1));
    expect(p.metrics[3]!.isHistorical).toBe(true);
    expect(p.metrics[4]!.isHistorical).toBe(false);
    expect(p.metrics[5]!.timestamp).toBe(1764700000005);
  });

  it('decodes a null metric as null, not as zero', () => {
    const p = decodePayload(encodePayload({ metrics: [{ name: 'x', datatype: DataType.Double, value: null }] }));
    expect(p.metrics[0]!.isNull).toBe(true);
    expect(p.metrics[0]!.value).toBeUndefined();
  });

  it('refuses malformed protobuf with SP_ERR_SPB_PROTOBUF and never throws an uncoded error (fuzzed)', () => {
    expect(code(() => decodePayload(Buffer.from([0x12, 0xff, 0xff, 0xff, 0x0f])))).toBe('SP_ERR_SPB_PROTOBUF');
    const good = encodePayload({ seq: 1, metrics: [{ name: 'a/b', alias: 1, datatype: DataType.Double, value: 1.5 }, { name: 'c', datatype: DataType.String, value: 'hello' }] });
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const codes = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(good);
      for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const c = code(() => decodePayload(b)) ?? 'ok';
      expect(c.startsWith('not coded'), c).toBe(false);
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    expect(codes.get('SP_ERR_SPB_PROTOBUF') ?? 0).toBeGreaterThan(0);
  });

  it('refuses oversized metric arrays and oversized payloads with their codes', () => {
    const many = encodePayload({ metrics: Array.from({ length: CODEC_LIMITS.maxMetrics + 1 }, (_, i) => ({ alias: i, datatype: DataType.Boolean, value: true })) });
    expect(code(() => decodePayload(many))).toBe('SP_ERR_SPB_METRIC_COUNT');
    expect(code(() => decodePayload(new Uint8Array(CODEC_LIMITS.maxPayloadBytes + 1)))).toBe('SP_ERR_PAYLOAD_SIZE');
  });

  it('refuses hostile metric names with SP_ERR_SPB_METRIC_NAME', () => {
    for (const name of ['a\u0000b', 'x\ny', 'a/+/b', '#', '../../etc', 'z'.repeat(201), '']) {
      expect(code(() => decodePayload(encodePayload({ metrics: [{ name, datatype: DataType.Double, value: 1 }] }))), JSON.stringify(name)).toBe('SP_ERR_SPB_METRIC_NAME');
    }
  });

  it('marks DataSet/Template/Bytes metrics unsupported with the reason instead of guessing a value', () => {
    const p = decodePayload(encodePayload({ metrics: [{ name: 'ok', datatype: DataType.Double, value: 2 }] }));
    expect(p.metrics[0]!.unsupported).toBeUndefined();
    // a Template-typed metric built by hand: field 4 (datatype) = 19
    const p2 = decodePayload(Buffer.from([0x12, 0x05, 0x0a, 0x01, 0x74, 0x20, 0x13]));
    expect(p2.metrics[0]!.name).toBe('t');
    expect(p2.metrics[0]!.unsupported).toBe('datatype Template is not supported');
  });
});

describe('Sparkplug mapping config', () => {
  const model = loadParkModel();
  it('loads config/sparkplug.yaml against the park model, with unit conversions', () => {
    const cfg = loadSparkplugConfig(model);
    const dev = cfg.nodes.get('rongchang/rf-edge-1')!.devices.get('ChilledStore1')!;
    expect(dev.device.id).toBe('rf-cold-1');
    const t = dev.metrics.get('Room/Temperature')!;
    expect(t.metric.name).toBe('temp');
    expect(41 * t.factor + t.offset).toBeCloseTo(5, 10);
    expect(dev.metrics.get('Compressor/Power')!.factor).toBe(1e-3);
  });

  it('refuses a bad mapping with every problem named by its path', () => {
    const data = parseYaml(readFileSync('config/sparkplug.yaml', 'utf8'));
    data.hostId = 'bad host/';
    data.edgeNodes.push({ group: 'g+', node: 'n', devices: [
      { sparkplugDevice: 'A', device: 'no-such-device', metrics: {} },
      { sparkplugDevice: 'B', device: 'rf-cold-1', metrics: { 'x': { metric: 'nope' }, 'y': { metric: 'temp', unit: 'furlong' } } },
    ] });
    let msg = '';
    try { parseSparkplugConfig(data, model); } catch (e) { expect((e as PlatformError).code).toBe('SP_ERR_CONFIG'); msg = (e as Error).message; }
    for (const path of ['sparkplug.hostId', 'sparkplug.edgeNodes[1].group', 'sparkplug.edgeNodes[1].devices[0].device', 'sparkplug.edgeNodes[1].devices[1].device', 'sparkplug.edgeNodes[1].devices[1].metrics["x"].metric', 'sparkplug.edgeNodes[1].devices[1].metrics["y"].unit']) {
      expect(msg, path).toContain(`${path}:`);
    }
    expect(msg).toContain('already at sparkplug.edgeNodes[0].devices[0]');
  });
});

describe('Sparkplug B codec field presence', () => {
  it('an alias-only DATA metric decodes with no name and a datatype-less metric with no datatype', () => {
    const p = decodePayload(encodePayload({ seq: 2, metrics: [{ alias: 5, datatype: DataType.Double, value: 1 }] }));
    expect(p.metrics[0]!.name).toBeUndefined();
    expect(p.metrics[0]!.alias).toBe(5);
    const q = decodePayload(encodePayload({ metrics: [{ name: 'n', datatype: DataType.Double, value: 1 }] }));
    expect(q.metrics[0]!.alias).toBeUndefined();
    expect(q.seq).toBeUndefined();
  });
});

describe('Sparkplug B codec: values by the birth datatype', () => {
  it('reads an alias-only DATA metric sent without its datatype with the birth datatype (valueAs)', async () => {
    const { valueAs } = await import('../core/sparkplug/codec.ts');
    const p = decodePayload(encodePayload({ seq: 3, metrics: [{ alias: 7, datatype: DataType.Int16, value: -2, omitDatatype: true }] }));
    expect(p.metrics[0]!.datatype).toBeUndefined();
    expect(p.metrics[0]!.value).toBeUndefined();
    expect(valueAs(p.metrics[0]!, DataType.Int16)).toBe(-2);
    expect(valueAs(p.metrics[0]!, DataType.Template)).toBeUndefined();
  });

  it('reads a UInt32 from long_value too, as Eclipse Tahu sparkplug-payload 1.0.3 encodes it', async () => {
    const tahu = (await import('sparkplug-payload')).default.get('spBv1.0')!;
    const buf = tahu.encodePayload({ timestamp: 1, metrics: [{ name: 'u', type: 'UInt32', value: 4294967295 }, { name: 'i', type: 'Int8', value: -5 }, { name: 'l', type: 'Int64', value: -7 }] } as never);
    expect(decodePayload(buf).metrics.map((m) => m.value)).toEqual([4294967295, -5, -7n]);
  });
});
