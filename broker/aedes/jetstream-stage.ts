/**
 * Cluster profile (MQTT_JETSTREAM_URL): the last stage of the authorizePublish chain writes every
 * authorised device (or gateway) telemetry/status publish to the replicated JetStream stream TELE
 * and lets it pass — so Aedes writes the PUBACK — only once JetStream acknowledged it:
 *
 *   subject  tele.<partition>.<device>.<channel>        (cluster/subjects.ts)
 *   msg id   <device>:<sha256(topic + payload)>         a device's resend is stored once
 *
 * THE INVARIANT: no PUBACK before JetStream's PubAck (stored on a quorum of the stream's replicas).
 * While JetStream does not take the message (a leader election, the stream at its max_bytes with
 * discard:new, no quorum) the publish is tried again, with backoff, for as long as the device stays
 * connected: the device gets no PUBACK and, since Aedes reads nothing more from a connection while a
 * publish of it waits here, sends nothing more (held back). A device that gives up and reconnects
 * resends the same bytes, which the message id makes a no-op. PUBACKs keep the order of the
 * PUBLISHes of a connection [MQTT-4.6.0-2] (Aedes runs the publishes of one socket read at once).
 *
 * The broker's own status publishes (online/offline, retained, `status.ts`) go to the stream too,
 * in the background. Everything still goes through Aedes locally afterwards (retained status, the
 * broker's own subscribers); cluster/mqtt-relay.ts carries it to the other brokers' subscribers.
 * Not a patch of Aedes internals: it uses only the authorizePublish hook and the 'publish' event.
 */
import type { Aedes, Client } from 'aedes';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import { parseTopic } from '../../core/contract.ts';
import { PlatformError } from '../../core/errors.ts';
import type { Registry } from '../../core/metrics.ts';
import { ensureTeleStream, type TeleStreamOptions } from '../../cluster/stream.ts';
import { partitionOf, teleMsgId, teleSubject } from '../../cluster/subjects.ts';
import type { Principal } from '../acl.ts';
import type { PublishStage } from './authorize-chain.ts';
import { isClosed } from './drain-wait.ts';

export interface JetStreamStageOptions extends TeleStreamOptions {
  /** Comma-separated nats:// URLs. */
  url: string;
  ackTimeoutMs: number;
  /** Name of this broker's NATS connection (monitoring). */
  name: string;
  principalOf(client: Client): Principal | undefined;
  metrics: Registry;
  /** Longest wait at start for the JetStream cluster (meta leader, stream). */
  readyTimeoutMs?: number;
}

export interface JetStreamStage {
  /** The last stage of the authorizePublish chain. */
  stage: PublishStage;
  /** Call right after createBroker: the broker's own status messages go to the stream too (not those `skip` names: another broker's). */
  attach(aedes: Aedes, skip?: (packet: { payload: unknown }) => boolean): void;
  nc: NatsConnection;
  close(): Promise<void>;
}

type Done = (err?: Error | null) => void;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The reason of a failed publish, for the counter's label. */
function reason(e: Error & { api_error?: { err_code?: number; description?: string } }): string {
  const m = `${e.message} ${e.api_error?.description ?? ''}`;
  if (e.api_error?.err_code === 10077 || /maximum (bytes|messages)/i.test(m)) return 'stream_full'; // JSStreamStoreFailedF: discard:new at the limit
  if (/timeout/i.test(m)) return 'timeout';
  if (/503|no responders/i.test(m)) return 'no_responders';
  if (/closed|disconnect|reconnect/i.test(m)) return 'connection';
  return 'other';
}

