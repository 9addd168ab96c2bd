/**
 * Disable, enable and rotate the secret of a device, with effect on the running broker.
 *
 * The broker's mechanism is used as it is: it checks devices against its credential store
 * (MQTT_CREDENTIALS_FILE, format in broker/credentials.ts: `devices.<id>` = a hash) and reloads
 * the file on SIGHUP. So a change here is (1) the store file rewritten atomically (temp + rename,
 * 0600), with only `devices.<id>` changed, (2) SIGHUP to the pid in CONSOLE_BROKER_PID_FILE,
 * (3) the device's open session taken over: we connect with its client id and the secret now in
 * force, which makes the broker close the older connection [MQTT-3.1.4-3], and leave at once.
 * The device then cannot get back in with the old secret.
 *
 * Disabled = the hash replaced by that of a random secret nobody keeps (the device stays in the
 * store, so `npm run credentials`/`npm run up` do not hand it a fresh one); the real hash is kept
 * in `disabled-devices.json` beside the store and put back by enable — unless the hash was changed
 * meanwhile (a rotation while disabled), which then stays.
 */
import { readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import mqtt from 'mqtt';
import { generateSecret, hashSecret } from '../../core/secrets.ts';

export interface DisabledEntry { hash: string | null; placeholder: string; at: number; by: string }
export interface DeviceAdminOptions {
  credentialsFile: string;
  /** Where the broker's pid is written (scripts/supervisor.ts writes data/run/broker.pid); unset: no reload signal. */
  brokerPidFile?: string;
  /** The broker, for taking over a device's open session; unset: not done. */
  mqttUrl?: string;
  /** How long to try the takeover after the reload signal. */
  takeoverTimeoutMs?: number;
}

/** What happened on the broker: reloaded (signalled) and the device's open session closed. */
export interface BrokerEffect { reloaded: boolean; sessionClosed: boolean; note?: string }

export class DeviceAdmin {
  private readonly stateFile: string;
  constructor(private readonly o: DeviceAdminOptions) {
    this.stateFile = join(dirname(o.credentialsFile), 'disabled-devices.json');
  }

  private readJson<T>(file: string, absent: T): T {
    if (!existsSync(file)) return absent;
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  }

  private writeJson(file: string, data: unknown): void {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** Disabled devices, with who disabled them and when. */
  disabled(): Record<string, { at: number; by: string }> {
    const all = this.readJson<Record<string, DisabledEntry>>(this.stateFile, {});
    return Object.fromEntries(Object.entries(all).map(([id, e]) => [id, { at: e.at, by: e.by }]));
  }

  /** Replaces `devices.<id>` in the store, leaving every other entry as it is. */
  private setHash(id: string, hash: string | null): string | undefined {
    const store = this.readJson<{ devices?: Record<string, string> }>(this.o.credentialsFile, {});
    const before = store.devices?.[id];
    const devices = { ...store.devices };
    if (hash === null) delete devices[id];
    else devices[id] = hash;
    store.devices = devices;
    this.writeJson(this.o.credentialsFile, store);
    return before;
  }

  async disable(id: string, by: string): Promise<BrokerEffect & { already: boolean }> {
    const state = this.readJson<Record<string, DisabledEntry>>(this.stateFile, {});
    if (state[id]) return { already: true, reloaded: false, sessionClosed: false };
    const secret = generateSecret(); // known only here, for the takeover, then forgotten
    const placeholder = hashSecret(secret);
    const before = this.setHash(id, placeholder);
    this.writeJson(this.stateFile, { ...state, [id]: { hash: before ?? null, placeholder, at: Date.now(), by } });
    return { already: false, ...(await this.apply(id, secret)) };
  }

  async enable(id: string): Promise<BrokerEffect & { already: boolean }> {
    const state = this.readJson<Record<string, DisabledEntry>>(this.stateFile, {});
    const e = state[id];
    if (!e) return { already: true, reloaded: false, sessionClosed: false };
    const store = this.readJson<{ devices?: Record<string, string> }>(this.o.credentialsFile, {});
    if (store.devices?.[id] === e.placeholder) this.setHash(id, e.hash);
    delete state[id];
    this.writeJson(this.stateFile, state);
    return { already: false, reloaded: this.signal(), sessionClosed: false };
  }

  /** A new generated secret for the device (returned once, stored only as a hash); enables it too. */
  async rotate(id: string): Promise<BrokerEffect & { secret: string }> {
    const state = this.readJson<Record<string, DisabledEntry>>(this.stateFile, {});
    if (state[id]) {
      delete state[id];
      this.writeJson(this.stateFile, state);
    }
    const secret = generateSecret();
    this.setHash(id, hashSecret(secret));
    return { secret, ...(await this.apply(id, secret)) };
  }

  private signal(): boolean {
    if (!this.o.brokerPidFile) return false;
    try {
      const pid = Number(readFileSync(this.o.brokerPidFile, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 1) return false;
      process.kill(pid, 'SIGHUP');
      return true;
    } catch {
      return false;
    }
  }

  /** Reload, then take the device's session over with the secret now in force. */
  private async apply(id: string, secret: string): Promise<BrokerEffect> {
    const reloaded = this.signal();
    if (!reloaded) return { reloaded, sessionClosed: false, note: 'broker not signalled (CONSOLE_BROKER_PID_FILE unset or stale): the change applies at its next reload (SIGHUP) or start' };
    if (!this.o.mqttUrl) return { reloaded, sessionClosed: false };
    const deadline = Date.now() + (this.o.takeoverTimeoutMs ?? 5000);
    for (;;) {
      try {
        const c = await mqtt.connectAsync(this.o.mqttUrl, { clientId: id, username: id, password: secret, reconnectPeriod: 0, connectTimeout: 3000, clean: true });
        await c.endAsync();
        return { reloaded, sessionClosed: true };
      } catch {
        if (Date.now() > deadline) return { reloaded, sessionClosed: false, note: 'the broker did not take the new credentials in time; it may not have reloaded yet' };
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}
