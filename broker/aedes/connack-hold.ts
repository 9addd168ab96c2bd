/**
 * Deliveries held until CONNACK: aedes 1.2.0 restores a resumed session's subscriptions before it
 * writes the CONNACK, so a live message can reach the client first, against [MQTT-3.2.0-1]; mqtt.js
 * then stalls until its connect timeout. This holds a connection's deliveries (deliverQoS,
 * deliver0) until its CONNACK is written or it closes, then releases them in order.
 */
import { finished } from 'node:stream';
import type { Aedes } from 'aedes';
import { patchError, verifyPatch, type Patch, type VersionOf } from '../../core/dependency-patch.ts';

export const CONNACK_HOLD_PATCH: Patch = {
  file: 'broker/aedes/connack-hold.ts',
  what: 'deliveries held until the CONNACK is written',
  targets: [{ pkg: 'aedes', version: '1.2.0', files: { 'lib/client.js': '7a9961477a92db79', 'lib/handlers/connect.js': 'c522097e13a72a63', 'aedes.js': '5b4b483b749c0eb5' } }],
};

type Deliver = (packet: unknown, cb: () => void) => void;
interface ClientInternals { connackSent: boolean; closed: boolean; conn: NodeJS.ReadableStream; deliverQoS: Deliver; deliver0: Deliver }

/** Wraps broker.handle: call before connections are handed to it. */
export function holdDeliveriesUntilConnack(broker: Aedes, versionOf?: VersionOf): void {
  verifyPatch(CONNACK_HOLD_PATCH, versionOf);
  const b = broker as unknown as { handle: (conn: unknown, req: unknown) => ClientInternals };
  const handle = b.handle;
  if (typeof handle !== 'function') throw patchError(CONNACK_HOLD_PATCH, 'aedes.handle is not a function');
  const waiting = new WeakMap<object, (() => void)[]>();
  const release = (client: object) => {
    const queue = waiting.get(client);
    if (!queue) return;
    waiting.delete(client);
    for (const send of queue) send();
  };
  broker.on('connackSent', (_packet, client) => release(client));
  b.handle = function (this: unknown, conn: unknown, req: unknown) {
    const client = handle.call(this, conn, req);
    for (const name of ['deliverQoS', 'deliver0'] as const) {
      const deliver = client[name];
      if (typeof deliver !== 'function') throw patchError(CONNACK_HOLD_PATCH, `client.${name} is not a function`);
      client[name] = (packet, cb) => {
        if (client.connackSent || client.closed) return deliver(packet, cb);
        let queue = waiting.get(client);
        if (!queue) {
          waiting.set(client, (queue = []));
          // a connection that ends before its CONNACK: let aedes fail the deliveries (it knows how)
          finished(client.conn, () => release(client));
        }
        queue.push(() => deliver(packet, cb));
      };
    }
    return client;
  };
}
