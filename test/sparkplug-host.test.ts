/**
 * The Sparkplug B host application (ingest/sparkplug/) against the real broker and InfluxDB:
 * a foreign edge node (Eclipse Tahu's sparkplug-client 3.2.4 from npm) births, sends by alias,
 * dies and rebirths; hand-made edge nodes (RawEdge) send what Tahu's client cannot: unknown
 * aliases, data before a birth, a seq gap, a stale bdSeq, every supported datatype.
 */
import tahu from 'sparkplug-client';
import { describe, expect, it } from 'vitest';
import { deviceTopic } from '../core/contract.ts';
import { DataType, encodePayload } from '../core/sparkplug/codec.ts';
import { deviceTopicSpb, nodeTopic } from '../core/sparkplug/topic.ts';
import { RawEdge, SparkplugRig } from './harness/sparkplug.ts';
import { waitFor } from './harness/platform.ts';

const COLD2 = { Temp: { metric: 'temp' }, Running: 'compressor_on', Door: 'door_open' };
const rig = new SparkplugRig([
  { group: 'test', node: 'alias-edge', devices: [{ sparkplugDevice: 'Cold2', device: 'al-cold-2', metrics: COLD2 }] },
  { group: 'test', node: 'bd-edge', devices: [{ sparkplugDevice: 'Bio2', device: 'al-bio-2', metrics: { Temp: 'temp' } }] },
  { group: 'test', node: 'dt-edge', devices: [
    { sparkplugDevice: 'AHU', device: 'al-ahu-1', metrics: { i8: 'dp_b_c', i16: 'dp_c_d', i32: 'dp_d_out', i64: 'particles_05', u8: 'supply_temp', u16: 'room_temp', u32: 'humidity', f: 'fan_power', d: 'chiller_power' } },
    { sparkplugDevice: 'Bio', device: 'al-bio-1', metrics: { s: 'phase', t: 'batch_id', u64: 'agitation', dt: 'power' } },
    { sparkplugDevice: 'FD', device: 'al-fd-2', metrics: { uuid: 'batch_id' } },
  ] },
]);
rig.use();

const tempOf = (degF: number) => {
  const m = rig.mapping.nodes.get('rongchang/rf-edge-1')!.devices.get('ChilledStore1')!.metrics.get('Room/Temperature')!;
  return degF * m.factor + m.offset;
};
const kW = (watts: number) => watts * 1e-3;

