/** Broker configuration from the environment: defaults here, validated once, frozen. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PlatformError } from '../core/errors.ts';
import { envTable, readEnv, SHARED_ENV, type EnvValues } from '../core/env.ts';
import { parsePersistenceUrl } from './persistence.ts';

const hostCheck = (v: string) => (/^[A-Za-z0-9.:_-]{1,253}$/.test(v) ? undefined : 'a host name or IP address to listen on');

export interface BrokerConfig {
  host: string;
  /** MQTT over TCP. */
  mqttPort: number;
  /** MQTT over WebSocket (path /mqtt); 0 picks a free port, -1 disables. */
  wsPort: number;
  /** Counters and health over HTTP (/metrics, /stats, /health); 0 picks a free port, -1 disables. */
  httpPort: number;
  credentialsFile: string;
  /** Largest MQTT packet accepted (fixed header + body); larger ones close the connection. */
  maxPacketBytes: number;
  maxTopicLevels: number;
  /** Inbound QoS 2 messages in flight per client (Aedes maxInflightInbound). */
  maxInflightInbound: number;
  /** Messages queued for a client while it is still connecting (Aedes queueLimit). */
  queueLimit: number;
  /** A subscriber whose socket does not drain within this time is disconnected (not durable consumers: broker/backpressure.ts). */
  drainTimeoutMs: number;
  /** Session queue of a durable consumer (ingest) above which device publishes wait for it; 0 = no cap. */
  consumerQueueMax: number;
  connectTimeoutMs: number;
  /** Failed logins of one account within the window before its logins are delayed (broker/login-throttle.ts). */
  authFreeFailures: number;
  authWindowMs: number;
  /** Longest delay between two checks of a chosen secret under attack (and longest held refusal). */
  authDelayMaxMs: number;
  /** Failed logins from one address within the window before its refusals are held back too. */
  authAddressFailures: number;
  /** PEM certificate chain and private key; when both are set, MQTT over TLS and WebSocket over TLS listen too. */
  tlsCertFile: string;
  tlsKeyFile: string;
  /** MQTT over TLS (mqtts); only with a certificate; 0 picks a free port, -1 disables. */
  tlsPort: number;
  /** MQTT over secure WebSocket (wss, path /mqtt); only with a certificate; 0 picks a free port, -1 disables. */
  wssPort: number;
  /** Session persistence: '' = in memory (lost on restart), redis://host:port/db = durable (broker/persistence.ts). */
  persistenceUrl: string;
  /** Cluster profile: NATS servers (comma-separated nats:// URLs); '' = off (embedded default). broker/aedes/jetstream-stage.ts. */
  jetstreamUrl: string;
  /** Partitions of the TELE stream (device id hash); the same value for every broker and ingest worker. */
  jetstreamPartitions: number;
  /** Replicas of the TELE stream (3 on a 3-server cluster). */
  jetstreamReplicas: number;
  /** TELE stream limit; above it publishes fail and devices get no PUBACK (discard:new). */
  jetstreamMaxBytes: number;
  /** Window within which a resend (same Nats-Msg-Id) is stored once. */
  jetstreamDedupWindowMs: number;
  /** Longest wait for JetStream's ack of one publish before it is tried again. */
  jetstreamAckTimeoutMs: number;
}

