/**
 * Each device's status as the gateway last saw it, published on the device's status topic
 * (retained, QoS 1, core/contract.ts StatusMessage) when it changes. While the broker is away
 * nothing is queued: on every (re)connect the current status of every device is published again,
 * because the broker marks a gateway's devices offline when the gateway's connection ends.
 */
import { deviceTopic, type DevicePlace, type StatusMessage } from '../core/contract.ts';

export type PublishStatus = (topic: string, payload: string) => void;

interface Entry { place: DevicePlace; msg?: StatusMessage }

export class StatusBoard {
  private readonly entries = new Map<string, Entry>();
  published = 0;

  constructor(devices: Iterable<DevicePlace>, private readonly publish: PublishStatus, private readonly connected: () => boolean) {
    for (const d of devices) this.entries.set(d.id, { place: d });
  }

  set(device: string, state: 'online' | 'offline', info: string, ts = Date.now()): void {
    const e = this.entries.get(device);
    if (!e) return;
    e.msg = { state, ts, ...(info ? { info: info.slice(0, 256) } : {}) };
    if (this.connected()) this.send(e);
  }

  /** After a (re)connect: every known status again. */
  announce(): void {
    for (const e of this.entries.values()) if (e.msg) this.send(e);
  }

  private send(e: Entry): void {
    this.published++;
    this.publish(deviceTopic(e.place, 'status'), JSON.stringify(e.msg));
  }

  count(state: 'online' | 'offline'): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.msg?.state === state) n++;
    return n;
  }

  get(device: string): StatusMessage | undefined {
    return this.entries.get(device)?.msg;
  }

  devices(): string[] {
    return [...this.entries.keys()];
  }
}