describe('a foreign edge node (Eclipse Tahu sparkplug-client)', () => {
  it('births, sends by alias, dies (the broker sends its will) and rebirths: values stored exactly, status follows', async () => {
    const account = rig.mapping.nodes.get('rongchang/rf-edge-1')!.account;
    const t0 = Date.now() - 60_000;
    const start = () => {
      const c = tahu.newClient({
        serverUrl: rig.p.mqttUrl, username: account, password: rig.p.secrets[account]!, groupId: 'rongchang', edgeNode: 'rf-edge-1',
        clientId: account, version: 'spBv1.0', mqttOptions: { reconnectPeriod: 0 },
      });
      c.on('birth', () => {
        c.publishNodeBirth({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: false }] });
        c.publishDeviceBirth('ChilledStore1', { timestamp: t0, metrics: [
          { name: 'Room/Temperature', alias: 1, type: 'Float', value: 39.2 },
          { name: 'Room/Humidity', alias: 2, type: 'Double', value: 61.5 },
          { name: 'Compressor/Running', alias: 3, type: 'Boolean', value: true },
          { name: 'Door/Open', alias: 4, type: 'Boolean', value: false },
          { name: 'Compressor/Power', alias: 5, type: 'Double', value: 9800 },
        ] });
      });
      return c;
    };
    const c1 = start();
    await waitFor('the birth stored', async () => (await rig.rows('rf-cold-1', ['temp'])).length === 1);
    // data by alias only (Tahu's client always sends the datatype; the names stay out)
    for (let i = 1; i <= 5; i++) {
      c1.publishDeviceData('ChilledStore1', { timestamp: t0 + i * 1000, metrics: [
        { alias: 1, type: 'Float', value: 39 + i / 4 }, { alias: 5, type: 'Double', value: 9000 + i }, { alias: 4, type: 'Boolean', value: i % 2 === 0 },
      ] } as never);
    }
    await waitFor('five readings by alias stored', async () => (await rig.rows('rf-cold-1', ['temp'])).length === 6);
    const rows = await rig.rows('rf-cold-1', ['temp', 'humidity', 'power', 'compressor_on', 'door_open']);
    expect(rows[0]).toEqual({ time: t0, temp: tempOf(Math.fround(39.2)), humidity: 61.5, compressor_on: true, door_open: false, power: kW(9800) });
    for (let i = 1; i <= 5; i++) {
      expect(rows[i]).toEqual({ time: t0 + i * 1000, temp: tempOf(Math.fround(39 + i / 4)), humidity: null, compressor_on: null, door_open: i % 2 === 0, power: kW(9000 + i) });
    }
    await waitFor('online after the DBIRTH', async () => (await rig.statuses('rf-cold-1')).at(-1)?.state === 'online');
    expect((await rig.statuses('rf-cold-1')).at(-1)!.info).toBe('Sparkplug DBIRTH of rongchang/rf-edge-1/ChilledStore1');

    // the connection breaks: the broker publishes the will, an NDEATH with bdSeq 0 (the birth's)
    (c1 as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
    await waitFor('offline after the will', async () => (await rig.statuses('rf-cold-1')).at(-1)?.state === 'offline');
    expect((await rig.statuses('rf-cold-1')).at(-1)!.info).toBe('Sparkplug NDEATH of rongchang/rf-edge-1 (bdSeq 0)');
    c1.stop();

    // a new session births again and sends by alias again
    const c2 = start();
    await waitFor('online again after the rebirth', async () => (await rig.statuses('rf-cold-1')).at(-1)?.state === 'online');
    c2.publishDeviceData('ChilledStore1', { timestamp: t0 + 10_000, metrics: [{ alias: 2, type: 'Double', value: 55.25 }] } as never);
    await waitFor('data after the rebirth stored', async () => (await rig.rows('rf-cold-1', ['humidity'])).some((r) => r.time === t0 + 10_000));
    expect((await rig.rows('rf-cold-1', ['humidity'])).find((r) => r.time === t0 + 10_000)!.humidity).toBe(55.25);
    c2.stop();
    expect(await rig.stat('sparkplug_rebirths_requested_total')).toBe(0);
    expect(rig.w.letters.filter((l) => l.topic.includes('rf-edge-1'))).toEqual([]);
  });
});

