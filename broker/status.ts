/**
 * The broker is the authority on whether a device is connected: it publishes the device's
 * retained status topic `{"state":"online"}` when its session is ready and `{"state":"offline"}`
 * when the connection ends, unless a newer connection of the same device has taken over.
 * (Devices should also set this topic as their last will, for brokers that do not do this.)
 */
import type { Aedes, Client } from 'aedes';
import { deviceTopic, type StatusMessage } from '../core/contract.ts';
import type { Principal } from './acl.ts';

export function trackDeviceStatus(aedes: Aedes, principalOf: (c: Client) => Principal | undefined): void {
  const current = new Map<string, Client>();
  const publish = (p: Extract<Principal, { kind: 'device' }>, msg: StatusMessage) => {
    aedes.publish({
      cmd: 'publish', topic: deviceTopic(p.device, 'status'), payload: Buffer.from(JSON.stringify(msg)),
      qos: 1, retain: true, dup: false,
    }, () => {});
  };
  aedes.on('clientReady', (client) => {
    const p = principalOf(client);
    if (p?.kind !== 'device') return;
    current.set(p.id, client);
    publish(p, { state: 'online', ts: Date.now(), info: 'connected' });
  });
  aedes.on('clientDisconnect', (client) => {
    const p = principalOf(client);
    if (p?.kind !== 'device' || current.get(p.id) !== client) return;
    current.delete(p.id);
    publish(p, { state: 'offline', ts: Date.now(), info: 'disconnected' });
  });
}
