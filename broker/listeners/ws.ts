/**
 * MQTT over WebSocket at /mqtt. A WebSocket listener has its own HTTP(S) server, so it can be
 * exposed apart from /metrics; anything but the upgrade at /mqtt gets 426.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { closeServer, listen, type HandleStream, type Listener } from './listener.ts';

export const upgradeOnly = (_req: unknown, res: { statusCode: number; end(s: string): void }): void => {
  res.statusCode = 426;
  res.end('MQTT over WebSocket lives at /mqtt\n');
};

/** Serves MQTT over WebSocket on `server` (HTTP or HTTPS); returns what closes it. */
export function attachWebSocket(server: HttpServer, handle: HandleStream, maxPacketBytes: number): () => void {
  const wss = new WebSocketServer({
    server, path: '/mqtt', maxPayload: maxPacketBytes,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    Object.assign(stream, { remoteAddress: req.socket.remoteAddress });
    stream.on('error', () => {});
    handle(stream);
  });
  return () => {
    wss.clients.forEach((c) => c.terminate());
    wss.close();
  };
}

export async function listenWs(handle: HandleStream, port: number, host: string, maxPacketBytes: number): Promise<Listener> {
  return serveWebSocket(createServer(upgradeOnly), handle, port, host, maxPacketBytes);
}

/** MQTT over WebSocket at /mqtt on an HTTP or HTTPS server: listens, and closes the sockets with it. */
export async function serveWebSocket(server: HttpServer, handle: HandleStream, port: number, host: string, maxPacketBytes: number): Promise<Listener> {
  const stop = attachWebSocket(server, handle, maxPacketBytes);
  return {
    port: await listen(server, port, host),
    close: async () => {
      stop();
      await closeServer(server);
    },
  };
}
