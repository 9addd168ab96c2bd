/**
 * Who may publish and subscribe where. A device may publish only its own telemetry and status
 * topics and subscribe only below its own prefix; an edge gateway may publish only the
 * telemetry and status topics of the devices the park model gives it, and subscribe only below
 * their prefixes; service accounts read everything under
 * sp/v1/ and publish only platform topics (sp/v1/_sys/...). Wildcards in a device's filter are
 * allowed only after its own prefix, so `+` or `#` can never widen it.
 * Sparkplug B (docs/sparkplug.md): an edge node's account publishes only its own
 * spBv1.0/{group}/{NBIRTH|NDATA|NDEATH}/{node} and .../{DBIRTH|DDATA|DDEATH}/{node}/{device}
 * topics and subscribes only its own NCMD/DCMD topics and the STATE topics; only the host
 * application's account publishes STATE and NCMD/DCMD, plus the status topics of the park
 * devices the Sparkplug mapping gives it, and reads spBv1.0/#.
 */
import { devicePrefix, deviceTopic, SYS_PREFIX, TOPIC_ROOT } from '../core/contract.ts';
import type { DeviceModel, GatewayModel } from '../core/model.ts';
import type { SparkplugConfig, SparkplugNodeMap } from '../core/sparkplug/config.ts';
import { EDGE_PUBLISHED, parseSpbTopic, SPB_NAMESPACE, stateTopic } from '../core/sparkplug/topic.ts';

/** What the Sparkplug host application's service account may do beyond a service's rights. */
export interface SparkplugHostRights { stateTopic: string; statusTopics: ReadonlySet<string> }

export type Principal =
  | { kind: 'device'; id: string; device: DeviceModel; prefix: string; topics: readonly string[] }
  | { kind: 'gateway'; id: string; gateway: GatewayModel; prefixes: readonly string[]; topics: ReadonlySet<string> }
  | { kind: 'edge-node'; id: string; group: string; node: string }
  | { kind: 'service'; id: string; account: string; sparkplugHost?: SparkplugHostRights };

export function edgeNodePrincipal(n: SparkplugNodeMap): Principal {
  return { kind: 'edge-node', id: n.account, group: n.group, node: n.node };
}

export function sparkplugHostRights(cfg: SparkplugConfig): SparkplugHostRights {
  const statusTopics = new Set<string>();
  for (const n of cfg.nodes.values()) for (const d of n.devices.values()) statusTopics.add(deviceTopic(d.device, 'status'));
  return { stateTopic: stateTopic(cfg.hostId), statusTopics };
}

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
  if (p.kind === 'edge-node') {
    const t = parseSpbTopic(topic);
    return t !== undefined && t.kind !== 'state' && t.group === p.group && t.node === p.node && EDGE_PUBLISHED.includes(t.type);
  }
  if (p.sparkplugHost) {
    if (topic === p.sparkplugHost.stateTopic || p.sparkplugHost.statusTopics.has(topic)) return true;
    const t = parseSpbTopic(topic);
    if (t && t.kind !== 'state' && (t.type === 'NCMD' || t.type === 'DCMD')) return true;
  }
  return topic.startsWith(`${SYS_PREFIX}/`);
}

/** `filter` is `base` itself or below it (`base/...`); base holds no wildcard. */
const atOrBelow = (filter: string, base: string) => filter === base || filter.startsWith(`${base}/`);

export function maySubscribe(p: Principal, filter: string): boolean {
  if (filter.length === 0) return false;
  if (p.kind === 'device') return filter.startsWith(p.prefix);
  if (p.kind === 'gateway') return p.prefixes.some((prefix) => filter.startsWith(prefix));
  if (p.kind === 'edge-node') {
    // its own commands (Tahu's client subscribes .../NCMD/{node}/# and .../DCMD/{node}/#) and the host's STATE
    const base = `${SPB_NAMESPACE}/${p.group}`;
    return atOrBelow(filter, `${base}/NCMD/${p.node}`) || atOrBelow(filter, `${base}/DCMD/${p.node}`)
      || (filter.startsWith(`${SPB_NAMESPACE}/STATE/`) && parseSpbTopic(filter)?.kind === 'state');
  }
  if (p.sparkplugHost && atOrBelow(filter, SPB_NAMESPACE)) return true;
  return filter === `${TOPIC_ROOT}/#` || filter.startsWith(`${TOPIC_ROOT}/`);
}
