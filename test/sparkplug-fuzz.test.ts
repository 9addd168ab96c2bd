/**
 * Fuzz of the Sparkplug host through the real broker: 400 seeded hostile payloads (random bytes,
 * bit-flipped valid payloads, oversized metric arrays, hostile metric names, wrong and
 * non-finite values, unsupported datatypes) on an edge node's own topics. Every payload the
 * codec refuses is dead-lettered once with the codec's code; every dead letter carries a
 * documented code and none is an internal error; the host is the same process at the end, and
 * a clean birth and data afterwards are stored exactly.
 */
import { expect, it } from 'vitest';
import { ERROR_CODES, PlatformError } from '../core/errors.ts';
import { CODEC_LIMITS, DataType, decodePayload, encodePayload, type SpMetricIn } from '../core/sparkplug/codec.ts';
import { deviceTopicSpb, nodeTopic } from '../core/sparkplug/topic.ts';
import { Rng } from './harness/hostile.ts';
import { RawEdge, SparkplugRig } from './harness/sparkplug.ts';
import { waitFor } from './harness/platform.ts';

const N = 400;
const rig = new SparkplugRig([
  { group: 'test', node: 'fuzz-edge', devices: [{ sparkplugDevice: 'Cold2', device: 'al-cold-2', metrics: { Temp: 'temp', Running: 'compressor_on' } }] },
]);
rig.use();

const HOSTILE_NAMES = ['a\u0000b', 'x\ny', 'Temp/+', '#', '../../etc/passwd', 'z'.repeat(CODEC_LIMITS.maxNameLength + 1), '', 'a\u2028b', 'Te\u001bmp'];

