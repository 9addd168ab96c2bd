/**
 * Modbus servers of the field simulators: Modbus TCP (MBAP framing) and Modbus RTU over TCP (a
 * serial device server: RTU frames with CRC on a raw TCP stream, several unit ids on one
 * half-duplex line). Both serve the PDUs of core/fieldbus/modbus-rtu.ts.
 *
 * Why our own server rather than modbus-serial's ServerTCP (8.0.25): ServerTCP serves one unit id
 * (or all) per listener with one vector, has no RTU-over-TCP server, and gives no way to answer
 * with a corrupted frame or to stay silent for one unit; with our PDU codec both transports share
 * one request handler, one set of fault hooks and one set of counters. The bytes are still checked
 * by independent clients in the tests (modbus-serial's and pymodbus's).
 */
import type { Socket } from 'node:net';
import type { RegisterType } from '../../core/fieldbus/config.ts';
import { decodeRequest, encodeAdu, encodeResponse, exceptionPdu, MODBUS_EXCEPTIONS, RtuFrameReader, type ModbusResponse } from '../../core/fieldbus/modbus-rtu.ts';
import { encodeMbap, MbapFrameReader } from '../../core/fieldbus/modbus-tcp.ts';
import type { FieldDevice } from './device.ts';
import type { LineContext, ListenerCounters, ProtocolHandler } from './listener.ts';

const SPACE: Readonly<Record<number, RegisterType>> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' };
/** Exception a gateway answers for a unit it cannot reach. */
const GATEWAY_TARGET_FAILED = 0x0b;

/** The response PDU; `garbage` when a faulty device will corrupt its frame. */
type Answer = { pdu: Buffer; garbage: boolean } | 'silent';

/** The answer of one device to one request PDU, counted. */
function answer(device: FieldDevice, pdu: Buffer, c: ListenerCounters): Answer {
  c.requests++;
  if (device.fault === 'silent') {
    c.silent++;
    return 'silent';
  }
  device.served++;
  const req = decodeRequest(pdu);
  let res: ModbusResponse;
  if ('exception' in req) res = req;
  else if (device.fault === 'exception') res = { fc: req.fc, exception: 0x02, meaning: 'illegal data address' };
  else if (req.fc === 1 || req.fc === 2 || req.fc === 3 || req.fc === 4) {
    const r = device.readModbus(SPACE[req.fc] as RegisterType, req.address, req.quantity);
    if ('exception' in r) res = { fc: req.fc, exception: r.exception, meaning: MODBUS_EXCEPTIONS[r.exception] ?? '' };
    else if ('bits' in r) res = { fc: req.fc as 1 | 2, bits: r.bits };
    else res = { fc: req.fc as 3 | 4, registers: r.registers };
  } else {
    res = { fc: req.fc, exception: 0x02, meaning: 'read-only' }; // measurements: nothing here is writable
  }
  const garbage = device.fault === 'garbage';
  if (garbage) c.garbage++;
  else if ('exception' in res) c.exceptions++;
  else c.answered++;
  return { pdu: encodeResponse(res), garbage };
}

function unitMap(devices: readonly FieldDevice[]): Map<number, FieldDevice> {
  const m = new Map<number, FieldDevice>();
  for (const d of devices) if (d.binding.protocol === 'modbus') m.set(d.binding.unitId, d);
  return m;
}

/** Modbus TCP: each request answered at once; an unknown unit id gets exception 0B, as from a gateway. */
export const modbusTcpHandler: ProtocolHandler = (ctx: LineContext) => {
  const units = unitMap(ctx.devices);
  return (socket: Socket) => {
    const reader = new MbapFrameReader();
    return (chunk: Buffer) => {
      for (const item of reader.push(chunk)) {
        if ('error' in item) {
          ctx.counters.badFrames++;
          socket.destroy(); // no way to find the next frame boundary
          return;
        }
        const device = units.get(item.unitId);
        ctx.serve(socket, () => {
          if (!device) {
            ctx.counters.notForUs++;
            return encodeMbap(item.transactionId, item.unitId, exceptionPdu(item.pdu[0] ?? 0, GATEWAY_TARGET_FAILED));
          }
          const a = answer(device, item.pdu, ctx.counters);
          if (a === 'silent') return undefined;
          // No CRC to break on TCP: garbage is a read answer whose byte count disagrees with its data.
          if (a.garbage) return encodeMbap(item.transactionId, item.unitId, Buffer.from([item.pdu[0] ?? 3, 0xfa, 0xde]));
          return encodeMbap(item.transactionId, item.unitId, a.pdu);
        });
      }
    };
  };
};

/** RTU over TCP: only the addressed unit answers; bad frames and broadcasts (unit 0) get no answer. */
export const modbusRtuHandler: ProtocolHandler = (ctx: LineContext) => {
  const units = unitMap(ctx.devices);
  return (socket: Socket) => {
    const reader = new RtuFrameReader('request');
    return (chunk: Buffer) => {
      for (const item of reader.push(chunk)) {
        if ('error' in item) {
          ctx.counters.badFrames++;
          continue;
        }
        const device = units.get(item.unitId);
        if (!device) {
          ctx.counters.notForUs++;
          continue;
        }
        ctx.serve(socket, () => {
          const a = answer(device, item.pdu, ctx.counters);
          if (a === 'silent') return undefined;
          const adu = encodeAdu(item.unitId, a.pdu);
          if (a.garbage) adu[adu.length - 1] = (adu[adu.length - 1] as number) ^ 0xff; // the right length, a bad CRC: line noise
          return adu;
        });
      }
    };
  };
};
