/**
 * The simulated Sparkplug edge node (simulators/sparkplug/) that `npm run up` starts, against
 * the real broker, host and InfluxDB: it births with names, aliases and datatypes, sends DDATA
 * by alias alone in the units config/sparkplug.yaml says it uses (degF, W), rebirths when the
 * host asks, and its NDEATH sets the device offline. Its park devices are left out of the JSON
 * fleet (simulators/select.ts `without`).
 */
import { expect, it } from 'vitest';
import { DataType, encodePayload } from '../core/sparkplug/codec.ts';
import { sparkplugDeviceIds, loadSparkplugConfig } from '../core/sparkplug/config.ts';
import { selectDevices } from '../simulators/select.ts';
import { SimulatedEdgeNode } from '../simulators/sparkplug/edge-node.ts';
import { SparkplugRig } from './harness/sparkplug.ts';
import { waitFor } from './harness/platform.ts';

const rig = new SparkplugRig();
rig.use();

it('carries the cold room over Sparkplug: plausible values in park units, rebirth on request, offline at its death', async () => {
  const node = rig.mapping.nodes.get('rongchang/rf-edge-1')!;
  const sim = new SimulatedEdgeNode({ url: rig.p.mqttUrl, node, password: rig.p.secrets[node.account]!, model: rig.p.model, seed: 't', intervalMs: 200 });
  await sim.start();
  await waitFor('ten readings of rf-cold-1', async () => (await rig.rows('rf-cold-1', ['temp'])).length >= 10, 30_000);
  const rows = await rig.rows('rf-cold-1', ['temp', 'humidity', 'power', 'compressor_on', 'door_open']);
  const rated = rig.p.model.devices.get('rf-cold-1')!.rated;
  for (const r of rows) {
    // sent in degF and W, stored in degC and kW near the room's setpoint and the compressor's rating
    expect(r.temp as number).toBeGreaterThan(rated.setpointC! - 8);
    expect(r.temp as number).toBeLessThan(rated.setpointC! + 8);
    expect(r.power as number).toBeGreaterThanOrEqual(0);
    expect(r.power as number).toBeLessThan(rated.compressorKw! * 2);
    expect(typeof r.compressor_on).toBe('boolean');
  }
  expect((await rig.statuses('rf-cold-1')).at(-1)).toMatchObject({ state: 'online', info: 'Sparkplug DBIRTH of rongchang/rf-edge-1/ChilledStore1' });

  // the host (here: its account) asks for a rebirth; the node births again and goes on
  const cmd = await rig.p.connect(rig.mapping.hostAccount, { clientId: `${rig.mapping.hostAccount}-cmd` });
  await cmd.publishAsync('spBv1.0/rongchang/NCMD/rf-edge-1', Buffer.from(encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: true }] })), { qos: 0 });
  await waitFor('a second birth', () => sim.counts.births === 2);
  const n = rows.length;
  await waitFor('data after the rebirth', async () => (await rig.rows('rf-cold-1', ['temp'])).length >= n + 5, 30_000);
  expect(rig.w.letters.filter((l) => l.topic.includes('rf-edge-1'))).toEqual([]);
  expect(await rig.stat('sparkplug_rebirths_requested_total')).toBe(0);

  await sim.stop();
  await waitFor('offline after its NDEATH', async () => (await rig.statuses('rf-cold-1')).at(-1)?.state === 'offline');
  expect((await rig.statuses('rf-cold-1')).at(-1)!.info).toBe('Sparkplug NDEATH of rongchang/rf-edge-1 (bdSeq 0)');
}, 90_000);

it('the JSON fleet leaves out the devices a Sparkplug edge node carries', () => {
  const ids = [...sparkplugDeviceIds(loadSparkplugConfig(rig.p.model))];
  expect(ids).toEqual(['rf-cold-1']);
  const fleet = selectDevices(rig.p.model, { without: ids }).map((d) => d.id);
  expect(fleet).not.toContain('rf-cold-1');
  expect(fleet).toHaveLength(rig.p.model.devices.size - 1);
});
