/** MQTT over TLS (mqtts) and over secure WebSocket (wss): the same listeners with a certificate. */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTlsServer, createSecureContext, type TlsOptions } from 'node:tls';
import { PlatformError } from '../../core/errors.ts';
import { closeServer, listen, type HandleStream, type Listener } from './listener.ts';
import { serveWebSocket, upgradeOnly } from './ws.ts';

/** Reads and checks the certificate and key; SP_ERR_CONFIG names both files when they do not make a pair. */
export function loadTls(certFile: string, keyFile: string): TlsOptions {
  const tls: TlsOptions = { cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.2' };
  try {
    createSecureContext(tls);
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `MQTT_TLS_CERT_FILE/MQTT_TLS_KEY_FILE (${certFile}, ${keyFile}): expected a certificate and its private key: ${(e as Error).message}`);
  }
  return tls;
}

export async function listenMqtts(handle: HandleStream, tls: TlsOptions, port: number, host: string, handshakeTimeoutMs: number): Promise<Listener> {
  const server = createTlsServer({ ...tls, handshakeTimeout: handshakeTimeoutMs }, (sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    handle(sock);
  });
  server.on('tlsClientError', () => {}); // failed handshakes: nothing reaches Aedes
  return { port: await listen(server, port, host), close: () => closeServer(server) };
}

export async function listenWss(handle: HandleStream, tls: TlsOptions, port: number, host: string, handshakeTimeoutMs: number, maxPacketBytes: number): Promise<Listener> {
  const server = createHttpsServer({ ...tls, handshakeTimeout: handshakeTimeoutMs }, upgradeOnly);
  server.on('tlsClientError', () => {});
  return serveWebSocket(server, handle, port, host, maxPacketBytes);
}
