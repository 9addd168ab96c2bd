/**
 * Load generator for the pipeline benchmark, run as a child process: connects the devices it
 * is given as real MQTT clients and publishes QoS 1 readings with 8 metrics as fast as the
 * broker acknowledges them (a window of in-flight messages per device), for a fixed time.
 * Reports acked counts to its parent over IPC every 500 ms, and the final per-device counts.
 */
import mqtt from 'mqtt';

interface Job { url: string; devices: { id: string; topic: string; password: string }[]; seconds: number; inflight: number; base: number }

const job = await new Promise<Job>((r) => process.once('message', (m) => r(m as Job)));
const acked = new Map<string, number>();
const clients = await Promise.all(job.devices.map((d) => mqtt.connectAsync(job.url, {
  clientId: d.id, username: d.id, password: d.password, reconnectPeriod: 0, protocolVersion: 4,
})));
process.send!({ type: 'connected' });
const until = Date.now() + job.seconds * 1000;
let total = 0;
const tick = setInterval(() => process.send!({ type: 'progress', acked: total }), 500);
await Promise.all(job.devices.map(async (d, i) => {
  const c = clients[i]!;
  let seq = 0;
  let n = 0;
  const inflight = new Set<Promise<void>>();
  while (Date.now() < until) {
    const s = seq++;
    const v = s % 1000;
    const payload = `{"ts":${job.base + s},"seq":${s},"metrics":{"t_preheat":${850 + v / 10},"t_firing":${1180 + v / 100},"t_cooling":${600 + v / 10},"sp_firing":1190,"gas_flow":${600 + v / 7},"fan_power":${400 + v / 50},"output_rate":${480 + v / 20},"run_state":"running"}}`;
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
process.exit(0);
