/**
 * The API's one MQTT connection: logs in as the service account (svc-api by default), subscribes
 * to every device's status and, while a live client listens, telemetry (QoS 0: the live view
 * wants the newest, not every redelivery) and feeds a LiveHub. Emits the mqtt.js client's events for the entry to log.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { ALARM_TOPIC } from '../core/alarms/events.ts';
import { ALL_STATUS, ALL_TELEMETRY } from '../core/contract.ts';
import type { ApiConfig } from './config.ts';
import type { LiveHub } from './live-hub.ts';

export interface MqttFeed {
  readonly client: MqttClient;
  close(): Promise<void>;
}

export function connectMqttFeed(cfg: ApiConfig['mqtt'], hub: LiveHub): MqttFeed {
  const client = mqtt.connect(cfg.url, {
    username: cfg.username,
    password: cfg.password,
    clientId: cfg.clientId,
    clean: true,
    resubscribe: false, // subscribed on every connect below
    reconnectPeriod: 2_000, // ms
    connectTimeout: 10_000, // ms
    protocolVersion: 4, // Aedes 1.x speaks MQTT 3.1.1
  });
  // telemetry only while a live client listens (hub.watchListeners); status and alarms always
  const telemetry = (on: boolean): Promise<void> => {
    if (!client.connected) return Promise.resolve(); // the next connect subscribes as needed
    return (on ? client.subscribeAsync({ [ALL_TELEMETRY]: { qos: 0 } }) : client.unsubscribeAsync(ALL_TELEMETRY)).then(() => {});
  };
  hub.watchListeners(telemetry);
  client.on('connect', () => {
    // alarms at QoS 1: a WebSocket client should not miss a raise the broker delivered
    const topics = { [ALL_STATUS]: { qos: 0 as const }, [ALARM_TOPIC]: { qos: 1 as const }, ...(hub.listening ? { [ALL_TELEMETRY]: { qos: 0 as const } } : {}) };
    client.subscribe(topics, (err, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (err) hub.setConnected(false, `subscribe failed: ${err.message}`);
      else if (refused.length > 0) hub.setConnected(false, `broker refused the subscription to ${refused.join(', ')}`);
      else hub.setConnected(true);
    });
  });
  client.on('message', (topic, payload) => hub.handle(topic, payload));
  client.on('close', () => hub.setConnected(false, 'disconnected from the broker'));
  client.on('error', (e) => hub.setConnected(false, e.message));
  return {
    client,
    close: () => new Promise<void>((resolve) => { client.end(false, {}, () => resolve()); }),
  };
}