export async function openJetStreamStage(o: JetStreamStageOptions): Promise<JetStreamStage> {
  const servers = o.url.split(',');
  // noAsyncTraces: nats.js would capture a stack trace for every request (every publish) otherwise
  const nc = await connect({ servers, name: o.name, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true, timeout: 5000, noAsyncTraces: true });
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  for (;;) {
    try {
      await ensureTeleStream(await nc.jetstreamManager({ timeout: 5000 }), o);
      break;
    } catch (e) {
      if (e instanceof PlatformError || Date.now() > deadline) {
        await nc.close();
        if (e instanceof PlatformError) throw e;
        throw new PlatformError('SP_ERR_NATS_NOT_READY', `MQTT_JETSTREAM_URL=${servers.join(',')}: the TELE stream could not be created or read: ${(e as Error).message}`);
      }
      await sleep(250);
    }
  }
  const js: JetStreamClient = nc.jetstream({ timeout: o.ackTimeoutMs });
  const m = o.metrics
    .describe('mqtt_jetstream_stored_total', 'Device messages JetStream acknowledged (a resend it de-duplicated included)')
    .describe('mqtt_jetstream_duplicates_total', 'Of those, resends JetStream recognised by their message id (stored once)')
    .describe('mqtt_jetstream_retries_total', 'JetStream publishes tried again (the device waits for its PUBACK meanwhile), by reason')
    .describe('mqtt_jetstream_abandoned_total', 'Publishes given up because the device disconnected first (no PUBACK; it resends)');
  let waiting = 0;
  m.gauge('mqtt_jetstream_waiting', () => waiting);

  /** Publishes until JetStream acknowledges, while `alive()`; false when given up. */
  const store = async (subject: string, payload: Uint8Array, msgID: string, alive: () => boolean): Promise<boolean> => {
    waiting++;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const ack = await js.publish(subject, payload, { msgID, timeout: o.ackTimeoutMs });
          m.inc('mqtt_jetstream_stored_total');
          if (ack.duplicate) m.inc('mqtt_jetstream_duplicates_total');
          return true;
        } catch (e) {
          m.inc('mqtt_jetstream_retries_total', { reason: reason(e as Error) });
          if (!alive()) return false;
          await sleep(Math.min(1000, 25 * 2 ** Math.min(attempt, 6)));
          if (!alive()) return false;
        }
      }
    } finally {
      waiting--;
    }
  };

  /** Per connection, acknowledgements waiting for earlier ones (PUBACK order = PUBLISH order). */
  const pending = new WeakMap<Client, { ready: boolean; err: Error | null; cb: Done }[]>();

  const stage: PublishStage = (client, packet, next) => {
    if (!client) return next(null); // the broker's own (attach() handles status)
    const p = o.principalOf(client);
    if (!p || p.kind === 'service') return next(null); // platform topics (_sys): local only
    const t = parseTopic(packet.topic);
    if (!t.ok) return next(null); // unreachable: the ACL let only a device's own two topics through
    const device = t.value.device;
    const subject = teleSubject(partitionOf(device, o.partitions), device, t.value.channel);
    if (!subject) return next(new Error(`device id ${JSON.stringify(device).slice(0, 60)} is not a safe subject token`));
    let queue = pending.get(client);
    if (!queue) pending.set(client, (queue = []));
    const slot = { ready: false, err: null as Error | null, cb: next as Done };
    queue.push(slot);
    const q = queue;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    void store(subject, payload, teleMsgId(device, packet.topic, payload), () => !isClosed(client)).then((ok) => {
      if (!ok) m.inc('mqtt_jetstream_abandoned_total');
      slot.ready = true;
      slot.err = ok ? null : new Error('the connection closed before JetStream stored the message');
      while (q.length > 0 && q[0]!.ready) {
        const s = q.shift()!;
        s.cb(s.err);
      }
    });
  };

  let closing = false;
  return {
    stage, nc,
    attach(aedes, skip) {
      aedes.on('publish', (packet, client) => {
        if (client || closing || packet.topic.startsWith('$') || skip?.(packet)) return;
        const t = parseTopic(packet.topic);
        if (!t.ok || t.value.channel !== 'status') return;
        const subject = teleSubject(partitionOf(t.value.device, o.partitions), t.value.device, 'status');
        if (!subject) return;
        // the broker's own status (no device waits for it): tried for a minute, then counted as abandoned
        const until = Date.now() + 60_000;
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        void store(subject, payload, teleMsgId(t.value.device, packet.topic, payload), () => !closing && Date.now() < until)
          .then((ok) => { if (!ok) m.inc('mqtt_jetstream_abandoned_total'); });
      });
    },
    close: async () => {
      closing = true;
      await nc.drain().catch(() => nc.close());
    },
  };
}