/** Every variable the broker reads: default, range and meaning (the README table is generated from it). */
export const BROKER_ENV = envTable({
  BROKER_HOST: { type: 'text', default: '127.0.0.1', check: hostCheck, doc: 'listen address of all listeners' },
  MQTT_PORT: { type: 'int', default: 1883, range: [0, 65535], doc: 'MQTT over TCP; `0` any free port' },
  MQTT_WS_PORT: { type: 'int', default: 8083, range: [-1, 65535], doc: 'MQTT over WebSocket at `/mqtt`; `0` any free port, `-1` off' },
  BROKER_HTTP_PORT: { type: 'int', default: 9101, range: [-1, 65535], doc: '`/health`, `/metrics` (Prometheus), `/stats` (JSON); `-1` off' },
  MQTT_CREDENTIALS_FILE: { type: 'path', default: 'data/secrets/mqtt-credentials.json', doc: 'hashed credentials (`broker/credentials.ts` has the format); SIGHUP reloads it' },
  MQTT_MAX_PACKET_BYTES: { type: 'int', default: 512 * 1024, range: [64, 256 * 1024 * 1024], unit: 'bytes', doc: "larger packets close the connection at their fixed header (the contract's 256 KiB payload + topic and headers, with room)" },
  MQTT_MAX_TOPIC_LEVELS: { type: 'int', default: 16, range: [7, 100], unit: 'count', doc: 'deeper topics are refused by Aedes' },
  MQTT_MAX_INFLIGHT: { type: 'int', default: 100, range: [1, 65535], unit: 'messages', doc: 'inbound QoS 2 messages in flight per client' },
  MQTT_QUEUE_LIMIT: { type: 'int', default: 100, range: [1, 100_000], unit: 'messages', doc: 'messages queued for a client while it connects' },
  MQTT_DRAIN_TIMEOUT_MS: { type: 'int', default: 30_000, range: [0, 3_600_000], unit: 'ms', doc: 'a subscriber whose socket does not drain is cut (protects the others); not a durable consumer (service account with a persistent session, i.e. ingest): its full socket holds the publishing devices back instead (`backpressure.ts`)' },
  MQTT_CONSUMER_QUEUE_MAX: { type: 'int', default: 100_000, range: [0, 100_000_000], unit: 'messages', doc: 'messages queued for a durable consumer (while it is away, or sent and not yet acknowledged) above which device publishes wait for their PUBACK; `0` = no cap (~85 MB at the default in the memory profile)' },
  MQTT_CONNECT_TIMEOUT_MS: { type: 'int', default: 10_000, range: [100, 600_000], unit: 'ms', doc: 'time allowed between TCP connect and CONNECT' },
  MQTT_AUTH_FREE_FAILURES: { type: 'int', default: 5, range: [0, 1_000_000], unit: 'count', doc: 'failed logins of one account within the window before its chosen (scrypt) secret is checked only at spaced turns and its refusals are answered late (`login-throttle.ts`); generated secrets are always checked at once' },
  MQTT_AUTH_WINDOW_MS: { type: 'int', default: 60_000, range: [1000, 86_400_000], unit: 'ms', doc: 'the window of `MQTT_AUTH_FREE_FAILURES` and `MQTT_AUTH_ADDRESS_FAILURES`' },
  MQTT_AUTH_DELAY_MAX_MS: { type: 'int', default: 10_000, range: [250, 60_000], unit: 'ms', doc: 'the longest spacing between two checks of an attacked chosen secret (≈ 60 s / this = guesses a minute) and the longest held refusal' },
  MQTT_AUTH_ADDRESS_FAILURES: { type: 'int', default: 1000, range: [1, 100_000_000], unit: 'count', doc: 'failed logins from one address within the window before its refusals are held back too (never blocked: a factory shares one NAT address)' },
  MQTT_TLS_CERT_FILE: { type: 'path', default: '', doc: 'PEM certificate chain. With `MQTT_TLS_KEY_FILE`: MQTT over TLS and over secure WebSocket listen too (TLS ≥ 1.2), with the same authentication, ACL and packet guard; one without the other or an unreadable file stops the start' },
  MQTT_TLS_KEY_FILE: { type: 'path', default: '', doc: 'PEM private key of that certificate' },
  MQTT_TLS_PORT: { type: 'int', default: 8883, range: [-1, 65535], doc: 'MQTT over TLS (`mqtts://`), only with a certificate; `0` any free port, `-1` off' },
  MQTT_WSS_PORT: { type: 'int', default: 8084, range: [-1, 65535], doc: 'MQTT over secure WebSocket (`wss://HOST:8084/mqtt`), only with a certificate; `0` any free port, `-1` off' },
  MQTT_PERSISTENCE_URL: { type: 'text', default: '', doc: 'where sessions live (subscriptions and queued messages of persistent sessions, retained messages, wills). Unset (or `memory`): in process memory, lost when the broker stops. `redis://[user:password@]host[:port][/db]` (`rediss://` for TLS): in Redis, durable — see *Durable profile* below. Anything else, or a Redis that cannot be reached, stops the start with a message naming the key' },
  MQTT_JETSTREAM_URL: { type: 'text', default: '', check: (v) => (v.split(',').every((u) => /^nats:\/\/[^\s,]+$/.test(u)) ? undefined : 'comma-separated nats://host:port URLs'), doc: 'cluster profile: the NATS servers (comma-separated `nats://host:port`). Set: every authorised device telemetry/status publish is written to the JetStream stream `TELE` and its PUBACK leaves only after JetStream\'s ack (`aedes/jetstream-stage.ts`, docs/cluster.md). Unset: the embedded default' },
  MQTT_JETSTREAM_PARTITIONS: { type: 'int', default: 16, range: [1, 1024], unit: 'count', doc: 'partitions of `TELE` (hash of the device id); the same on every broker and ingest worker (a stream made for another count stops the start: `SP_ERR_NATS_STREAM`)' },
  MQTT_JETSTREAM_REPLICAS: { type: 'int', default: 3, range: [1, 5], unit: 'count', doc: 'replicas of `TELE` (R3 on a 3-server cluster)' },
  MQTT_JETSTREAM_MAX_BYTES: { type: 'int', default: 1024 ** 3, range: [1024 * 1024, 2 ** 50], unit: 'bytes', doc: 'limit of `TELE` (discard:new): at it, device publishes get no PUBACK until the workers have caught up' },
  MQTT_JETSTREAM_DEDUP_WINDOW_MS: { type: 'int', default: 120_000, range: [1000, 86_400_000], unit: 'ms', doc: 'a resend (same topic and payload: same `Nats-Msg-Id`) within this window is stored once' },
  MQTT_JETSTREAM_ACK_TIMEOUT_MS: { type: 'int', default: 5000, range: [100, 600_000], unit: 'ms', doc: "longest wait for JetStream's ack of one publish before it is tried again (the device waits for its PUBACK meanwhile)" },
  SPARKPLUG_CONFIG: { type: 'path', default: 'config/sparkplug.yaml', doc: 'the Sparkplug B mapping, read for its edge-node and host accounts and their ACL ([docs/sparkplug.md](../docs/sparkplug.md)); `none`: no Sparkplug accounts' },
  ...SHARED_ENV,
});

