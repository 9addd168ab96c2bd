/**
 * Wires the gateway: field lines -> readings appended to the on-disk buffer -> forwarder ->
 * MQTT (QoS 1, the gateway's own account) -> PUBACK -> buffer checkpoint; device status on
 * transitions and after each reconnect; counters over HTTP.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { DevicePlace } from '../core/contract.ts';
import type { GatewaySpec } from '../core/fieldbus/config.ts';
import { Registry } from '../core/metrics.ts';
import { ReadingBuffer } from './buffer.ts';
import type { GatewayEnvConfig } from './config.ts';
import { buildField } from './field.ts';
import { encodeRecord, Forwarder } from './forwarder.ts';
import { endClient } from '../core/shutdown.ts';
import { startStatsServer } from '../core/stats-http.ts';
import { StatusBoard } from './status.ts';

export interface GatewayEvents {
  info?: (msg: string, data?: object) => void;
  warn?: (msg: string, data?: object) => void;
}

export interface RunningGateway {
  metrics: Registry;
  httpPort: number;
  stats(): Record<string, unknown>;
  stop(drainMs?: number): Promise<void>;
}

export function describeGatewayMetrics(m: Registry): Registry {
  return m
    .describe('gateway_readings_buffered_total', 'Readings written to the on-disk buffer')
    .describe('gateway_readings_sent_total', 'Readings handed to MQTT (again after a rewind)')
    .describe('gateway_readings_acked_total', 'Readings whose publish the broker acknowledged (PUBACK)')
    .describe('gateway_readings_dropped_total', 'Readings deleted unacknowledged at the buffer bound (oldest segment first)')
    .describe('gateway_readings_expired_total', 'Readings too old for ingest (7 days) when their turn came; not sent')
    .describe('gateway_requests_total', 'Field requests sent, by connection')
    .describe('gateway_request_errors_total', 'Field requests failed, by connection and kind (timeout, exception, crc, bad-frame, connection)')
    .describe('gateway_request_timeouts_total', 'Field requests unanswered within timeoutMs, by connection')
    .describe('gateway_polls_skipped_total', 'Poll ticks skipped, by reason: backoff (device failing), overrun (previous poll still pending), disconnected');
}

export async function startGateway(cfg: Readonly<GatewayEnvConfig>, spec: GatewaySpec, ev: GatewayEvents = {}): Promise<RunningGateway> {
  const metrics = describeGatewayMetrics(new Registry({ processMetrics: true }));
  const places = new Map<string, DevicePlace>();
  for (const c of spec.connections) for (const b of c.devices) places.set(b.device.id, b.device);

  const buffer = new ReadingBuffer({ dir: cfg.bufferDir, maxBytes: cfg.bufferMaxBytes, segmentBytes: cfg.bufferSegmentBytes, warnRatio: cfg.bufferWarnRatio });
  buffer.on('filling', (i) => ev.warn?.('buffer filling up: the broker is away or not acknowledging; at the bound the oldest readings are dropped', i));
  buffer.on('dropped', (i) => ev.warn?.('buffer at its bound: oldest segment dropped', i));
  buffer.on('writeError', (err, records) => ev.warn?.('buffer write failed; readings lost', { err: err.message, records }));
  if (buffer.pendingRecords > 0) ev.info?.('buffer holds readings from before the restart; sending them first', { readings: buffer.pendingRecords, bytes: buffer.pendingBytes });

  const client: MqttClient = mqtt.connect(cfg.mqttUrl, {
    clientId: cfg.gatewayId, username: cfg.gatewayId, password: cfg.mqttPassword, clean: true, protocolVersion: 4,
    keepalive: cfg.mqttKeepaliveS, reconnectPeriod: cfg.mqttReconnectMs, connectTimeout: cfg.mqttConnectTimeoutMs,
    ...(/mqttjs/.test(process.env.DEBUG ?? '') ? {} : { log: () => {} }),
  });
  const connected = () => client.connected;
  const forwarder = new Forwarder({
    buffer, devices: places, connected, maxInflight: cfg.maxInflight, chunkBytes: cfg.drainChunkBytes,
    limits: cfg.limits, expiryMarginMs: cfg.expiryMarginMs,
    publish: (topic, payload, done) => client.publish(topic, payload, { qos: 1 }, (err) => done(err ?? undefined)),
  });
  const status = new StatusBoard(places.values(), (topic, payload) => client.publish(topic, payload, { qos: 1, retain: true }, () => {}), connected);
  buffer.on('appended', () => forwarder.pump());
  client.on('connect', () => {
    ev.info?.('connected to the broker', { url: cfg.mqttUrl, inflight: forwarder.inflight, buffered: buffer.pendingRecords });
    status.announce();
    forwarder.pump();
  });
  client.on('offline', () => ev.warn?.('broker unreachable; readings are kept in the buffer', { buffered: buffer.pendingRecords }));
  client.on('error', (err) => ev.warn?.('mqtt error', { err: err.message }));

  const refusedOnce = new Set<string>();
  // seq = the reading's slot on the device's interval grid (ts ÷ intervalMs), on the readings of
  // the poll group at the device's interval only: restart-proof, and what the platform's loss and
  // completeness accounting counts (count of seq × interval), exactly as for a device's own seq.
  const intervalOf = new Map(spec.connections.flatMap((c) => c.devices.map((b) => [b.device.id, b.device.intervalMs] as const)));
  const field = buildField(spec, metrics, {
    reading: (device, ts, m, groupMs) => {
      const deviceMs = intervalOf.get(device);
      buffer.append(encodeRecord(device, ts, m, groupMs === deviceMs ? Math.floor(ts / groupMs) : undefined));
      metrics.inc('gateway_device_readings_total', { device });
    },
    status: (device, state, info) => {
      status.set(device, state, info);
      metrics.inc('gateway_device_transitions_total', { device, state });
    },
    // a value refused every poll is logged once (a register map that does not fit the device), then counted only
    pointErrors: (device, errors) => {
      for (const e of errors) {
        const key = `${device} ${e.replace(/-?\d[\d.e+-]*/g, '#')}`;
        if (refusedOnce.has(key) || refusedOnce.size > 1000) continue;
        refusedOnce.add(key);
        ev.warn?.('point value refused; the reading goes out without it', { device, error: e });
      }
    },
  });

  const c = forwarder.counts;
  const gauges: Record<string, () => number> = {
    gateway_readings_buffered_total: () => buffer.counts.appended,
    gateway_readings_sent_total: () => c.sent,
    gateway_readings_acked_total: () => c.acked,
    gateway_readings_dropped_total: () => buffer.counts.dropped + buffer.counts.lostToWriteErrors,
    gateway_readings_expired_total: () => c.expired,
    gateway_publishes_total: () => c.publishes,
    gateway_publishes_inflight: () => forwarder.inflight,
    gateway_buffer_pending_readings: () => buffer.pendingRecords,
    gateway_buffer_pending_bytes: () => buffer.pendingBytes,
    gateway_buffer_disk_bytes: () => buffer.diskBytes,
    gateway_buffer_max_bytes: () => cfg.bufferMaxBytes,
    gateway_devices_online: () => status.count('online'),
    gateway_devices_offline: () => status.count('offline'),
    gateway_connections_up: () => field.filter((f) => f.socket.connected).length,
    gateway_mqtt_connected: () => (client.connected ? 1 : 0),
  };
  for (const [name, read] of Object.entries(gauges)) metrics.gauge(name, read);

  const stats = () => ({
    ...metrics.toJSON(), gateway: cfg.gatewayId, connected: client.connected,
    devices: Object.fromEntries(status.devices().map((d) => [d, status.get(d) ?? null])),
  });
  const http = await startStatsServer(cfg.httpPort, cfg.httpHost, metrics, stats, () => (client.connected
    ? { ok: true, status: 'ok' } : { ok: false, status: 'mqtt-disconnected' }));
  for (const f of field) f.line.start();

  return {
    metrics, httpPort: http?.port ?? -1, stats,
    stop: async (drainMs = 2000) => {
      await Promise.all(field.map((f) => f.line.stop())); // no new readings; the jobs in progress finish
      buffer.flush();
      forwarder.pump();
      const deadline = Date.now() + drainMs;
      while (client.connected && (forwarder.inflight > 0 || buffer.pendingRecords > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      forwarder.stop();
      for (const d of status.devices()) status.set(d, 'offline', 'gateway stopped');
      await endClient(client); // after the status publishes' PUBACKs, or closed after 1 s
      buffer.close(); // what is not acknowledged stays for the next start
      await http?.close();
    },
  };
}
