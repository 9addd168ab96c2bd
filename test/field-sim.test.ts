/**
 * Field simulators over real sockets: modbus-serial's clients (Modbus TCP, and its telnet port
 * for raw RTU over TCP: its connectTcpRTUBuffered frames requests with MBAP, see below) and a raw socket for DL/T 645 read every point of config/gateway.yaml, and the values equal
 * the physical model's within the register's precision; fault hooks, unit addressing on a
 * shared line and the half-duplex line are seen from the client's side.
 */
import { connect, type Socket } from 'node:net';
import ModbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../core/fieldbus/config-file.ts';
import {
  coalesce, dlt645MetricValue, modbusMetricValue, parseGatewayConfig, pointSlice, type ConnectionConfig, type Dlt645Binding, type ModbusBinding, type ModbusPoint,
} from '../core/fieldbus/config.ts';
import { decodeReadResponse, Dlt645FrameReader, encodeReadRequest, type Dlt645Answer } from '../core/fieldbus/dlt645.ts';
import { decodeRegisters } from '../core/fieldbus/modbus-values.ts';
import { loadParkModel } from '../core/model-file.ts';
import { startFieldSimulators, type FieldSimulators } from '../simulators/field/fleet.ts';

// A CommonJS package: its module.exports is the client class, also as .default (what the types name).
const ModbusRTU = ModbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;
const model = loadParkModel();
const config = loadGatewayConfig(model);
const T0 = Date.parse('2026-03-10T02:00:00Z'); // 10:00 in Chongqing: a working morning, kilns fire, meters see load
let sims: FieldSimulators;

beforeAll(async () => {
  sims = await startFieldSimulators({ config, model, seed: 'field-test', ports: 'ephemeral', now: () => T0 });
});
afterAll(async () => {
  await sims?.close();
});

const connections = (): ConnectionConfig[] => [...config.gateways.values()].flatMap((g) => g.connections);

async function client(conn: ConnectionConfig, timeoutMs = 1000): Promise<ModbusClient> {
  const c = new ModbusRTU();
  const port = sims.listener(conn.id).port;
  if (conn.protocol === 'modbus-tcp') await c.connectTCP('127.0.0.1', { port });
  else await c.connectTelnet('127.0.0.1', { port });
  c.setTimeout(timeoutMs);
  return c;
}
const closeClient = (c: ModbusClient): Promise<void> => new Promise((resolve) => c.close(() => resolve()));

async function readBlock(c: ModbusClient, register: ModbusPoint['register'], address: number, count: number): Promise<number[] | boolean[]> {
  switch (register) {
    case 'coil': return (await c.readCoils(address, count)).data.slice(0, count);
    case 'discrete': return (await c.readDiscreteInputs(address, count)).data.slice(0, count);
    case 'holding': return (await c.readHoldingRegisters(address, count)).data;
    case 'input': return (await c.readInputRegisters(address, count)).data;
  }
}

/** The register's resolution in metric units: what encoding may lose. */
function tolerance(p: ModbusPoint, expected: number): number {
  if (p.type === 'float32') return Math.abs(expected) * 1e-7 + 1e-9;
  if (p.type === 'float64') return 1e-12;
  return Math.abs(p.scale) / 2 + 1e-9;
}

