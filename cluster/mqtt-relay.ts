/**
 * Cluster profile: what one broker routes reaches the MQTT subscribers of the others, over NATS
 * core subjects (not JetStream: live delivery, as Aedes gives a connected subscriber).
 *
 *   mqtt.<level>.<level>…    a message published on this broker (levels of the MQTT topic)
 *   mqttr.<level>.<level>…   the same for a retained one (status): every broker takes these, so
 *                            its retained store — what a subscriber gets at SUBSCRIBE — stays current
 *
 * A broker subscribes to `mqtt.` subjects only for the filters its connected clients hold (`+` → `*`,
 * `#` → `>`), so a message crosses to a broker only if someone there wants it: not every broker sees
 * every message (the trouble with mqemitter-redis). Its own messages do not come back (noEcho).
 * Topics whose levels are not NATS tokens (only [A-Za-z0-9_-] are taken) and $SYS stay local.
 * Not covered: a persistent session that is offline gets nothing from other brokers meanwhile;
 * a broker started later knows only the retained messages published after its start.
 */
import type { Aedes, Client } from 'aedes';
import { connect, type NatsConnection, type Subscription } from 'nats';

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** NATS subject of an MQTT topic, or undefined when the topic cannot be carried. */
export function topicSubject(topic: string, retained: boolean): string | undefined {
  const levels = topic.split('/');
  if (!levels.every((l) => TOKEN.test(l))) return undefined;
  return `${retained ? 'mqttr' : 'mqtt'}.${levels.join('.')}`;
}

/** NATS subject filter of an MQTT filter, or undefined. */
export function filterSubject(filter: string): string | undefined {
  if (filter.startsWith('$')) return undefined;
  const levels = filter.split('/');
  const out: string[] = [];
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l === '#' && i === levels.length - 1) out.push('>');
    else if (l === '+') out.push('*');
    else if (TOKEN.test(l)) out.push(l);
    else return undefined;
  }
  return `mqtt.${out.join('.')}`;
}

function subjectTopic(subject: string): string {
  return subject.slice(subject.indexOf('.') + 1).split('.').join('/');
}

export interface MqttRelay {
  nc: NatsConnection;
  /** True for a packet that came from another broker (its own broker must not store or relay it again). */
  isRelayed(packet: { payload: unknown }): boolean;
  close(): Promise<void>;
}

export async function startMqttRelay(aedes: Aedes, o: { url: string; name: string; onError?: (err: Error) => void }): Promise<MqttRelay> {
  const nc = await connect({ servers: o.url.split(','), name: o.name, noEcho: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true });
  /** Payloads of messages that came from another broker (Aedes keeps the Buffer): not sent back out. */
  const relayed = new WeakSet<object>();
  const deliver = (subject: string, data: Uint8Array, retain: boolean) => {
    const payload = Buffer.from(data);
    relayed.add(payload);
    aedes.publish({ cmd: 'publish', topic: subjectTopic(subject), payload, qos: 1, retain, dup: false }, (err) => { if (err) o.onError?.(err); });
  };
  const retainedSub = nc.subscribe('mqttr.>', { callback: (err, msg) => { if (!err) deliver(msg.subject, msg.data, true); } });

  // interest: one NATS subscription per distinct filter of the connected clients, reference-counted
  const interest = new Map<string, { n: number; sub: Subscription }>();
  const held = new WeakMap<Client, Set<string>>();
  const add = (client: Client, filter: string) => {
    const subject = filterSubject(filter);
    if (!subject) return;
    let mine = held.get(client);
    if (!mine) held.set(client, (mine = new Set()));
    if (mine.has(subject)) return;
    mine.add(subject);
    const cur = interest.get(subject);
    if (cur) cur.n++;
    else interest.set(subject, { n: 1, sub: nc.subscribe(subject, { callback: (err, msg) => { if (!err) deliver(msg.subject, msg.data, false); } }) });
  };
  const drop = (client: Client, subject: string) => {
    const mine = held.get(client);
    if (!mine?.delete(subject)) return;
    const cur = interest.get(subject);
    if (cur && --cur.n === 0) {
      cur.sub.unsubscribe();
      interest.delete(subject);
    }
  };
  aedes.on('subscribe', (subs, client) => { for (const s of subs) add(client, s.topic); });
  aedes.on('unsubscribe', (topics, client) => {
    for (const t of topics) {
      const subject = filterSubject(t);
      if (subject) drop(client, subject);
    }
  });
  aedes.on('clientDisconnect', (client) => { for (const subject of [...(held.get(client) ?? [])]) drop(client, subject); });
  aedes.on('publish', (packet) => {
    if (packet.topic.startsWith('$') || relayed.has(packet.payload as object)) return;
    const subject = topicSubject(packet.topic, packet.retain);
    if (!subject) return;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    nc.publish(subject, payload);
    // a retained message also reaches the live subscribers of the other brokers, once (see deliver)
  });

  return {
    nc,
    isRelayed: (packet) => typeof packet.payload === 'object' && packet.payload !== null && relayed.has(packet.payload),
    close: async () => {
      retainedSub.unsubscribe();
      await nc.drain().catch(() => nc.close());
    },
  };
}
