/**
 * The broker's ACL for Sparkplug B (broker/acl.ts), against the real broker: an edge node's
 * account publishes only its own spBv1.0/{group}/{N|D}{BIRTH,DATA,DEATH}/{node}[/{device}]
 * topics and reads only its own NCMD/DCMD and STATE; only the host application's account
 * publishes STATE and NCMD/DCMD. A forbidden PUBLISH closes the connection (MQTT 3.1.1 cannot
 * refuse one) and is delivered to no one; a forbidden filter is refused in the SUBACK.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../core/contract.ts';
import { encodePayload, DataType } from '../core/sparkplug/codec.ts';
import { SparkplugRig } from './harness/sparkplug.ts';
import { waitFor } from './harness/platform.ts';

const rig = new SparkplugRig([
  { group: 'test', node: 'other-edge', devices: [{ sparkplugDevice: 'Cold2', device: 'al-cold-2', metrics: { Temp: 'temp' } }] },
], { startHost: false });
let spy: MqttClient;
const seen: string[] = [];
beforeAll(async () => {
  await rig.start();
  spy = await rig.p.connect('svc-sparkplug', { clientId: 'svc-sparkplug-spy' });
  spy.on('message', (t) => seen.push(t));
  await spy.subscribeAsync({ 'spBv1.0/#': { qos: 1 }, 'sp/v1/#': { qos: 1 } });
});
afterAll(async () => {
  await rig?.stop();
});

const EDGE = 'spb-rongchang-rf-edge-1';
const body = Buffer.from(encodePayload({ timestamp: Date.now(), seq: 0, metrics: [{ name: 'bdSeq', datatype: DataType.UInt64, value: 0n }] }));

async function expectCut(account: string, topic: string, clientId = account): Promise<void> {
  const c = await rig.p.connect(account, { clientId });
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.publish(topic, body, { qos: 1 });
  await closed;
  expect(rig.p.refusals.some((r) => r.code === 'SP_ERR_FORBIDDEN_TOPIC' && r.detail.includes(topic)), topic).toBe(true);
}

async function granted(c: MqttClient, filters: string[]): Promise<number[]> {
  return c.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }]))).then(
    (g) => g.map((x) => x.qos), (e: { packet?: { granted: number[] } }) => e.packet?.granted ?? [],
  );
}

describe('Sparkplug edge-node accounts', () => {
  it('publish their own birth, data and death topics, and they are delivered', async () => {
    const c = await rig.p.connect(EDGE);
    const own = ['NBIRTH', 'NDATA', 'NDEATH'].map((t) => `spBv1.0/rongchang/${t}/rf-edge-1`)
      .concat(['DBIRTH', 'DDATA', 'DDEATH'].map((t) => `spBv1.0/rongchang/${t}/rf-edge-1/ChilledStore1`));
    for (const t of own) await c.publishAsync(t, body, { qos: 1 });
    await waitFor('all delivered', () => own.every((t) => seen.includes(t)));
    expect(c.connected).toBe(true);
    await c.endAsync();
  });

  it("are cut for another node's topics, commands, STATE, JSON device topics and wildcards; nothing is delivered", async () => {
    const forbidden = [
      'spBv1.0/test/NDATA/other-edge', 'spBv1.0/rongchang/NDATA/other-edge', 'spBv1.0/test/NDATA/rf-edge-1',
      'spBv1.0/rongchang/DDATA/other-edge/ChilledStore1', 'spBv1.0/rongchang/NCMD/rf-edge-1', 'spBv1.0/rongchang/DCMD/rf-edge-1/ChilledStore1',
      'spBv1.0/STATE/smart-park-host', 'spBv1.0/rongchang/NDATA/rf-edge-1/extra/level', 'spBv1.0/rongchang/NBIRTHX/rf-edge-1',
      deviceTopic(rig.p.model.devices.get('rf-cold-1')!, 'telemetry'), deviceTopic(rig.p.model.devices.get('rf-cold-1')!, 'status'), 'sp/v1/_sys/dlq',
    ];
    for (const t of forbidden) await expectCut(EDGE, t);
    await new Promise((r) => setTimeout(r, 200));
    for (const t of forbidden) expect(seen, t).not.toContain(t);
  });

  it('subscribe only to their own NCMD/DCMD and to STATE', async () => {
    const c = await rig.p.connect(EDGE);
    const filters = [
      'spBv1.0/rongchang/NCMD/rf-edge-1/#', 'spBv1.0/rongchang/DCMD/rf-edge-1/#', 'spBv1.0/rongchang/NCMD/rf-edge-1', 'spBv1.0/STATE/smart-park-host',
      'spBv1.0/#', 'spBv1.0/rongchang/#', 'spBv1.0/+/NCMD/rf-edge-1', 'spBv1.0/rongchang/NCMD/other-edge', 'spBv1.0/rongchang/NCMD/rf-edge-10',
      'spBv1.0/rongchang/NDATA/rf-edge-1', 'spBv1.0/STATE/+', 'sp/v1/#', '#',
    ];
    expect(await granted(c, filters)).toEqual([1, 1, 1, 1, 128, 128, 128, 128, 128, 128, 128, 128, 128]);
    expect(c.connected).toBe(true);
  });

  it('must connect with their account as client id, with their own password', async () => {
    await expect(rig.p.connect(EDGE, { clientId: 'spb-someone-else' })).rejects.toThrow(/Identifier rejected|Bad username/);
    await expect(rig.p.connect(EDGE, { password: 'wrong' })).rejects.toThrow(/Bad username or password/);
    await expect(rig.p.connect('spb-not-mapped', { password: 'x' })).rejects.toThrow(/Bad username or password/);
  });
});

describe('the Sparkplug host account', () => {
  it('alone publishes STATE and NCMD/DCMD; other services and devices are cut', async () => {
    const host = await rig.p.connect('svc-sparkplug', { clientId: 'svc-sparkplug-cmd' });
    const edge = await rig.p.connect(EDGE);
    const cmds: string[] = [];
    edge.on('message', (t) => cmds.push(t));
    await edge.subscribeAsync({ 'spBv1.0/rongchang/NCMD/rf-edge-1/#': { qos: 0 }, 'spBv1.0/rongchang/DCMD/rf-edge-1/#': { qos: 0 } });
    await host.publishAsync('spBv1.0/rongchang/NCMD/rf-edge-1', body, { qos: 0 });
    await host.publishAsync('spBv1.0/rongchang/DCMD/rf-edge-1/ChilledStore1', body, { qos: 0 });
    await host.publishAsync('spBv1.0/STATE/smart-park-host', '{"online":true,"timestamp":1}', { qos: 1 });
    await host.publishAsync(deviceTopic(rig.p.model.devices.get('rf-cold-1')!, 'status'), '{"state":"online"}', { qos: 1 });
    await waitFor('both commands reach the edge node', () => cmds.length === 2);
    expect(host.connected).toBe(true);
    // not another host's STATE, not a JSON device's status, not an edge node's data
    for (const t of ['spBv1.0/STATE/other-host', deviceTopic(rig.p.model.devices.get('wm-kiln-1')!, 'status'), 'spBv1.0/rongchang/NDATA/rf-edge-1']) {
      await expectCut('svc-sparkplug', t, 'svc-sparkplug-bad');
    }
    for (const t of ['spBv1.0/STATE/smart-park-host', 'spBv1.0/rongchang/NCMD/rf-edge-1', 'spBv1.0/rongchang/DCMD/rf-edge-1/ChilledStore1']) {
      await expectCut('svc-api', t, 'svc-api-bad');
      await expectCut('wm-kiln-1', t);
    }
  });

  it('may read spBv1.0/#; other services and devices may not', async () => {
    const api = await rig.p.connect('svc-api', { clientId: 'svc-api-sub' });
    expect(await granted(api, ['spBv1.0/#', 'sp/v1/#'])).toEqual([128, 1]);
    const dev = await rig.p.connect('wm-kiln-1');
    expect(await granted(dev, ['spBv1.0/#'])).toEqual([128]);
  });
});
