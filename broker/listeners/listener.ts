/** What every listener returns, and the helpers they share. */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';

/** Hands a client's byte stream to the broker (behind the packet guard). */
export type HandleStream = (stream: Duplex) => void;

export interface Listener {
  /** The port it listens on. */
  port: number;
  close(): Promise<void>;
}

export function listen(server: NetServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export function closeServer(s: NetServer | HttpServer): Promise<void> {
  return new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()));
}
