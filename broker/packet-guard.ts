/**
 * Aedes 1.x has no maximum packet size: it buffers whatever a client announces (a 100 MB
 * PUBLISH was accepted). This guard sits between the socket (TCP, TLS or WebSocket stream) and
 * Aedes, reads only the MQTT fixed header of each packet — type byte and "remaining length"
 * varint [MQTT-2.2.3] — and ends the connection as soon as a packet announces more than the
 * limit, before its body is read. Everything else passes through unchanged, with back-pressure.
 */
import { Duplex } from 'node:stream';

export interface GuardOptions {
  maxPacketBytes: number;
  /** Called once when a connection is cut for an oversized packet. */
  onTooLarge?: (announcedBytes: number) => void;
}

type State = { phase: 'type' } | { phase: 'length'; mult: number; value: number; bytes: number } | { phase: 'body'; left: number };

export function guardConnection(inner: Duplex, opts: GuardOptions): Duplex {
  let state: State = { phase: 'type' };
  let cut = false;

  const scan = (chunk: Buffer): boolean => {
    let i = 0;
    while (i < chunk.length) {
      if (state.phase === 'type') {
        i++;
        state = { phase: 'length', mult: 1, value: 0, bytes: 0 };
      } else if (state.phase === 'length') {
        const b = chunk[i++]!;
        state.value += (b & 0x7f) * state.mult;
        state.mult *= 128;
        state.bytes++;
        if (state.bytes > 4) return false; // malformed varint [MQTT-2.2.3]
        if ((b & 0x80) === 0) {
          const total = 1 + state.bytes + state.value;
          if (total > opts.maxPacketBytes) {
            opts.onTooLarge?.(total);
            return false;
          }
          state = state.value === 0 ? { phase: 'type' } : { phase: 'body', left: state.value };
        }
      } else {
        const take = Math.min(state.left, chunk.length - i);
        i += take;
        state.left -= take;
        if (state.left === 0) state = { phase: 'type' };
      }
    }
    return true;
  };

  // Every packet written in one event-loop turn (PUBACKs to a device, PUBLISHes to ingest) goes
  // to the socket in one write: cork on the first write of a turn, uncork on setImmediate. A
  // write completes when the socket takes the bytes, or on 'drain' when it is full, so a slow
  // reader still holds Aedes back (broker/backpressure.ts relies on it).
  let corked = false;
  const uncork = () => {
    corked = false;
    inner.uncork();
  };
  const send = (chunk: Buffer, cb: (err?: Error | null) => void) => {
    if (!corked) {
      corked = true;
      inner.cork();
      setImmediate(uncork);
    }
    if (inner.write(chunk)) cb();
    else inner.once('drain', () => cb());
  };
  const outer: Duplex = new Duplex({
    read() {
      inner.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      send(chunk, cb);
    },
    // Aedes (mqtt-packet's writeToStream) corks the stream and writes each packet in several
    // small pieces: hand them to the socket as one buffer.
    writev(chunks, cb) {
      send(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk as Buffer)), cb);
    },
    final(cb) {
      if (corked) uncork();
      inner.end(cb);
    },
    destroy(err, cb) {
      if (corked) uncork(); // what was written before the close (e.g. a refusing CONNACK) still goes out
      inner.destroy();
      cb(err);
    },
  });
  inner.on('data', (chunk: Buffer) => {
    if (cut) return;
    if (!scan(chunk)) {
      cut = true;
      inner.destroy();
      outer.destroy();
      return;
    }
    if (!outer.push(chunk)) inner.pause();
  });
  inner.on('end', () => outer.push(null));
  inner.on('error', (e) => outer.destroy(e));
  inner.on('close', () => outer.destroy());
  // Aedes reads the remote address from conn.remoteAddress / conn._socket (WebSocket).
  const sock = inner as Duplex & { remoteAddress?: string; remotePort?: number };
  Object.assign(outer, { remoteAddress: sock.remoteAddress, remotePort: sock.remotePort });
  return outer;
}