describe('a hand-made edge node', () => {
  it('data with unknown aliases: exactly one rebirth request, nothing stored under a guessed name, data again after the rebirth', async () => {
    const e = new RawEdge(rig, 'test', 'alias-edge');
    const c = await e.connect();
    let rebirths = 0;
    c.on('message', () => { rebirths++; });
    await c.subscribeAsync(`spBv1.0/test/NCMD/alias-edge/#`, { qos: 0 });
    const birth = [{ name: 'Temp', alias: 1, datatype: DataType.Double, value: 5 }, { name: 'Running', alias: 2, datatype: DataType.Boolean, value: true }];
    await e.nbirth();
    await e.dbirth('Cold2', birth);
    const t0 = Date.now() - 30_000;
    await e.ddata('Cold2', [{ alias: 1, datatype: DataType.Double, value: 4.5, omitDatatype: true }], t0);
    await waitFor('the known alias stored', async () => (await rig.rows('al-cold-2', ['temp'])).some((r) => r.time === t0 && r.temp === 4.5));
    const before = (await rig.rows('al-cold-2', ['temp'])).length;
    const lettersBefore = rig.w.letters.length;
    for (let i = 1; i <= 20; i++) await e.ddata('Cold2', [{ alias: 1, datatype: DataType.Double, value: 100 + i }, { alias: 77, datatype: DataType.Double, value: i }], t0 + i);
    await waitFor('20 dead letters', () => rig.w.letters.length >= lettersBefore + 20);
    await new Promise((r) => setTimeout(r, 300));
    const mine = rig.w.letters.slice(lettersBefore);
    expect(mine.length).toBe(20);
    expect(mine[0]!.code).toBe('SP_ERR_SPB_UNKNOWN_ALIAS');
    expect(mine[0]!.device).toBe('al-cold-2');
    expect(mine[0]!.reason).toContain('alias 77');
    expect(new Set(mine.slice(1).map((l) => l.code))).toEqual(new Set(['SP_ERR_SPB_STALE']));
    expect(rig.w.ncmd.filter((x) => x.topic === nodeTopic('test', 'NCMD', 'alias-edge')).length).toBe(1);
    expect(rebirths).toBe(1);
    expect(rig.w.ncmd.at(-1)!.payload.metrics.map((m) => [m.name, m.value])).toEqual([['Node Control/Rebirth', true]]);
    expect((await rig.rows('al-cold-2', ['temp'])).length).toBe(before); // not even alias 1's value of those messages

    // the edge node rebirths: data is stored again, and a new unknown alias asks once more
    await e.nbirth();
    await e.dbirth('Cold2', birth);
    await e.ddata('Cold2', [{ alias: 2, datatype: DataType.Boolean, value: false, omitDatatype: true }], t0 + 100);
    await waitFor('stored after the rebirth', async () => (await rig.rows('al-cold-2', ['compressor_on'])).some((r) => r.time === t0 + 100 && r.compressor_on === false));
    for (let i = 0; i < 3; i++) await e.ddata('Cold2', [{ alias: 99, datatype: DataType.Double, value: 1 }], t0 + 200 + i);
    await waitFor('a second rebirth request after the birth', () => rebirths === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(rebirths).toBe(2);

    // out of sequence (a message lost, or reordered by a redelivery): one rebirth request; the
    // data is stored, since every alias is in the current birth; no seq at all is refused
    await e.nbirth();
    await e.dbirth('Cold2', birth);
    e.seq = (e.seq + 5) % 256;
    const l0 = rig.w.letters.length;
    await e.ddata('Cold2', [{ alias: 1, datatype: DataType.Double, value: 7 }], t0 + 300);
    await e.ddata('Cold2', [{ alias: 1, datatype: DataType.Double, value: 8 }], t0 + 301);
    await waitFor('a rebirth request for the gap', () => rebirths === 3);
    await waitFor('stored', async () => (await rig.rows('al-cold-2', ['temp'])).filter((r) => r.time === t0 + 300 || r.time === t0 + 301).length === 2);
    expect(await rig.stat('sparkplug_seq_gaps_total')).toBe(1);
    expect(rig.w.letters.length).toBe(l0);
    await e.nbirth();
    await e.dbirth('Cold2', birth);
    await c.publishAsync('spBv1.0/test/DDATA/alias-edge/Cold2', Buffer.from(encodePayload({ timestamp: t0 + 400, metrics: [{ alias: 1, datatype: DataType.Double, value: 9 }] })), { qos: 1 });
    await waitFor('its dead letter', () => rig.w.letters.length > l0);
    expect(rig.w.letters[l0]!.code).toBe('SP_ERR_SPB_SEQ');
    await waitFor('a rebirth request for it', () => rebirths === 4);
    expect((await rig.rows('al-cold-2', ['temp'])).some((r) => r.time === t0 + 400)).toBe(false);
    await c.endAsync();
  });

  it('data before any birth is dead-lettered and asks for one rebirth', async () => {
    const e = new RawEdge(rig, 'test', 'bd-edge');
    const c = await e.connect();
    const l0 = rig.w.letters.length;
    const n0 = rig.w.ncmd.length;
    for (let i = 0; i < 5; i++) await c.publishAsync(deviceTopicSpb('test', 'DDATA', 'bd-edge', 'Bio2'), e.ddataPayload([{ alias: 1, datatype: DataType.Double, value: 37 }]), { qos: 1 });
    await waitFor('5 dead letters', () => rig.w.letters.length >= l0 + 5);
    expect(rig.w.letters.slice(l0).map((l) => l.code)).toEqual(Array(5).fill('SP_ERR_SPB_NO_BIRTH'));
    await new Promise((r) => setTimeout(r, 200));
    expect(rig.w.ncmd.slice(n0).map((x) => x.topic)).toEqual([nodeTopic('test', 'NCMD', 'bd-edge')]);
    expect(await rig.rows('al-bio-2', ['temp'])).toEqual([]);
    await c.endAsync();
  });

  it('an NDEATH with a stale bdSeq changes nothing; the current one sets the devices offline', async () => {
    const e = new RawEdge(rig, 'test', 'bd-edge');
    e.bdSeq = 3;
    const c = await e.connect();
    await e.nbirth();
    await e.dbirth('Bio2', [{ name: 'Temp', alias: 1, datatype: DataType.Double, value: 37.1 }]);
    await waitFor('online', async () => (await rig.statuses('al-bio-2')).at(-1)?.state === 'online');
    const ignored0 = await rig.stat('sparkplug_deaths_ignored_total{why="stale bdSeq"}');
    const rows0 = (await rig.statuses('al-bio-2')).length;
    await e.ndeath(2); // e.g. the late will of the session before
    await waitFor('the stale death counted', async () => (await rig.stat('sparkplug_deaths_ignored_total{why="stale bdSeq"}')) === ignored0 + 1);
    const t1 = Date.now() - 1000;
    await e.ddata('Bio2', [{ alias: 1, datatype: DataType.Double, value: 36.9 }], t1);
    await waitFor('data still stored', async () => (await rig.rows('al-bio-2', ['temp'])).some((r) => r.time === t1 && r.temp === 36.9));
    expect(await rig.statuses('al-bio-2')).toHaveLength(rows0);
    expect((await rig.statuses('al-bio-2')).at(-1)!.state).toBe('online');
    await e.ndeath(3);
    await waitFor('offline', async () => (await rig.statuses('al-bio-2')).at(-1)?.state === 'offline');
    expect((await rig.statuses('al-bio-2')).at(-1)!.info).toBe('Sparkplug NDEATH of test/bd-edge (bdSeq 3)');
    await c.endAsync();
  });

  it('a DDEATH sets its device offline; data from that device before its next DBIRTH is refused', async () => {
    const e = new RawEdge(rig, 'test', 'bd-edge');
    e.bdSeq = 4;
    const c = await e.connect();
    await e.nbirth();
    await e.dbirth('Bio2', [{ name: 'Temp', alias: 1, datatype: DataType.Double, value: 37 }]);
    await waitFor('online', async () => (await rig.statuses('al-bio-2')).at(-1)?.state === 'online');
    await e.ddeath('Bio2');
    await waitFor('offline', async () => (await rig.statuses('al-bio-2')).at(-1)?.state === 'offline');
    expect((await rig.statuses('al-bio-2')).at(-1)!.info).toBe('Sparkplug DDEATH of test/bd-edge/Bio2');
    // and the device's retained status topic says so, as the broker's does for a JSON device
    const api = await rig.p.connect('svc-api', { clientId: 'svc-api-status' });
    const retained = new Promise<{ state: string; info: string }>((r) => api.once('message', (_t, b) => r(JSON.parse(b.toString()))));
    await api.subscribeAsync(deviceTopic(rig.p.model.devices.get('al-bio-2')!, 'status'), { qos: 1 });
    expect(await retained).toMatchObject({ state: 'offline', info: 'Sparkplug DDEATH of test/bd-edge/Bio2' });
    await api.endAsync();
    const l0 = rig.w.letters.length;
    await e.ddata('Bio2', [{ alias: 1, datatype: DataType.Double, value: 36 }]);
    await waitFor('its dead letter', () => rig.w.letters.length > l0);
    expect(rig.w.letters[l0]).toMatchObject({ code: 'SP_ERR_SPB_NO_BIRTH', device: 'al-bio-2' });
    await e.ndeath(4);
    await c.endAsync();
  });

  it('every supported datatype round-trips into InfluxDB exactly, sent by alias without its datatype; historical metrics at their time', async () => {
    const e = new RawEdge(rig, 'test', 'dt-edge');
    const c = await e.connect();
    await e.nbirth();
    const ahu: [string, keyof typeof DataType, unknown, string, unknown][] = [
      ['i8', 'Int8', -128, 'dp_b_c', -128], ['i16', 'Int16', -32768, 'dp_c_d', -32768], ['i32', 'Int32', -2147483648, 'dp_d_out', -2147483648],
      ['i64', 'Int64', -9007199254740991n, 'particles_05', -9007199254740991], ['u8', 'UInt8', 255, 'supply_temp', 255],
      ['u16', 'UInt16', 65535, 'room_temp', 65535], ['u32', 'UInt32', 4294967295, 'humidity', 4294967295],
      ['f', 'Float', Math.fround(3.14159), 'fan_power', Math.fround(3.14159)], ['d', 'Double', 1190.123456789, 'chiller_power', 1190.123456789],
    ];
    const text = '批次 "B-7",= \\x\nline2';
    const bio: [string, keyof typeof DataType, unknown, string, unknown][] = [
      ['s', 'String', 'culture', 'phase', 'culture'], ['t', 'Text', text, 'batch_id', text],
      ['u64', 'UInt64', 9007199254740991n, 'agitation', 9007199254740991], ['dt', 'DateTime', 1764700000123, 'power', 1764700000123],
    ];
    // births with null values (the names, aliases and datatypes), then one DDATA by alias
    let alias = 10;
    const birthOf = (rows: typeof ahu) => rows.map(([name, dt]) => ({ name, alias: alias++, datatype: DataType[dt], value: null }));
    const ahuBirth = birthOf(ahu);
    const bioBirth = birthOf(bio);
    await e.dbirth('AHU', ahuBirth);
    await e.dbirth('Bio', bioBirth);
    await e.dbirth('FD', [{ name: 'uuid', alias: 1, datatype: DataType.UUID, value: '0b7d7e1a-5c2c-4f55-9b1d-1c7e2a9d2f10' }]);
    const ts = Date.now() - 5000;
    await e.ddata('AHU', ahu.map(([, dt, v], i) => ({ alias: ahuBirth[i]!.alias, datatype: DataType[dt], value: v as never, omitDatatype: true })), ts);
    const hist = Date.now() - 3 * 3_600_000;
    await e.ddata('Bio', bio.map(([, dt, v], i) => ({ alias: bioBirth[i]!.alias, datatype: DataType[dt], value: v as never, omitDatatype: true, ...(i === 0 && { isHistorical: true, timestamp: hist }) })), ts);
    await waitFor('both devices stored', async () => (await rig.rows('al-ahu-1', ['dp_b_c'])).length === 1 && (await rig.rows('al-bio-1', ['phase', 'batch_id'])).length === 2);
    await waitFor('the UUID stored', async () => (await rig.rows('al-fd-2', ['batch_id'])).length === 1);
    expect((await rig.rows('al-fd-2', ['batch_id']))[0]!.batch_id).toBe('0b7d7e1a-5c2c-4f55-9b1d-1c7e2a9d2f10');
    expect((await rig.rows('al-ahu-1', ahu.map((r) => r[3])))[0]).toEqual({ time: ts, ...Object.fromEntries(ahu.map((r) => [r[3], r[4]])) });
    const b = await rig.rows('al-bio-1', bio.map((r) => r[3]));
    expect(b).toEqual([
      { time: hist, phase: 'culture', batch_id: null, agitation: null, power: null },
      { time: ts, phase: null, ...Object.fromEntries(bio.slice(1).map((r) => [r[3], r[4]])) },
    ]);
    // a UInt64 beyond 2^53 would not be stored exactly: refused with a code, not rounded
    const l0 = rig.w.letters.length;
    await e.ddata('Bio', [{ alias: bioBirth[2]!.alias, datatype: DataType.UInt64, value: 2n ** 60n }], ts + 1);
    await waitFor('its dead letter', () => rig.w.letters.length > l0);
    expect(rig.w.letters[l0]!.code).toBe('SP_ERR_METRIC_TYPE');
    expect(rig.w.letters[l0]!.reason).toContain('1152921504606846976');
    await c.endAsync();
  });

  it('unmapped metrics are stored no-where, counted and dead-lettered with SP_ERR_SPB_UNMAPPED; mapped ones of the same message are stored', async () => {
    const e = new RawEdge(rig, 'test', 'alias-edge');
    const c = await e.connect();
    await e.nbirth();
    const u0 = await rig.stat('sparkplug_metrics_unmapped_total');
    const l0 = rig.w.letters.length;
    const ts = Date.now() - 2000;
    await c.publishAsync(deviceTopicSpb('test', 'DBIRTH', 'alias-edge', 'Cold2'), e.ddataPayload([
      { name: 'Temp', alias: 1, datatype: DataType.Double, value: 3.25 }, { name: 'Fan/Speed', alias: 9, datatype: DataType.Double, value: 1200 },
    ], ts), { qos: 1 });
    await waitFor('its dead letter', () => rig.w.letters.length > l0);
    expect(rig.w.letters[l0]).toMatchObject({ code: 'SP_ERR_SPB_UNMAPPED', device: 'al-cold-2' });
    expect(rig.w.letters[l0]!.reason).toContain('"Fan/Speed" has no mapping for park device al-cold-2');
    expect(await rig.stat('sparkplug_metrics_unmapped_total')).toBe(u0 + 1);
    await waitFor('the mapped metric stored', async () => (await rig.rows('al-cold-2', ['temp'])).some((r) => r.time === ts && r.temp === 3.25));
    await c.endAsync();
  });
});

describe('the primary host STATE', () => {
  it('is retained online while the host runs; its will says offline with the same timestamp when the host is killed', async () => {
    const c = await rig.p.connect(rig.mapping.hostAccount, { clientId: `${rig.mapping.hostAccount}-state` });
    const seen: { online: boolean; timestamp: number }[] = [];
    c.on('message', (_t, payload) => seen.push(JSON.parse(payload.toString())));
    await c.subscribeAsync('spBv1.0/STATE/smart-park-host', { qos: 1 });
    await waitFor('the retained STATE', () => seen.length > 0);
    expect(seen[0]!.online).toBe(true);
    await rig.killHost('SIGKILL');
    await waitFor('the will', () => seen.some((s) => !s.online), 60_000);
    expect(seen.find((s) => !s.online)!.timestamp).toBe(seen[0]!.timestamp);
    await rig.startHost();
    await waitFor('online again', () => seen.at(-1)?.online === true);
    expect(seen.at(-1)!.timestamp).toBeGreaterThan(seen[0]!.timestamp);
    // a stale offline STATE (the late will of an earlier session) is answered with online at once
    const n = seen.length;
    const r0 = await rig.stat('sparkplug_state_republished_total'); // its own will, replayed to the restarted host, may count too
    await c.publishAsync('spBv1.0/STATE/smart-park-host', JSON.stringify({ online: false, timestamp: seen[0]!.timestamp }), { qos: 1, retain: true });
    await waitFor('online again after the stale will', () => seen.length >= n + 2 && seen.at(-1)?.online === true);
    // counted when the host has answered this stale STATE (an answer to its replayed will may land in between)
    await waitFor('the stale STATE answered', async () => (await rig.stat('sparkplug_state_republished_total')) > r0, 10_000);
    expect(seen.at(-1)!.online).toBe(true);
  }, 90_000);
});
