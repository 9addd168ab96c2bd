/**
 * The cluster profile's JetStream scheme, shared by the brokers (writers) and the ingest workers
 * (readers): stream name, subjects, the device → partition hash and the message id that makes a
 * device's resend a no-op. Pure: no I/O at import.
 *
 *   tele.<partition>.<device>.<telemetry|status>      partition = fnv1a32(device id) mod P
 *
 * Device ids are validated by the contract (core/ids.ts: a-z 0-9 _ -), which never contains a
 * NATS token separator or wildcard; `teleSubject` checks again and refuses anything else.
 */
import { createHash } from 'node:crypto';
import { CHANNELS, type Channel } from '../core/contract.ts';
import { isId } from '../core/ids.ts';

export const TELE_STREAM = 'TELE';
export const TELE_ROOT = 'tele';
/** KV bucket of the ingest workers' leases (partitions and live workers). */
export const LEASE_BUCKET = 'sp_ingest_leases';

/** 32-bit FNV-1a of the id's UTF-8 bytes (ids are ASCII): stable across processes and versions. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function partitionOf(deviceId: string, partitions: number): number {
  return fnv1a32(deviceId) % partitions;
}

/** The subject of a device's message, or undefined when the id is not a safe subject token. */
export function teleSubject(partition: number, deviceId: string, channel: Channel): string | undefined {
  if (!isId(deviceId) || !Number.isInteger(partition) || partition < 0) return undefined;
  return `${TELE_ROOT}.${partition}.${deviceId}.${channel}`;
}

/** The filter of one partition's consumer. */
export function partitionFilter(partition: number): string {
  return `${TELE_ROOT}.${partition}.>`;
}

export function parseTeleSubject(subject: string): { partition: number; device: string; channel: Channel } | undefined {
  const t = subject.split('.');
  if (t.length !== 4 || t[0] !== TELE_ROOT) return undefined;
  const partition = Number(t[1]);
  const channel = t[3] as Channel;
  if (!Number.isInteger(partition) || !isId(t[2]) || !CHANNELS.includes(channel)) return undefined;
  return { partition, device: t[2]!, channel };
}

/** Nats-Msg-Id of a device message: the same topic and payload (a resend) is stored once within the window. */
export function teleMsgId(deviceId: string, topic: string, payload: Uint8Array): string {
  return `${deviceId}:${createHash('sha256').update(topic).update(payload).digest('base64url')}`;
}

/** The stream description carries the partition count, so a worker configured otherwise refuses to start. */
export function streamDescription(partitions: number): string {
  return `smart-park telemetry; partitions=${partitions}`;
}

export function partitionsOfDescription(description: string | undefined): number | undefined {
  const m = /partitions=(\d+)/.exec(description ?? '');
  return m ? Number(m[1]) : undefined;
}
