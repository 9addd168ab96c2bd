/**
 * Sparkplug B topic namespace (Sparkplug 3.0 §4.1), shared by the broker's ACL, the host
 * application and the simulated edge node:
 *   spBv1.0/{group}/{NBIRTH|NDATA|NDEATH|NCMD}/{edge node}
 *   spBv1.0/{group}/{DBIRTH|DDATA|DDEATH|DCMD}/{edge node}/{device}
 *   spBv1.0/STATE/{host id}                      primary host application state (JSON)
 * Pure.
 */
import { SPARKPLUG_ID_PATTERN } from './config.ts';

export const SPB_NAMESPACE = 'spBv1.0';
export const NODE_TYPES = ['NBIRTH', 'NDATA', 'NDEATH', 'NCMD'] as const;
export type NodeMessageType = (typeof NODE_TYPES)[number];
export const DEVICE_MESSAGE_TYPES = ['DBIRTH', 'DDATA', 'DDEATH', 'DCMD'] as const;
export type DeviceMessageType = (typeof DEVICE_MESSAGE_TYPES)[number];
export type MessageType = NodeMessageType | DeviceMessageType;

/** What an edge node publishes (commands come from the host). */
export const EDGE_PUBLISHED: readonly MessageType[] = ['NBIRTH', 'NDATA', 'NDEATH', 'DBIRTH', 'DDATA', 'DDEATH'];

export type SpbTopic =
  | { kind: 'state'; hostId: string }
  | { kind: 'node'; group: string; type: NodeMessageType; node: string }
  | { kind: 'device'; group: string; type: DeviceMessageType; node: string; device: string };

const isSpId = (s: string | undefined): s is string => s !== undefined && SPARKPLUG_ID_PATTERN.test(s);

/** Parses a Sparkplug topic; undefined when it is not one (ids are checked: no wildcards, no separators). */
export function parseSpbTopic(topic: string): SpbTopic | undefined {
  const parts = topic.split('/');
  if (parts[0] !== SPB_NAMESPACE) return undefined;
  if (parts[1] === 'STATE') return parts.length === 3 && isSpId(parts[2]) ? { kind: 'state', hostId: parts[2] } : undefined;
  const [, group, type, node, device] = parts;
  if (!isSpId(group) || !isSpId(node)) return undefined;
  if (parts.length === 4 && (NODE_TYPES as readonly string[]).includes(type!)) return { kind: 'node', group, type: type as NodeMessageType, node };
  if (parts.length === 5 && (DEVICE_MESSAGE_TYPES as readonly string[]).includes(type!) && isSpId(device)) {
    return { kind: 'device', group, type: type as DeviceMessageType, node, device };
  }
  return undefined;
}

export const nodeTopic = (group: string, type: NodeMessageType, node: string): string => `${SPB_NAMESPACE}/${group}/${type}/${node}`;
export const deviceTopicSpb = (group: string, type: DeviceMessageType, node: string, device: string): string => `${SPB_NAMESPACE}/${group}/${type}/${node}/${device}`;
export const stateTopic = (hostId: string): string => `${SPB_NAMESPACE}/STATE/${hostId}`;

/** The metric an NCMD carries to ask an edge node to publish its births again. */
export const REBIRTH_METRIC = 'Node Control/Rebirth';
/** The birth/death sequence metric tying an NDEATH to its NBIRTH. */
export const BDSEQ_METRIC = 'bdSeq';
