/** Broker configuration from the environment: defaults here, validated once, frozen. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PlatformError } from '../core/errors.ts';
import { parsePersistenceUrl } from './persistence.ts';

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
}

export const DEFAULTS: Readonly<BrokerConfig> = Object.freeze({
  host: '127.0.0.1',
  mqttPort: 1883,
  wsPort: 8083,
  httpPort: 9101,
  credentialsFile: 'data/secrets/mqtt-credentials.json',
  maxPacketBytes: 512 * 1024, // 512 KiB: the contract's 256 KiB payload + topic and headers, with room
  maxTopicLevels: 16,
  maxInflightInbound: 100,
  queueLimit: 100,
  drainTimeoutMs: 30_000,
  consumerQueueMax: 100_000, // messages (~85 MB in the memory profile at 200 B each)
  connectTimeoutMs: 10_000,
  authFreeFailures: 5,
  authWindowMs: 60_000,
  authDelayMaxMs: 10_000,
  authAddressFailures: 1000,
  tlsCertFile: '',
  tlsKeyFile: '',
  tlsPort: 8883,
  wssPort: 8084,
  persistenceUrl: '',
});

const ENV: Record<keyof BrokerConfig, string> = {
  host: 'BROKER_HOST', mqttPort: 'MQTT_PORT', wsPort: 'MQTT_WS_PORT', httpPort: 'BROKER_HTTP_PORT',
  credentialsFile: 'MQTT_CREDENTIALS_FILE', maxPacketBytes: 'MQTT_MAX_PACKET_BYTES', maxTopicLevels: 'MQTT_MAX_TOPIC_LEVELS',
  maxInflightInbound: 'MQTT_MAX_INFLIGHT', queueLimit: 'MQTT_QUEUE_LIMIT', drainTimeoutMs: 'MQTT_DRAIN_TIMEOUT_MS',
  connectTimeoutMs: 'MQTT_CONNECT_TIMEOUT_MS', authFreeFailures: 'MQTT_AUTH_FREE_FAILURES', authWindowMs: 'MQTT_AUTH_WINDOW_MS',
  authDelayMaxMs: 'MQTT_AUTH_DELAY_MAX_MS', authAddressFailures: 'MQTT_AUTH_ADDRESS_FAILURES',
  tlsCertFile: 'MQTT_TLS_CERT_FILE', tlsKeyFile: 'MQTT_TLS_KEY_FILE', tlsPort: 'MQTT_TLS_PORT', wssPort: 'MQTT_WSS_PORT',
  persistenceUrl: 'MQTT_PERSISTENCE_URL', consumerQueueMax: 'MQTT_CONSUMER_QUEUE_MAX',
};

const RANGES: Partial<Record<keyof BrokerConfig, [number, number]>> = {
  mqttPort: [0, 65535], wsPort: [-1, 65535], httpPort: [-1, 65535], maxPacketBytes: [64, 256 * 1024 * 1024],
  maxTopicLevels: [7, 100], maxInflightInbound: [1, 65535], queueLimit: [1, 100_000], drainTimeoutMs: [0, 3_600_000], consumerQueueMax: [0, 100_000_000],
  connectTimeoutMs: [100, 600_000], authFreeFailures: [0, 1_000_000], authWindowMs: [1000, 86_400_000],
  authDelayMaxMs: [250, 60_000], authAddressFailures: [1, 100_000_000],
  tlsPort: [-1, 65535], wssPort: [-1, 65535],
};

/** Both TLS files or neither; each readable and PEM of the right kind. */
function checkTls(c: BrokerConfig): void {
  const cert = ENV.tlsCertFile;
  const key = ENV.tlsKeyFile;
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
  const c: BrokerConfig = { ...DEFAULTS };
  for (const key of Object.keys(ENV) as (keyof BrokerConfig)[]) {
    const raw = env[ENV[key]];
    if (raw === undefined || raw === '') continue;
    if (typeof DEFAULTS[key] === 'number') {
      const n = Number(raw);
      const [lo, hi] = RANGES[key]!;
      if (!Number.isInteger(n) || n < lo || n > hi) {
        throw new PlatformError('SP_ERR_CONFIG', `${ENV[key]}=${JSON.stringify(raw)}: expected an integer from ${lo} to ${hi}`);
      }
      (c as unknown as Record<string, number>)[key] = n;
    } else (c as unknown as Record<string, string>)[key] = raw;
  }
  Object.assign(c, overrides);
  c.credentialsFile = resolve(c.credentialsFile);
  checkTls(c);
  parsePersistenceUrl(c.persistenceUrl); // throws naming MQTT_PERSISTENCE_URL, its value and what is expected
  return Object.freeze(c);
}
