/**
 * One TCP listener of the field simulators = one connection entry of config/gateway.yaml: a
 * Modbus TCP device or gateway, or a serial device server with an RS-485 line behind it. The
 * listener owns the sockets and the counters; a protocol handler (modbus-server.ts,
 * dlt645-server.ts) turns received bytes into answers. On a serial line the requests of all
 * sockets are served one at a time, as on a half-duplex bus, each after the line delay.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { ConnectionConfig } from '../../core/fieldbus/config.ts';
import type { FieldDevice } from './device.ts';

export interface ListenerCounters {
  connections: number;
  /** Well-formed requests addressed to a device of this listener. */
  requests: number;
  /** Of these, answered normally. */
  answered: number;
  /** Answered with a Modbus exception or a DL/T 645 abnormal answer. */
  exceptions: number;
  /** Left unanswered by a 'silent' device. */
  silent: number;
  /** Answered with a corrupted frame by a 'garbage' device. */
  garbage: number;
  /** Frames addressed to no device here (a serial line ignores them; Modbus TCP answers 0B). */
  notForUs: number;
  /** Received frames with a bad CRC or checksum, or unparseable bytes. */
  badFrames: number;
}

export const newCounters = (): ListenerCounters => ({
  connections: 0, requests: 0, answered: 0, exceptions: 0, silent: 0, garbage: 0, notForUs: 0, badFrames: 0,
});

/** What a handler needs from its listener. */
export interface LineContext {
  readonly counters: ListenerCounters;
  readonly devices: readonly FieldDevice[];
  /** Runs `answer` after the line delay, one at a time on serial lines; its result is written to the socket. */
  serve(socket: Socket, answer: () => Buffer | undefined): void;
}

export type ProtocolHandler = (ctx: LineContext) => (socket: Socket) => (chunk: Buffer) => void;

export interface FieldListener {
  readonly connection: ConnectionConfig;
  readonly host: string;
  readonly port: number;
  readonly counters: ListenerCounters;
  readonly devices: readonly FieldDevice[];
  /** A device of this listener by device id (throws when absent). */
  device(id: string): FieldDevice;
  close(): Promise<void>;
}

export interface ListenOptions {
  host: string;
  /** 0: an ephemeral port. */
  port: number;
  serial: boolean;
  /** Time a serial answer takes on the line, ms. */
  lineDelayMs: number;
}

export async function listen(
  connection: ConnectionConfig, devices: readonly FieldDevice[], handler: ProtocolHandler, opts: ListenOptions,
): Promise<FieldListener> {
  const counters = newCounters();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let line: Promise<void> = Promise.resolve();
  let closed = false;
  const later = (ms: number): Promise<void> => new Promise((resolve) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(() => { timers.delete(t); resolve(); }, ms);
    timers.add(t);
  });
  const write = (socket: Socket, out: Buffer | undefined): void => {
    if (out && !closed && !socket.destroyed) socket.write(out);
  };
  const ctx: LineContext = {
    counters, devices,
    serve(socket, answer) {
      if (!opts.serial) return write(socket, answer());
      line = line.then(() => later(opts.lineDelayMs)).then(() => write(socket, answer()), () => undefined);
    },
  };
  const onSocket = handler(ctx);
  const server: Server = createServer((socket) => {
    counters.connections++;
    sockets.add(socket);
    socket.setNoDelay(true);
    const onData = onSocket(socket);
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const byId = new Map(devices.map((d) => [d.id, d]));
  return {
    connection, host: opts.host, port, counters, devices,
    device(id) {
      const d = byId.get(id);
      if (!d) throw new Error(`device ${id} is not on listener ${connection.id} (${[...byId.keys()].join(', ')})`);
      return d;
    },
    close: () => new Promise<void>((resolve) => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