/** Which table entry each field of BrokerConfig comes from. */
const FIELDS = {
  host: 'BROKER_HOST', mqttPort: 'MQTT_PORT', wsPort: 'MQTT_WS_PORT', httpPort: 'BROKER_HTTP_PORT',
  credentialsFile: 'MQTT_CREDENTIALS_FILE', maxPacketBytes: 'MQTT_MAX_PACKET_BYTES', maxTopicLevels: 'MQTT_MAX_TOPIC_LEVELS',
  maxInflightInbound: 'MQTT_MAX_INFLIGHT', queueLimit: 'MQTT_QUEUE_LIMIT', drainTimeoutMs: 'MQTT_DRAIN_TIMEOUT_MS',
  consumerQueueMax: 'MQTT_CONSUMER_QUEUE_MAX', connectTimeoutMs: 'MQTT_CONNECT_TIMEOUT_MS', authFreeFailures: 'MQTT_AUTH_FREE_FAILURES',
  authWindowMs: 'MQTT_AUTH_WINDOW_MS', authDelayMaxMs: 'MQTT_AUTH_DELAY_MAX_MS', authAddressFailures: 'MQTT_AUTH_ADDRESS_FAILURES',
  tlsCertFile: 'MQTT_TLS_CERT_FILE', tlsKeyFile: 'MQTT_TLS_KEY_FILE', tlsPort: 'MQTT_TLS_PORT', wssPort: 'MQTT_WSS_PORT',
  persistenceUrl: 'MQTT_PERSISTENCE_URL',
  jetstreamUrl: 'MQTT_JETSTREAM_URL', jetstreamPartitions: 'MQTT_JETSTREAM_PARTITIONS', jetstreamReplicas: 'MQTT_JETSTREAM_REPLICAS',
  jetstreamMaxBytes: 'MQTT_JETSTREAM_MAX_BYTES', jetstreamDedupWindowMs: 'MQTT_JETSTREAM_DEDUP_WINDOW_MS', jetstreamAckTimeoutMs: 'MQTT_JETSTREAM_ACK_TIMEOUT_MS',
} as const satisfies Record<keyof BrokerConfig, keyof typeof BROKER_ENV>;

function fromValues(v: EnvValues<typeof BROKER_ENV>): BrokerConfig {
  const c = {} as Record<string, unknown>;
  for (const [field, name] of Object.entries(FIELDS)) c[field] = v[name];
  return c as unknown as BrokerConfig;
}

export const DEFAULTS: Readonly<BrokerConfig> = Object.freeze(fromValues(readEnv(BROKER_ENV, {})));

/** Both TLS files or neither; each readable and PEM of the right kind. */
function checkTls(c: BrokerConfig): void {
  const cert = FIELDS.tlsCertFile;
  const key = FIELDS.tlsKeyFile;
  if (!c.tlsCertFile && !c.tlsKeyFile) return;
  if (!c.tlsCertFile || !c.tlsKeyFile) {
    const [set, unset] = c.tlsCertFile ? [cert, key] : [key, cert];
    throw new PlatformError('SP_ERR_CONFIG', `${unset} is not set but ${set} is: expected both (certificate chain and private key, PEM) or neither`);
  }
  for (const [env, file, marker] of [[cert, c.tlsCertFile, 'CERTIFICATE'], [key, c.tlsKeyFile, 'PRIVATE KEY']] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new PlatformError('SP_ERR_CONFIG', `${env}=${JSON.stringify(file)}: expected a readable PEM file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (!new RegExp(`-----BEGIN [A-Z ]*${marker}-----`).test(text)) {
      throw new PlatformError('SP_ERR_CONFIG', `${env}=${JSON.stringify(file)}: expected a PEM ${marker.toLowerCase()} (no "-----BEGIN …${marker}-----" line)`);
    }
  }
}

export function brokerConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<BrokerConfig> = {}): Readonly<BrokerConfig> {
  const c: BrokerConfig = { ...fromValues(readEnv(BROKER_ENV, env, 'broker environment')), ...overrides };
  c.credentialsFile = resolve(c.credentialsFile);
  checkTls(c);
  parsePersistenceUrl(c.persistenceUrl); // throws naming MQTT_PERSISTENCE_URL, its value and what is expected
  return Object.freeze(c);
}
