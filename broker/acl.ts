/**
 * Who may publish and subscribe where. A device may publish only its own telemetry and status
 * topics and subscribe only below its own prefix; an edge gateway may publish only the
 * telemetry and status topics of the devices the park model gives it, and subscribe only below
 * their prefixes; service accounts read everything under
 * sp/v1/ and publish only platform topics (sp/v1/_sys/...). Wildcards in a device's filter are
 * allowed only after its own prefix, so `+` or `#` can never widen it.
 */
import { devicePrefix, deviceTopic, SYS_PREFIX, TOPIC_ROOT } from '../core/contract.ts';
import type { DeviceModel, GatewayModel } from '../core/model.ts';

export type Principal =
  | { kind: 'device'; id: string; device: DeviceModel; prefix: string; topics: readonly string[] }
  | { kind: 'gateway'; id: string; gateway: GatewayModel; prefixes: readonly string[]; topics: ReadonlySet<string> }
  | { kind: 'service'; id: string; account: string };

export function devicePrincipal(device: DeviceModel): Principal {
  return {
    kind: 'device', id: device.id, device, prefix: `${devicePrefix(device)}/`,
    topics: [deviceTopic(device, 'telemetry'), deviceTopic(device, 'status')],
  };
}

export function gatewayPrincipal(gateway: GatewayModel): Principal {
  return {
    kind: 'gateway', id: gateway.id, gateway, prefixes: gateway.devices.map((d) => `${devicePrefix(d)}/`),
    topics: new Set(gateway.devices.flatMap((d) => [deviceTopic(d, 'telemetry'), deviceTopic(d, 'status')])),
  };
}

const hasWildcard = (s: string) => s.includes('+') || s.includes('#');

export function mayPublish(p: Principal, topic: string): boolean {
  if (hasWildcard(topic)) return false; // [MQTT-3.3.2-2]
  if (p.kind === 'device') return p.topics.includes(topic);
  if (p.kind === 'gateway') return p.topics.has(topic);
  return topic.startsWith(`${SYS_PREFIX}/`);
}

export function maySubscribe(p: Principal, filter: string): boolean {
  if (filter.length === 0) return false;
  if (p.kind === 'device') return filter.startsWith(p.prefix);
  if (p.kind === 'gateway') return p.prefixes.some((prefix) => filter.startsWith(prefix));
  return filter === `${TOPIC_ROOT}/#` || filter.startsWith(`${TOPIC_ROOT}/`);
}
