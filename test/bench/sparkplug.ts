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