describe('field simulators: Modbus', () => {
  it('every point of every Modbus device reads back as the model value (modbus-serial client: TCP, and RTU over TCP via its telnet port)', async () => {
    let checked = 0;
    for (const conn of connections().filter((x) => x.protocol !== 'dlt645-tcp')) {
      const c = await client(conn);
      try {
        for (const b of conn.devices as ModbusBinding[]) {
          c.setID(b.unitId);
          const snap = sims.device(b.device.id).snapshot().metrics;
          for (const block of coalesce(b.profile.points, conn.maxRegistersPerRequest, conn.maxBitsPerRequest, conn.maxGap)) {
            const data = await readBlock(c, block.register, block.address, block.count);
            for (const p of block.points) {
              const raw = typeof data[0] === 'boolean' ? pointSlice<boolean | number>(block, p, data)[0] as boolean
                : decodeRegisters(pointSlice(block, p, data as number[]), p.type, p.order, p.bit);
              const def = b.device.kind.metrics.get(p.metric)!;
              const got = modbusMetricValue(p, raw, def);
              const want = snap[p.metric];
              expect('value' in got, `${b.device.id}.${p.metric}: ${JSON.stringify(got)}`).toBe(true);
              const v = (got as { value: unknown }).value;
              if (typeof want === 'number') expect(Math.abs((v as number) - want), `${b.device.id}.${p.metric} ${v} vs ${want}`).toBeLessThanOrEqual(tolerance(p, want));
              else expect(v, `${b.device.id}.${p.metric}`).toBe(want);
              checked++;
            }
          }
        }
      } finally {
        await closeClient(c);
      }
    }
    expect(checked).toBe(8 + 4 + 3 + 2 + 5 + 5);
  });

  it('the float32 ABCD register pair is the model value in IEEE 754 big-endian (decoded without our codec)', async () => {
    const conn = sims.listener('wm-kiln-plc').connection;
    const c = await client(conn);
    try {
      c.setID(1);
      const r = await c.readHoldingRegisters(0, 2);
      expect(r.buffer.readFloatBE(0)).toBeCloseTo(sims.device('wm-kiln-1').snapshot().metrics.t_firing as number, 3);
    } finally {
      await closeClient(c);
    }
  });

  it('an address outside the mapped block is exception 02; an unknown unit on Modbus TCP 0B', async () => {
    const c = await client(sims.listener('wm-kiln-plc').connection);
    try {
      c.setID(1);
      await expect(c.readHoldingRegisters(100, 2)).rejects.toMatchObject({ modbusCode: 2 });
      await expect(c.readCoils(0, 1)).rejects.toMatchObject({ modbusCode: 2 });
      c.setID(9);
      await expect(c.readHoldingRegisters(0, 2)).rejects.toMatchObject({ modbusCode: 0x0b });
    } finally {
      await closeClient(c);
    }
  });

  it('on the RS-485 line only the addressed unit answers; a unit not on the line is silence', async () => {
    const l = sims.listener('wm-utility-rs485');
    const before = { ...l.counters };
    const c = await client(l.connection, 300);
    try {
      c.setID(2);
      expect((await c.readHoldingRegisters(0, 6)).data).toHaveLength(6);
      c.setID(1);
      expect((await c.readHoldingRegisters(0, 7)).data).toHaveLength(7);
      c.setID(3);
      await expect(c.readHoldingRegisters(0, 1)).rejects.toThrow(/Timed out/);
    } finally {
      await closeClient(c);
    }
    expect(l.counters.requests - before.requests).toBe(2);
    expect(l.counters.answered - before.answered).toBe(2);
    expect(l.counters.notForUs - before.notForUs).toBe(1);
    expect(sims.device('wm-wm-main').served).toBeGreaterThan(0);
  });

  it("modbus-serial's connectTcpRTUBuffered is not RTU over TCP: it sends MBAP frames, which an RS-485 line never answers", async () => {
    const l = sims.listener('wm-utility-rs485');
    const bad = l.counters.badFrames;
    const c = new ModbusRTU();
    await c.connectTcpRTUBuffered('127.0.0.1', { port: l.port });
    c.setTimeout(200);
    c.setID(1);
    try {
      await expect(c.readHoldingRegisters(0, 7)).rejects.toThrow(/Timed out/);
    } finally {
      await closeClient(c);
    }
    expect(l.counters.badFrames).toBeGreaterThan(bad); // 00 01 00 00 00 06 01 03 … has no valid CRC
  });

  it('fault hooks: silent, exception 02 and garbage (bad CRC on RTU, malformed PDU on TCP), then back to normal', async () => {
    const rtu = sims.listener('wm-utility-rs485');
    const dev = sims.device('wm-gm-main');
    const c = await client(rtu.connection, 300);
    try {
      c.setID(1);
      dev.fault = 'silent';
      await expect(c.readHoldingRegisters(0, 7)).rejects.toThrow(/Timed out/);
      dev.fault = 'exception';
      await expect(c.readHoldingRegisters(0, 7)).rejects.toMatchObject({ modbusCode: 2 });
      dev.fault = 'garbage';
      await expect(c.readHoldingRegisters(0, 7)).rejects.toThrow();
      dev.fault = 'none';
      expect((await c.readHoldingRegisters(0, 7)).data).toHaveLength(7);
    } finally {
      dev.fault = 'none';
      await closeClient(c);
    }
    expect(rtu.counters).toMatchObject({ silent: 1, garbage: 1 });
    expect(rtu.counters.exceptions).toBeGreaterThanOrEqual(1);

    const kiln = sims.device('wm-kiln-1');
    const t = await client(sims.listener('wm-kiln-plc').connection, 300);
    try {
      t.setID(1);
      kiln.fault = 'garbage';
      await expect(t.readHoldingRegisters(0, 6)).rejects.toThrow();
    } finally {
      kiln.fault = 'none';
      await closeClient(t);
    }
  });
});

