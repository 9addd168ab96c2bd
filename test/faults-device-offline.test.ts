/**
 * Devices that lose their network in the middle of a stream and keep measuring: mqtt.js keeps
 * QoS 1 readings published while offline (and the ones in flight at the cut) and sends them when
 * it reconnects. The link is cut between device and broker (test/harness/fault-proxy.ts TcpLink),
 * twice, while each device queues ~1,000 readings; every reading is stored exactly once, with
 * clean and with persistent sessions. The devices resend a publish that mqtt.js fails (it fails
 * the ones queued during its replay of stored messages when the link drops again).
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TcpLink } from './harness/fault-proxy.ts';
import { readingStream, TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
let link: TcpLink;
beforeAll(async () => {
  p = await new TestPlatform().start();
  link = new TcpLink(p.broker.ports.mqtt);
  await link.start();
});
afterAll(async () => {
  await link?.close();
  await p?.stop();
});

const DEVICES: [string, boolean][] = [['wm-mill-1', true], ['wm-press-1', false], ['dj-press-1', true], ['xb-loom-1', false]];

it('stores once every reading devices queued while offline, across two outages', async () => {
  const base = Date.now() - 3_600_000;
  const clients = await Promise.all(DEVICES.map(([id, clean]) => mqtt.connectAsync(`mqtt://127.0.0.1:${link.port}`, {
    clientId: id, username: id, password: p.secrets[id], clean, reconnectPeriod: 100, connectTimeout: 5000, keepalive: 30,
  })));
  const streams = DEVICES.map(([id], k) => ({ id, c: clients[k]!, s: readingStream(clients[k]!, p.model.devices.get(id)!, { base, metric: 'power', inflight: 100_000, paceMs: 1, resendOnError: true }) }));
  const total = () => streams.reduce((a, x) => a + x.s.acked, 0);
  const sent = () => streams.reduce((a, x) => a + x.s.sent, 0);
  try {
    for (let outage = 1; outage <= 2; outage++) {
      const before = total();
      await waitFor('online traffic', () => total() > before + 1500, 30_000, 20);
      link.cut();
      await waitFor('every device knows it is offline', () => streams.every((x) => !x.c.connected), 10_000, 10);
      const sentAtCut = sent();
      const ackedAtCut = total();
      // readings keep coming while offline: mqtt.js queues them (the stream's window fills)
      await waitFor('readings queued offline', () => sent() >= sentAtCut + 4000, 20_000, 10);
      expect(total()).toBe(ackedAtCut); // nothing can be acknowledged through a cut link
      link.restore();
      await waitFor('queued readings acknowledged', () => total() >= sentAtCut + 4000, 30_000, 20);
    }
    for (const x of streams) x.s.running = false;
    await Promise.all(streams.map((x) => x.s.done));
    for (const { id, s } of streams) {
      expect(s.acked).toBe(s.sent);
      await waitFor(`all of ${id} stored`, async () => (await p.seqStats(id)).count >= s.acked, 30_000, 200);
    }
    for (const { id, s } of streams) {
      expect({ id, ...(await p.seqStats(id)) }).toEqual({ id, count: s.acked, min: 0, max: s.acked - 1 });
    }
    expect(link.connections).toBeGreaterThanOrEqual(DEVICES.length * 3);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
  }
}, 90_000);
