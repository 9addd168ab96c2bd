/**
 * One device's MQTT connection, as a real device would hold it: client id = username = device
 * id, clean session, a retained "offline" last will on its status topic and a retained "online"
 * status after every (re)connect, telemetry at QoS 1 with a bounded number in flight. mqtt.js
 * keeps unacknowledged QoS 1 publishes across a reconnect and resends them; the callback fires
 * once, when the PUBACK finally arrives, so nothing is counted twice.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { deviceTopic, type DevicePlace } from '../core/contract.ts';

export type LinkState = 'online' | 'offline' | 'closed';

export interface LinkOptions {
  url: string;
  device: DevicePlace;
  password: string;
  connectTimeoutMs: number;
  reconnectPeriodMs: number;
  keepaliveS: number;
}

const OFFLINE = JSON.stringify({ state: 'offline' });

export interface DeviceLinkEvents {
  /** A reconnect completed. */
  online: [];
  /** The connection dropped (or was dropped on purpose). */
  offline: [];
}

export class DeviceLink extends EventEmitter<DeviceLinkEvents> {
  state: LinkState = 'online';
  inflight = 0;
  statusPublished = 0;
  statusAcked = 0;
  private readonly telemetryTopic: string;
  private readonly statusTopic: string;
  private readonly waiters: Array<() => void> = [];
  /** Dropped on purpose (a dropout) and waiting out the long reconnect period. */
  private dropped = false;

  private constructor(private readonly client: MqttClient, private readonly o: LinkOptions) {
    super();
    this.telemetryTopic = deviceTopic(o.device, 'telemetry');
    this.statusTopic = deviceTopic(o.device, 'status');
    client.on('connect', () => {
      this.state = 'online';
      this.emit('online');
      this.publishStatus('online');
    });
    client.on('close', () => {
      if (this.state === 'online') {
        this.state = 'offline';
        this.emit('offline');
      }
    });
    client.on('reconnect', () => {
      this.dropped = false;
      client.options.reconnectPeriod = o.reconnectPeriodMs;
    });
    // Errors after connecting (a refused reconnect, a socket error) are retried by mqtt.js.
    client.on('error', () => undefined);
  }

  /** Connects (fails after connectTimeoutMs or on a refused CONNECT) and announces "online". */
  static async open(o: LinkOptions): Promise<DeviceLink> {
    const client = await mqtt.connectAsync(o.url, {
      clientId: o.device.id, username: o.device.id, password: o.password, clean: true, protocolVersion: 4,
      keepalive: o.keepaliveS, connectTimeout: o.connectTimeoutMs, reconnectPeriod: o.reconnectPeriodMs,
      will: { topic: deviceTopic(o.device, 'status'), payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    }, false);
    const link = new DeviceLink(client, o);
    link.publishStatus('online');
    return link;
  }

  publishStatus(state: 'online' | 'offline'): Promise<boolean> {
    return new Promise((resolve) => {
      const payload = JSON.stringify({ state, ts: Date.now() });
      this.statusPublished++;
      this.client.publish(this.statusTopic, payload, { qos: 1, retain: true }, (err) => {
        if (!err) this.statusAcked++;
        resolve(!err);
      });
    });
  }

  /** Publishes telemetry at QoS 1; done runs once, on PUBACK or on failure. */
  publish(payload: string, done: (err?: Error) => void): void {
    this.inflight++;
    this.client.publish(this.telemetryTopic, payload, { qos: 1 }, (err) => {
      this.inflight--;
      this.wake();
      done(err ?? undefined);
    });
  }

  /** Resolves when fewer than max messages are in flight. */
  async capacity(max: number): Promise<void> {
    while (this.inflight >= max) await new Promise<void>((r) => this.waiters.push(r));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when nothing is in flight, or after timeoutMs; true when drained. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inflight > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }

  /**
   * Drops the connection abruptly (no DISCONNECT: the broker publishes the last will) and stays
   * away for about forMs before mqtt.js reconnects. Queued QoS 1 publishes are resent then.
   */
  dropConnection(forMs: number): void {
    if (this.state !== 'online') return;
    this.client.options.reconnectPeriod = Math.max(this.o.reconnectPeriodMs, Math.round(forMs));
    this.dropped = true;
    this.state = 'offline';
    this.emit('offline');
    this.client.stream.destroy();
  }

  /** Waits for outstanding acks (bounded), announces "offline", disconnects cleanly. */
  async close(drainTimeoutMs: number): Promise<boolean> {
    if (this.dropped && this.inflight > 0) {
      // Stopping in a dropout: come back now (same stores, so queued publishes are resent)
      // rather than let the acknowledgements wait for the end of the dropout.
      this.dropped = false;
      this.client.options.reconnectPeriod = this.o.reconnectPeriodMs;
      this.client.reconnect({ incomingStore: this.client.incomingStore, outgoingStore: this.client.outgoingStore });
    }
    const drained = await this.drain(drainTimeoutMs);
    // Without a connection the broker has already published the last will.
    if (this.client.connected) await within(this.publishStatus('offline'), drainTimeoutMs);
    this.state = 'closed';
    // A graceful end needs a connection to send DISCONNECT on.
    const graceful = drained && this.client.connected;
    await within(this.client.endAsync(!graceful).catch(() => undefined), drainTimeoutMs);
    if (!this.client.disconnected) await this.client.endAsync(true).catch(() => undefined);
    this.wake();
    return drained;
  }
}

/** Waits for p, at most ms (the timer does not outlive it). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<undefined>((r) => {
      t = setTimeout(() => r(undefined), ms);
    });
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
