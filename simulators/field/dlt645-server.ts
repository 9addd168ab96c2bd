/**
 * DL/T 645-2007 meters on one RS-485 line behind a serial device server: read requests (0x11)
 * answered by the meter whose address they carry (or by the only meter of the line for the
 * broadcast address AAAAAAAAAAAA), one at a time; frames with a bad checksum are ignored.
 */
import type { Socket } from 'node:net';
import {
  decodeReadRequest, Dlt645FrameReader, encodeExceptionResponse, encodeReadResponse,
} from '../../core/fieldbus/dlt645.ts';
import type { FieldDevice } from './device.ts';
import type { LineContext, ProtocolHandler } from './listener.ts';

const BROADCAST = 'AAAAAAAAAAAA';

export const dlt645Handler: ProtocolHandler = (ctx: LineContext) => {
  const meters = new Map<string, FieldDevice>();
  for (const d of ctx.devices) if (d.binding.protocol === 'dlt645') meters.set(d.binding.address, d);
  const only = meters.size === 1 ? [...meters.values()][0] : undefined;
  return (socket: Socket) => {
    const reader = new Dlt645FrameReader();
    return (chunk: Buffer) => {
      for (const item of reader.push(chunk)) {
        if ('error' in item) {
          ctx.counters.badFrames++;
          continue;
        }
        const f = item.frame;
        const device = f.address === BROADCAST ? only : meters.get(f.address);
        const di = decodeReadRequest(f);
        if (!device || di === undefined) {
          ctx.counters.notForUs++; // another meter's frame, an answer, or a command these meters do not take
          continue;
        }
        const c = ctx.counters;
        c.requests++;
        if (device.fault === 'silent') {
          c.silent++;
          continue;
        }
        ctx.serve(socket, () => {
          device.served++;
          const address = device.binding.protocol === 'dlt645' ? device.binding.address : f.address;
          if (device.fault === 'garbage') {
            c.garbage++;
            const frame = encodeReadResponse(address, '00010000', 0);
            frame[frame.length - 2] = (frame[frame.length - 2] as number) ^ 0x5a; // bad checksum
            return frame;
          }
          const r = device.fault === 'exception' ? { errorWord: 0x02 } : device.readMeter(di);
          if ('errorWord' in r) {
            c.exceptions++;
            return encodeExceptionResponse(address, r.errorWord);
          }
          c.answered++;
          return encodeReadResponse(address, di, r.value);
        });
      }
    };
  };
};
