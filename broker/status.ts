/**
 * The broker is the authority on whether a device is connected: it publishes the device's
 * retained status topic `{"state":"online"}` when its session is ready and `{"state":"offline"}`
 * when the connection ends, unless a newer connection of the same device has taken over.
 * (Devices should also set this topic as their last will, for brokers that do not do this.)
 * Devices behind an edge gateway: the gateway reports each one's status as it polls it (it
 * knows whether the field device answers); when the gateway's connection ends, the broker marks
 * all of them offline, since nobody reads them any more.
 */
import type { Aedes, Client } from 'aedes';
import { deviceTopic, type DevicePlace, type StatusMessage } from '../core/contract.ts';
import type { Principal } from './acl.ts';

export function trackDeviceStatus(aedes: Aedes, principalOf: (c: Client) => Principal | undefined): void {
  const current = new Map<string, Client>();
  const publish = (device: DevicePlace, msg: StatusMessage) => {
    aedes.publish({
      cmd: 'publish', topic: deviceTopic(device, 'status'), payload: Buffer.from(JSON.stringify(msg)),
      qos: 1, retain: true, dup: false,
    }, () => {});
  };
  aedes.on('clientReady', (client) => {
    const p = principalOf(client);
    if (p?.kind === 'gateway') current.set(p.id, client);
    if (p?.kind !== 'device') return;
    current.set(p.id, client);
    publish(p.device, { state: 'online', ts: Date.now(), info: 'connected' });
  });
  aedes.on('clientDisconnect', (client) => {
    const p = principalOf(client);
    if (p?.kind === 'gateway') {
      if (current.get(p.id) !== client) return; // a newer connection of the gateway took over
      current.delete(p.id);
      for (const d of p.gateway.devices) publish(d, { state: 'offline', ts: Date.now(), info: `gateway ${p.id} disconnected` });
      return;
    }
    if (p?.kind !== 'device' || current.get(p.id) !== client) return;
    current.delete(p.id);
    publish(p.device, { state: 'offline', ts: Date.now(), info: 'disconnected' });
  });
}
