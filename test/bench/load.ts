/**
 * Load generator for the pipeline benchmark, run as a child process: connects the devices it
 * is given as MQTT clients and publishes QoS 1 readings with 8 metrics as fast as the broker
 * acknowledges them (a window of in-flight messages per device), for a fixed time.
 * Reports acked counts to its parent over IPC every 500 ms, and the final per-device counts.
 *
 * It shares the machine with the broker, ingest and InfluxDB, so it is built to cost little:
 * by default (`client: 'raw'`) each device is a plain TCP socket speaking just enough MQTT 3.1.1
 * (CONNECT, PUBLISH QoS 1, PUBACK), the JSON body of each of 1,000 value sets is serialised
 * once, and a message is its header plus `{"ts":…,"seq":…,` plus that body, written together
 * with the other messages its acknowledgements released in one socket write. Every message is
 * still distinct (its own ts and seq) and counted only when its PUBACK arrives.
 * `client: 'mqttjs'` is the previous generator (one mqtt.js client per device, publishAsync),
 * kept for comparison.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import mqtt from 'mqtt';

interface Job {
  url: string; devices: { id: string; topic: string; password: string }[]; seconds: number; inflight: number; base: number;
  client?: 'raw' | 'mqttjs';
}

const job = await new Promise<Job>((r) => process.once('message', (m) => r(m as Job)));
const acked = new Map<string, number>();
let total = 0;

/** The metrics of reading `s` (the same values as before: v = s mod 1000). */
const metricsJson = (v: number) =>
  `"metrics":{"t_preheat":${850 + v / 10},"t_firing":${1180 + v / 100},"t_cooling":${600 + v / 10},"sp_firing":1190,"gas_flow":${600 + v / 7},"fan_power":${400 + v / 50},"output_rate":${480 + v / 20},"run_state":"running"}}`;

async function runMqttJs(): Promise<void> {
  const clients = await Promise.all(job.devices.map((d) => mqtt.connectAsync(job.url, {
    clientId: d.id, username: d.id, password: d.password, reconnectPeriod: 0, protocolVersion: 4,
  })));
  process.send!({ type: 'connected' });
  const until = Date.now() + job.seconds * 1000;
  const tick = setInterval(() => process.send!({ type: 'progress', acked: total }), 500);
  await Promise.all(job.devices.map(async (d, i) => {
    const c = clients[i]!;
    let seq = 0;
    let n = 0;
    const inflight = new Set<Promise<void>>();
    while (Date.now() < until) {
      const s = seq++;
      const payload = `{"ts":${job.base + s},"seq":${s},${metricsJson(s % 1000)}`;
      const pr: Promise<void> = c.publishAsync(d.topic, payload, { qos: 1 }).then(() => {
        n++;
        total++;
      }).finally(() => inflight.delete(pr));
      inflight.add(pr);
      if (inflight.size >= job.inflight) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    acked.set(d.id, n);
  }));
  clearInterval(tick);
  process.send!({ type: 'done', acked: Object.fromEntries(acked), total });
  await Promise.all(clients.map((c) => c.endAsync()));
}

// ---- raw MQTT 3.1.1 over TCP ----

const utf8 = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
};
const varint = (n: number) => {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
};
const packet = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type]), varint(body.length), body]);

function connectPacket(id: string, password: string): Buffer {
  const vh = Buffer.concat([utf8('MQTT'), Buffer.from([4, 0xc2, 0, 0])]); // level 4; username, password, clean; keepalive off
  return packet(0x10, Buffer.concat([vh, utf8(id), utf8(id), utf8(password)]));
}

/** The pre-serialised tails `"metrics":{…}}` of the 1,000 value sets. */
const TAILS = Array.from({ length: 1000 }, (_, v) => Buffer.from(metricsJson(v), 'latin1'));

class RawDevice {
  private readonly sock: Socket;
  private readonly topic: Buffer;
  private seq = 0;
  private mid = 0;
  private readonly inflight = new Set<number>();
  private rest: Buffer | undefined;
  private connected = false;
  acked = 0;
  private stopping = false;
  private onConnack?: () => void;
  private onIdle?: () => void;

