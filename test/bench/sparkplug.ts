/**
 * Decode rate of Sparkplug B payloads (core/sparkplug/codec.ts) next to the JSON contract's
 * parse-and-validate rate (core/contract.ts parseTelemetry), same 5 metrics per message, one core.
 * Run: node --import tsx test/bench/sparkplug.ts
 */
import { parseTelemetry } from '../../core/contract.ts';
import { loadParkModel } from '../../core/model-file.ts';
import { DataType, decodePayload, encodePayload } from '../../core/sparkplug/codec.ts';

const model = loadParkModel();
const device = model.devices.get('rf-cold-1')!;
const N = 200_000;
const ts = Date.now();
const sp = encodePayload({ timestamp: ts, seq: 1, metrics: [
  { alias: 1, timestamp: ts, datatype: DataType.Float, value: 39.2 },
  { alias: 2, timestamp: ts, datatype: DataType.Float, value: 61.5 },
  { alias: 3, timestamp: ts, datatype: DataType.Boolean, value: true },
  { alias: 4, timestamp: ts, datatype: DataType.Boolean, value: false },
  { alias: 5, timestamp: ts, datatype: DataType.Float, value: 9800 },
] });
const json = Buffer.from(JSON.stringify({ ts, seq: 1, metrics: { temp: 4, humidity: 61.5, compressor_on: true, door_open: false, power: 9.8 } }));

function rate(label: string, f: () => unknown): number {
  for (let i = 0; i < 20_000; i++) f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const mps = (N * 5) / s;
  console.log(`${label.padEnd(44)} ${Math.round(N / s).toLocaleString('en')} msg/s = ${Math.round(mps).toLocaleString('en')} metrics/s`);
  return mps;
}
rate('Sparkplug B decode (protobufjs 7, 5 metrics)', () => decodePayload(sp));
rate('JSON contract parse + validate (5 metrics)', () => { const r = parseTelemetry(json, device, Date.now()); if (!r.ok) throw new Error(JSON.stringify(r)); });

// The host application's whole per-message work (ingest/sparkplug/host.ts): decode, alias
// lookup, seq check, mapping with unit conversion, validation, line protocol. No I/O.
{
  const { SparkplugHost } = await import('../../ingest/sparkplug/host.ts');
  const { Sessions } = await import('../../ingest/sparkplug/sessions.ts');
  const { Registry } = await import('../../core/metrics.ts');
  const { loadSparkplugConfig } = await import('../../core/sparkplug/config.ts');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const sessions = new Sessions(join(tmpdir(), `bench-births-${process.pid}.json`));
  const host = new SparkplugHost({ cfg: loadSparkplugConfig(model), sessions, metrics: new Registry(), rebirthRetryMs: 30_000 });
  const names = ['Room/Temperature', 'Room/Humidity', 'Compressor/Running', 'Door/Open', 'Compressor/Power'];
  const types = [DataType.Float, DataType.Float, DataType.Boolean, DataType.Boolean, DataType.Float];
  host.handle('spBv1.0/rongchang/NBIRTH/rf-edge-1', Buffer.from(encodePayload({ timestamp: ts, seq: 0, metrics: [{ name: 'bdSeq', datatype: DataType.UInt64, value: 0n }] })), ts);
  host.handle('spBv1.0/rongchang/DBIRTH/rf-edge-1/ChilledStore1', Buffer.from(encodePayload({ timestamp: ts, seq: 1, metrics: names.map((name, i) => ({ name, alias: i + 1, datatype: types[i]!, value: null })) })), ts);
  // one payload per seq value, so every message is in order
  const data = Array.from({ length: 256 }, (_, s) => Buffer.from(encodePayload({ timestamp: ts, seq: s, metrics: [
    { alias: 1, datatype: DataType.Float, value: 39.2, omitDatatype: true }, { alias: 2, datatype: DataType.Float, value: 61.5, omitDatatype: true },
    { alias: 3, datatype: DataType.Boolean, value: true, omitDatatype: true }, { alias: 4, datatype: DataType.Boolean, value: false, omitDatatype: true },
    { alias: 5, datatype: DataType.Float, value: 9800, omitDatatype: true },
  ] })));
  let s = 2;
  rate('Sparkplug host: decode + map + line protocol', () => {
    const h = host.handle('spBv1.0/rongchang/DDATA/rf-edge-1/ChilledStore1', data[s]!, ts + 1);
    s = (s + 1) % 256;
    if (h.points !== 1) throw new Error(h.records);
  });
}
