/**
 * The one place ingest reaches into mqtt.js: its QoS 1 PUBACKs. mqtt.js 5.16.0 sends a PUBACK from
 * inside the `handleMessage` callback through its private `_sendPacket`, and parses the next packet
 * only after that callback; MQTT 3.1.1 has no public way to hold the ack (customHandleAcks is MQTT 5
 * only). This takes the successful PUBACKs off that path (the callback completes at once, so mqtt.js
 * reads on) and hands them to the caller, who writes them later to the same connection.
 * Checked at start: the exact mqtt version, the code of the files it relies on, and the private.
 */
import type { MqttClient } from 'mqtt';
import { patchError, verifyPatch, type Patch, type VersionOf } from '../core/dependency-patch.ts';

export const MQTT_PUBACK_PATCH: Patch = {
  file: 'ingest/mqtt-puback.ts',
  what: "ingest's PUBACKs taken off mqtt.js's private _sendPacket",
  targets: [{ pkg: 'mqtt', version: '5.16.0', files: { 'build/lib/client.js': '95361b3db351704f', 'build/lib/handlers/publish.js': 'd349e3aa71074db1' } }],
};

type SendPacket = (packet: { cmd: string; messageId?: number; reasonCode?: number }, cb?: (err?: Error) => void, ...rest: unknown[]) => void;
interface ClientInternals { stream: { write(b: Buffer): boolean } | undefined; connected: boolean; _sendPacket: SendPacket }

export interface PubackTap {
  /** The connection's stream now (PUBACKs belong to the connection they were produced on). */
  stream(): unknown;
  /** Writes raw PUBACK bytes if `stream` is still the live connection; false if not. */
  write(stream: unknown, bytes: Buffer): boolean;
  /** Gives mqtt.js its own PUBACK sending back. */
  restore(): void;
}

/** Successful QoS 1 PUBACKs go to `onPuback(messageId, stream)` instead of the socket. Throws SP_ERR_AEDES_PATCH if mqtt.js is not what this was written for. */
export function tapPubacks(client: MqttClient, onPuback: (messageId: number, stream: unknown) => void, versionOf?: VersionOf): PubackTap {
  verifyPatch(MQTT_PUBACK_PATCH, versionOf);
  const c = client as unknown as ClientInternals;
  if (typeof c._sendPacket !== 'function') throw patchError(MQTT_PUBACK_PATCH, 'this MqttClient has no _sendPacket method');
  const original = c._sendPacket;
  c._sendPacket = function tapPuback(this: unknown, packet, cb, ...rest) {
    if (packet.cmd !== 'puback' || (packet.reasonCode ?? 0) !== 0 || packet.messageId === undefined) {
      return original.call(this, packet, cb, ...rest);
    }
    onPuback(packet.messageId, c.stream);
    cb?.();
  };
  return {
    stream: () => c.stream,
    write: (stream, bytes) => {
      if (!stream || stream !== c.stream || !c.connected) return false;
      c.stream!.write(bytes);
      return true;
    },
    restore: () => { c._sendPacket = original; },
  };
}
