/**
 * A client that shares no code with ours: Debian's pymodbus (3.0.0rc1, /usr/bin/python3) reads
 * one point of each data type from the field simulators — Modbus TCP, and RTU over TCP with its
 * RTU framer — and decodes it with its own BinaryPayloadDecoder (byte order and word order as
 * Endian.Big/Little). The raw values, scaled, equal the physical model's.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../core/fieldbus/config-file.ts';
import type { ModbusBinding, ModbusPoint } from '../core/fieldbus/config.ts';
import { loadParkModel } from '../core/model-file.ts';
import { startFieldSimulators, type FieldSimulators } from '../simulators/field/fleet.ts';

const PYTHON = '/usr/bin/python3';
const run = promisify(execFile);

// Reads each spec with pymodbus and prints the decoded raw values as JSON (64-bit as strings).
const SCRIPT = String.raw`
import json, sys
from pymodbus.client import ModbusTcpClient
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer
from pymodbus.payload import BinaryPayloadDecoder
from pymodbus.constants import Endian
out = []
for s in json.loads(sys.argv[1]):
    c = ModbusTcpClient('127.0.0.1', port=s['port'], framer=ModbusRtuFramer if s['rtu'] else ModbusSocketFramer, timeout=2)
    c.connect()
    if s['register'] == 'discrete':
        r = c.read_discrete_inputs(s['address'], 1, slave=s['unit'])
        out.append(bool(r.bits[0])); c.close(); continue
    read = c.read_holding_registers if s['register'] == 'holding' else c.read_input_registers
    r = read(s['address'], s['count'], slave=s['unit'])
    if r.isError():
        out.append({'error': str(r)}); c.close(); continue
    t, o = s['type'], s['order']
    big = Endian.Big; little = Endian.Little
    d = BinaryPayloadDecoder.fromRegisters(r.registers, byteorder=big if o in ('ABCD', 'CDAB') else little, wordorder=big if o in ('ABCD', 'BADC') else little)
    if t == 'bit': v = bool((r.registers[0] >> s['bit']) & 1)
    else: v = {'int16': d.decode_16bit_int, 'uint16': d.decode_16bit_uint, 'int32': d.decode_32bit_int, 'uint32': d.decode_32bit_uint,
           'float32': d.decode_32bit_float, 'float64': d.decode_64bit_float, 'int64': d.decode_64bit_int, 'uint64': d.decode_64bit_uint}[t]()
    out.append(str(v) if t in ('int64', 'uint64') else v)
    c.close()
print(json.dumps(out))
`;

const hasPymodbus = existsSync(PYTHON) && existsSync('/usr/lib/python3/dist-packages/pymodbus');
const model = loadParkModel();
const config = loadGatewayConfig(model);
const T0 = Date.parse('2026-03-10T02:00:00Z'); // 10:00 in Chongqing: a working morning, kilns fire, meters see load
let sims: FieldSimulators;

beforeAll(async () => {
  sims = await startFieldSimulators({ config, model, seed: 'pymodbus', ports: 'ephemeral', now: () => T0 });
});
afterAll(async () => {
  await sims?.close();
});

/** [device, metric] of one point per data type (and per order), from config/gateway.yaml. */
const PICKS: [string, string][] = [
  ['wm-kiln-1', 'sp_firing'],    // int16, scale 0.1
  ['wm-kiln-1', 'gas_flow'],     // uint16, input register
  ['wm-dryer-1', 'temp'],        // int32 BADC
  ['wm-kiln-1', 'fan_power'],    // uint32 CDAB
  ['wm-kiln-1', 't_firing'],     // float32 ABCD
  ['wm-dryer-1', 'gas_flow'],    // float32 CDAB
  ['wm-kiln-1', 'output_rate'],  // float64 DCBA
  ['wm-wm-main', 'volume'],      // int64 CDAB, RTU line
  ['wm-gm-main', 'volume'],      // uint64 ABCD, RTU line
  ['al-cold-1', 'compressor_on'], // bit 0 of a holding register
  ['al-cold-1', 'door_open'],    // discrete input
];

describe.skipIf(!hasPymodbus)('field simulators read by pymodbus', () => {
  it('one point of each data type decodes to the model value', async () => {
    const picks = PICKS.map(([id, metric]) => {
      const l = sims.listeners.find((x) => x.devices.some((d) => d.id === id))!;
      const b = l.device(id).binding as ModbusBinding;
      const p = b.profile.points.find((x) => x.metric === metric) as ModbusPoint;
      return { id, p, spec: { port: l.port, rtu: l.connection.protocol === 'modbus-rtu-tcp', unit: b.unitId, register: p.register, address: p.address, count: p.count, type: p.type, order: p.order, bit: p.bit ?? 0 } };
    });
    expect(new Set(picks.map((x) => x.p.type))).toEqual(new Set(['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'int64', 'uint64', 'bit']));
    const { stdout } = await run(PYTHON, ['-c', SCRIPT, JSON.stringify(picks.map((x) => x.spec))], { timeout: 30_000 });
    const values = JSON.parse(stdout) as unknown[];
    picks.forEach(({ id, p }, i) => {
      const want = sims.device(id).snapshot().metrics[p.metric];
      const raw = values[i];
      if (typeof want === 'boolean') return expect(raw, `${id}.${p.metric}`).toBe(want);
      expect(typeof raw === 'number' || typeof raw === 'string', `${id}.${p.metric}: ${JSON.stringify(raw)}`).toBe(true);
      const v = Number(raw) * p.scale + p.offset;
      const tol = p.type === 'float32' ? Math.abs(want as number) * 1e-7 : p.type === 'float64' ? 1e-9 : p.scale / 2 + 1e-9;
      expect(Math.abs(v - (want as number)), `${id}.${p.metric}: pymodbus ${raw} → ${v}, model ${want}`).toBeLessThanOrEqual(tol);
    });
  });
});