  constructor(readonly d: Job['devices'][number], url: URL) {
    this.topic = utf8(d.topic);
    this.sock = tcpConnect({ host: url.hostname, port: Number(url.port || 1883) }); // Node's defaults, as mqtt.js
    this.sock.on('data', (b) => this.data(b));
    this.sock.on('error', (e) => { throw new Error(`${d.id}: ${e.message}`); });
    this.sock.on('close', () => { if (!this.stopping) throw new Error(`${d.id}: connection closed by the broker`); });
    this.sock.write(connectPacket(d.id, d.password));
  }

  ready(): Promise<void> {
    return this.connected ? Promise.resolve() : new Promise((r) => { this.onConnack = r; });
  }

  /** Fills the window; called once at the start, then as acknowledgements come in. */
  fill(): void {
    if (this.stopping) return;
    const n = job.inflight - this.inflight.size;
    if (n <= 0) return;
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) parts.push(this.publish());
    this.sock.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  private publish(): Buffer {
    const s = this.seq++;
    this.mid = this.mid >= 65535 ? 1 : this.mid + 1;
    this.inflight.add(this.mid);
    const head = `{"ts":${job.base + s},"seq":${s},`;
    const tail = TAILS[s % 1000]!;
    const remaining = this.topic.length + 2 + head.length + tail.length;
    const lenBytes = remaining < 128 ? 1 : remaining < 16384 ? 2 : 3;
    const buf = Buffer.allocUnsafe(1 + lenBytes + remaining);
    let o = 0;
    buf[o++] = 0x32; // PUBLISH, QoS 1
    for (let n = remaining; ;) {
      const b = n & 0x7f;
      n >>>= 7;
      buf[o++] = n > 0 ? b | 0x80 : b;
      if (n === 0) break;
    }
    o += this.topic.copy(buf, o);
    buf[o++] = this.mid >> 8;
    buf[o++] = this.mid & 0xff;
    o += buf.write(head, o, 'latin1');
    tail.copy(buf, o);
    return buf;
  }

  /** Stops publishing; resolves when every message sent has been acknowledged. */
  stop(): Promise<void> {
    this.stopping = true;
    return this.inflight.size === 0 ? Promise.resolve() : new Promise((r) => { this.onIdle = r; });
  }

  close(): void {
    this.stopping = true;
    this.sock.end(Buffer.from([0xe0, 0])); // DISCONNECT
  }

  private data(chunk: Buffer): void {
    let b = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    let i = 0;
    let released = 0;
    while (i < b.length) {
      // fixed header: type byte, remaining-length varint
      let len = 0, mult = 1, j = i + 1, complete = false;
      while (j < b.length) {
        const c = b[j++]!;
        len += (c & 0x7f) * mult;
        mult *= 128;
        if ((c & 0x80) === 0) { complete = true; break; }
      }
      if (!complete || j + len > b.length) break;
      const type = b[i]! >> 4;
      if (type === 4) { // PUBACK
        const id = (b[j]! << 8) | b[j + 1]!;
        if (this.inflight.delete(id)) {
          this.acked++;
          total++;
          released++;
        }
      } else if (type === 2) { // CONNACK
        if (b[j + 1] !== 0) throw new Error(`${this.d.id}: CONNACK return code ${b[j + 1]}`);
        this.connected = true;
        this.onConnack?.();
      }
      i = j + len;
    }
    if (i < b.length) this.rest = b.subarray(i);
    if (released > 0) {
      if (!this.stopping) this.fill();
      else if (this.inflight.size === 0) this.onIdle?.();
    }
  }
}

async function runRaw(): Promise<void> {
  const url = new URL(job.url);
  const devs: RawDevice[] = [];
  // connect in groups, as the broker rate-limits nothing here but a burst of 1,000s would queue
  for (let k = 0; k < job.devices.length; k += 50) {
    const group = job.devices.slice(k, k + 50).map((d) => new RawDevice(d, url));
    await Promise.all(group.map((g) => g.ready()));
    devs.push(...group);
  }
  process.send!({ type: 'connected' });
  const tick = setInterval(() => process.send!({ type: 'progress', acked: total }), 500);
  for (const d of devs) d.fill();
  await new Promise((r) => setTimeout(r, job.seconds * 1000));
  await Promise.all(devs.map((d) => d.stop()));
  clearInterval(tick);
  for (const d of devs) acked.set(d.d.id, d.acked);
  process.send!({ type: 'done', acked: Object.fromEntries(acked), total });
  for (const d of devs) d.close();
  await new Promise((r) => setTimeout(r, 200));
}

if (job.client === 'mqttjs') await runMqttJs();
else await runRaw();
process.exit(0);
