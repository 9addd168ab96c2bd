/** MQTT over TCP. */
import { createServer } from 'node:net';
import { closeServer, listen, type HandleStream, type Listener } from './listener.ts';

export async function listenTcp(handle: HandleStream, port: number, host: string): Promise<Listener> {
  const server = createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    handle(sock);
  });
  return { port: await listen(server, port, host), close: () => closeServer(server) };
}