function payloadCase(rng: Rng, i: number): { topic: string; payload: Buffer } {
  const dev = (t: 'DBIRTH' | 'DDATA') => deviceTopicSpb('test', t, 'fuzz-edge', 'Cold2');
  const valid: SpMetricIn[] = [{ name: 'Temp', alias: 1, datatype: DataType.Double, value: rng.int(-300, 300) / 7 }, { name: 'Running', alias: 2, datatype: DataType.Boolean, value: rng.chance(0.5) }];
  const ts = Date.now() - 60_000 + i;
  switch (i % 8) {
    case 0: return { topic: dev('DDATA'), payload: rng.bytes(rng.int(1, 400)) };
    case 1: case 2: {
      const b = Buffer.from(encodePayload({ timestamp: ts, seq: i % 256, metrics: valid }));
      for (let k = rng.int(1, 4); k > 0; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      return { topic: rng.chance(0.5) ? dev('DDATA') : dev('DBIRTH'), payload: b };
    }
    case 3: return { topic: dev('DBIRTH'), payload: Buffer.from(encodePayload({ timestamp: ts, seq: i % 256, metrics: Array.from({ length: CODEC_LIMITS.maxMetrics + rng.int(1, 200) }, (_, k) => ({ alias: k, datatype: DataType.Boolean, value: true })) })) };
    case 4: return { topic: rng.chance(0.5) ? dev('DBIRTH') : nodeTopic('test', 'NDATA', 'fuzz-edge'), payload: Buffer.from(encodePayload({ timestamp: ts, seq: i % 256, metrics: [{ name: rng.pick(HOSTILE_NAMES), datatype: DataType.Double, value: 1 }] })) };
    case 5: return { topic: dev('DBIRTH'), payload: Buffer.from(encodePayload({ timestamp: ts, seq: i % 256, metrics: [
      { name: 'Temp', alias: 1, datatype: rng.pick([DataType.String, DataType.Boolean, DataType.Double]), value: rng.pick<never>(['warm', true, Number.NaN, Number.POSITIVE_INFINITY, 1e308] as never[]) },
      { name: 'Running', alias: 2, datatype: DataType.Int32, value: 1 },
    ] })) };
    case 6: {
      // a Template / DataSet / Bytes datatype on a mapped metric (field 4 = datatype, hand-made)
      const dt = rng.pick([16, 17, 18, 19, 20, 22, 34]);
      return { topic: dev('DBIRTH'), payload: Buffer.from([0x18, i % 256, 0x12, 0x08, 0x0a, 0x04, 0x54, 0x65, 0x6d, 0x70, 0x20, dt]) };
    }
    default: return { topic: rng.chance(0.5) ? dev('DDATA') : dev('DBIRTH'), payload: Buffer.from(encodePayload({ timestamp: ts, seq: i % 256, metrics: valid })) };
  }
}

it(`refuses ${N} hostile Sparkplug payloads with their codes and keeps running`, async () => {
  const e = new RawEdge(rig, 'test', 'fuzz-edge');
  const c = await e.connect();
  await e.nbirth();
  const pid = rig.host!.pid;
  const rng = new Rng(0x5b0f);
  const expected: Record<string, number> = {};
  const l0 = rig.w.letters.length;
  for (let i = 0; i < N; i++) {
    const { topic, payload } = payloadCase(rng, i);
    try {
      decodePayload(payload);
    } catch (err) {
      const code = (err as PlatformError).code;
      expect(code, String(err)).toBeDefined();
      expected[code] = (expected[code] ?? 0) + 1;
    }
    await c.publishAsync(topic, payload, { qos: 1 });
  }
  const received = async () => rig.stat('ingest_messages_received_total');
  await waitFor('all received', async () => (await received()) >= N + 1, 30_000);
  await waitFor('every dead letter published and seen', async () => (await rig.stat('ingest_spool_pending_bytes')) === 0 && rig.w.letters.length >= (await rig.stat('ingest_dead_letters_published_total')), 30_000);
  await new Promise((r) => setTimeout(r, 500));
  const mine = rig.w.letters.slice(l0);
  const got: Record<string, number> = {};
  for (const l of mine) got[l.code] = (got[l.code] ?? 0) + 1;
  // the codec's refusals, one dead letter each, with the codec's code
  for (const [code, n] of Object.entries(expected)) expect(got[code], code).toBe(n);
  for (const code of ['SP_ERR_SPB_PROTOBUF', 'SP_ERR_SPB_METRIC_COUNT', 'SP_ERR_SPB_METRIC_NAME']) expect(expected[code] ?? 0, code).toBeGreaterThan(0);
  // the rest are refused per metric or whole with documented codes, never an internal error
  for (const l of mine) expect(Object.keys(ERROR_CODES), l.code).toContain(l.code);
  expect(got.SP_ERR_INGEST_INTERNAL).toBeUndefined();
  for (const code of ['SP_ERR_SPB_DATATYPE', 'SP_ERR_METRIC_TYPE']) expect(got[code] ?? 0, code).toBeGreaterThan(0);
  expect(await rig.stat('ingest_internal_errors_total')).toBe(0);
  expect(rig.host!.pid).toBe(pid);
  expect(rig.host!.exitCode).toBeNull();
  console.log(`sparkplug fuzz: ${N} payloads, dead letters by code ${JSON.stringify(got)}`);

  // and it still works: a clean rebirth and data by alias are stored exactly
  await e.nbirth();
  await e.dbirth('Cold2', [{ name: 'Temp', alias: 1, datatype: DataType.Double, value: null }, { name: 'Running', alias: 2, datatype: DataType.Boolean, value: null }]);
  const ts = Date.now() - 1000;
  await e.ddata('Cold2', [{ alias: 1, datatype: DataType.Double, value: 4.25, omitDatatype: true }, { alias: 2, datatype: DataType.Boolean, value: true, omitDatatype: true }], ts);
  await waitFor('the clean reading stored', async () => (await rig.rows('al-cold-2', ['temp'])).some((r) => r.time === ts));
  expect((await rig.rows('al-cold-2', ['temp', 'compressor_on'])).find((r) => r.time === ts)).toEqual({ time: ts, temp: 4.25, compressor_on: true });
}, 120_000);