/** One DL/T 645 exchange on a raw socket: the answer frame decoded, or 'timeout'. */
function exchange(socket: Socket, reader: Dlt645FrameReader, request: Buffer, timeoutMs = 500): Promise<Dlt645Answer | 'timeout' | 'checksum'> {
  return new Promise((resolve) => {
    const onData = (chunk: Buffer): void => {
      const items = reader.push(chunk);
      if (items.length === 0) return;
      done();
      const first = items[0]!;
      resolve('frame' in first ? decodeReadResponse(first.frame) : 'checksum');
    };
    const timer = setTimeout(() => { done(); reader.reset(); resolve('timeout'); }, timeoutMs);
    const done = (): void => { clearTimeout(timer); socket.off('data', onData); };
    socket.on('data', onData);
    socket.write(request);
  });
}

async function meterSocket(connId: string): Promise<Socket> {
  const s = connect(sims.listener(connId).port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  return s;
}

describe('field simulators: DL/T 645', () => {
  it('every point of every meter reads back as the model value × the CT ratio (raw socket)', async () => {
    let checked = 0;
    for (const conn of connections().filter((x) => x.protocol === 'dlt645-tcp')) {
      const s = await meterSocket(conn.id);
      const reader = new Dlt645FrameReader();
      try {
        for (const b of conn.devices as Dlt645Binding[]) {
          const snap = sims.device(b.device.id).snapshot().metrics;
          for (const p of b.profile.points) {
            const a = await exchange(s, reader, encodeReadRequest(b.address, p.di));
            expect(a).toMatchObject({ di: p.di });
            const def = b.device.kind.metrics.get(p.metric)!;
            const got = dlt645MetricValue(p, (a as { value: number }).value, def);
            const want = snap[p.metric] as number;
            // a counter shows completed units (never ahead), other values are rounded to the format
            const step = p.scale * 10 ** -p.format.decimals;
            const diff = (got as { value: number }).value - want;
            if (def.type === 'counter') {
              expect(diff, `${b.device.id}.${p.metric}`).toBeLessThanOrEqual(1e-6);
              expect(diff, `${b.device.id}.${p.metric}`).toBeGreaterThan(-step - 1e-6);
            } else {
              expect(Math.abs(diff), `${b.device.id}.${p.metric}`).toBeLessThanOrEqual(step / 2 + 1e-9);
            }
            checked++;
          }
        }
      } finally {
        s.destroy();
      }
    }
    expect(checked).toBe(6);
  });

  it('unknown identifiers are "no requested data", other addresses silence, broadcast the only meter', async () => {
    const s = await meterSocket('wm-meter-645');
    const reader = new Dlt645FrameReader();
    try {
      expect(await exchange(s, reader, encodeReadRequest('000000000001', '02010100'))).toEqual({ exception: true, errorWord: 2, meanings: ['no requested data'] });
      expect(await exchange(s, reader, encodeReadRequest('000000000009', '00010000'), 200)).toBe('timeout');
      expect(await exchange(s, reader, encodeReadRequest('AAAAAAAAAAAA', '00010000'))).toMatchObject({ di: '00010000' });
    } finally {
      s.destroy();
    }
  });

  it('fault hooks: garbage is a bad checksum, silent no answer, exception an abnormal answer', async () => {
    const meter = sims.device('al-em-hvac');
    const s = await meterSocket('al-meter-645');
    const reader = new Dlt645FrameReader();
    const req = encodeReadRequest('000000000002', '00010000');
    try {
      meter.fault = 'garbage';
      expect(await exchange(s, reader, req)).toBe('checksum');
      meter.fault = 'silent';
      expect(await exchange(s, reader, req, 200)).toBe('timeout');
      meter.fault = 'exception';
      expect(await exchange(s, reader, req)).toMatchObject({ exception: true, errorWord: 2 });
      meter.fault = 'none';
      expect(await exchange(s, reader, req)).toMatchObject({ di: '00010000' });
    } finally {
      meter.fault = 'none';
      s.destroy();
    }
    expect(sims.listener('al-meter-645').counters).toMatchObject({ garbage: 1, silent: 1 });
  });
});

describe('field simulators: other register maps', () => {
  it('a coil carries a boolean metric; registers refresh from the model at each scan', async () => {
    const data = {
      profiles: { cold: { protocol: 'modbus', pollGroups: { default: { intervalMs: 10_000 } }, points: [
        { metric: 'compressor_on', register: 'coil', address: 3 },
        { metric: 'temp', register: 'input', address: 0, type: 'float32', unit: 'degC' },
      ] } },
      gateways: { 'gw-aolong-1': { connections: [{ id: 'c', protocol: 'modbus-tcp', host: '127.0.0.1', port: 1, devices: [{ device: 'al-cold-1', unitId: 7, profile: 'cold' }] }] } },
    };
    let now = T0;
    const own = await startFieldSimulators({ config: parseGatewayConfig(data, model), model, seed: 'coil', ports: 'ephemeral', scanMs: 1000, now: () => now });
    const c = new ModbusRTU();
    try {
      await c.connectTCP('127.0.0.1', { port: own.listener('c').port });
      c.setID(7);
      const seen = new Set<boolean>();
      const temps = new Set<number>();
      for (let i = 0; i < 240; i++, now += 60_000) { // four hours of a cold room's thermostat, a read a minute
        const [on] = (await c.readCoils(3, 1)).data;
        expect(on).toBe(own.device('al-cold-1').snapshot().metrics.compressor_on);
        seen.add(on as boolean);
        temps.add((await c.readInputRegisters(0, 2)).buffer.readFloatBE(0));
      }
      expect(seen).toEqual(new Set([true, false]));
      expect(temps.size).toBeGreaterThan(100);
      await expect(c.readCoils(0, 3)).rejects.toMatchObject({ modbusCode: 2 }); // below the mapped block
    } finally {
      await closeClient(c);
      await own.close();
    }
  });
});

describe('field simulators: serial line timing', () => {
  it('a serial line answers one request at a time, each after the line delay', async () => {
    const slow = await startFieldSimulators({ config, model, seed: 'field-test', ports: 'ephemeral', gateways: ['gw-weimei-1'], lineDelayMs: 60, now: () => T0 });
    const s = connect(slow.listener('wm-meter-645').port, '127.0.0.1');
    try {
      await new Promise<void>((resolve) => s.once('connect', resolve));
      const reader = new Dlt645FrameReader();
      const arrivals: number[] = [];
      const t0 = Date.now();
      const all = new Promise<void>((resolve) => s.on('data', (chunk) => {
        for (const _ of reader.push(chunk)) arrivals.push(Date.now() - t0);
        if (arrivals.length === 4) resolve();
      }));
      for (const di of ['00010000', '02030000', '02060000', '00010000']) s.write(encodeReadRequest('000000000001', di));
      await all;
      expect(arrivals[3]).toBeGreaterThanOrEqual(4 * 60 - 5);
      for (let i = 1; i < 4; i++) expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(50);
      expect(slow.listener('wm-meter-645').counters.answered).toBe(4);
    } finally {
      s.destroy();
      await slow.close();
    }
  });
});
