/**
 * A connection that waits for 'drain' however long it takes: aedes 1.2.0 (lib/write.js) calls
 * client.waitForDrain when a socket is full and cuts the client after `drainTimeout`. For a durable
 * consumer (ingest) the wait is the back-pressure we want (broker/backpressure.ts), so its client
 * waits without a timeout; a socket that closes releases its waiting writes (they stay in the
 * session queue and are redelivered on the next connection).
 */
import type { Client } from 'aedes';
import { patchError, verifyPatch, type Patch, type VersionOf } from '../../core/dependency-patch.ts';

export const DRAIN_WAIT_PATCH: Patch = {
  file: 'broker/aedes/drain-wait.ts',
  what: 'durable consumers wait for drain without a timeout',
  targets: [{ pkg: 'aedes', version: '1.2.0', files: { 'lib/write.js': 'affdb5d157bbf358', 'lib/client.js': '7a9961477a92db79' } }],
};

interface Drainable { conn: NodeJS.WritableStream & { once(ev: string, fn: () => void): unknown }; waitForDrain: unknown; clean?: boolean; closed?: boolean }

/** Checks the patch at start (call once, before clients connect). */
export function checkDrainWait(versionOf?: VersionOf): void {
  verifyPatch(DRAIN_WAIT_PATCH, versionOf);
}

/** Makes this connected client wait for 'drain' without aedes' drainTimeout. */
export function waitForDrainUnbounded(client: Client): void {
  const c = client as unknown as Drainable;
  if (typeof c.waitForDrain !== 'function' || typeof c.conn?.once !== 'function') {
    throw patchError(DRAIN_WAIT_PATCH, 'the client has no waitForDrain method or no conn stream');
  }
  let pending: ((err: Error | null) => void)[] = [];
  const release = () => {
    const cbs = pending;
    pending = [];
    for (const cb of cbs) setImmediate(cb, null);
  };
  c.conn.once('close', release);
  c.waitForDrain = (cb: (err: Error | null) => void) => {
    pending.push(cb);
    if (pending.length === 1) c.conn.once('drain', release);
  };
}

/** A persistent session (clean=false), as aedes records it on the client. */
export const isPersistentSession = (client: Client): boolean => (client as unknown as Drainable).clean === false;
/** The connection has closed (aedes' flag). */
export const isClosed = (client: Client): boolean => (client as unknown as Drainable).closed === true;
