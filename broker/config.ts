/** Broker configuration from the environment: defaults here, validated once, frozen. */
import { resolve } from 'node:path';
import { PlatformError } from '../core/errors.ts';

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
  /** A subscriber whose socket does not drain within this time is disconnected. */
  drainTimeoutMs: number;
  connectTimeoutMs: number;
  /** Failed logins from one address within the window before it is blocked for the window. */
  authMaxFailures: number;
  authWindowMs: number;
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
  connectTimeoutMs: 10_000,
  authMaxFailures: 20,
  authWindowMs: 60_000,
});

const ENV: Record<keyof BrokerConfig, string> = {
  host: 'BROKER_HOST', mqttPort: 'MQTT_PORT', wsPort: 'MQTT_WS_PORT', httpPort: 'BROKER_HTTP_PORT',
  credentialsFile: 'MQTT_CREDENTIALS_FILE', maxPacketBytes: 'MQTT_MAX_PACKET_BYTES', maxTopicLevels: 'MQTT_MAX_TOPIC_LEVELS',
  maxInflightInbound: 'MQTT_MAX_INFLIGHT', queueLimit: 'MQTT_QUEUE_LIMIT', drainTimeoutMs: 'MQTT_DRAIN_TIMEOUT_MS',
  connectTimeoutMs: 'MQTT_CONNECT_TIMEOUT_MS', authMaxFailures: 'MQTT_AUTH_MAX_FAILURES', authWindowMs: 'MQTT_AUTH_WINDOW_MS',
};

const RANGES: Partial<Record<keyof BrokerConfig, [number, number]>> = {
  mqttPort: [0, 65535], wsPort: [-1, 65535], httpPort: [-1, 65535], maxPacketBytes: [64, 256 * 1024 * 1024],
  maxTopicLevels: [7, 100], maxInflightInbound: [1, 65535], queueLimit: [1, 100_000], drainTimeoutMs: [0, 3_600_000],
  connectTimeoutMs: [100, 600_000], authMaxFailures: [1, 1_000_000], authWindowMs: [1000, 86_400_000],
};

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
  return Object.freeze(c);
}
