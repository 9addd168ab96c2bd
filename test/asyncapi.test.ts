/**
 * docs/asyncapi.yaml is the MQTT contract in AsyncAPI 3.0: generated from the code (a test fails
 * when regenerating changes it), valid for the AsyncAPI parser, and its payload schemas give the
 * verdict core/contract.ts gives. Both ways, over a corpus of valid and hostile payloads (the
 * fuzz generator's plus hand cases at every bound): the document's telemetry schema with a
 * kind's metric value schemas (what GET /api/v1/kinds shows) accepts exactly what
 * `parseTelemetry` accepts, and the kind-free schema of the document never refuses what the
 * code accepts. The rules JSON Schema cannot state are excluded by name and shown to exist:
 * the payload's size in bytes, the ts window relative to the clock, RFC 3339 strings that
 * Date.parse refuses, text length in UTF-16 code units (JSON Schema counts code points), and
 * which metrics a device kind declares.
 */
import { Parser } from '@asyncapi/parser';
import { Ajv, type ValidateFunction } from 'ajv';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BROKER_ENV } from '../broker/config.ts';
import { AlarmEngine } from '../core/alarms/engine.ts';
import { ALARM_TOPIC } from '../core/alarms/events.ts';
import { parseAlarmRules } from '../core/alarms/rules.ts';
import {
  deadLetter, DEFAULT_LIMITS, deviceTopic, DLQ_TOPIC, metricConstraints, parseStatus, parseTelemetry, RFC3339, STATUS_INFO_MAX_LENGTH,
  type ContractLimits, type Refusal,
} from '../core/contract.ts';
import { loadParkModel } from '../core/model-file.ts';
import type { DeviceKind, DeviceModel } from '../core/model.ts';
import { NODE_TYPES } from '../core/sparkplug/topic.ts';
import { ASYNCAPI_FILE, drift } from '../scripts/asyncapi.ts';
import { HostileGenerator, Rng } from './harness/hostile.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const model = loadParkModel();
const now = Date.UTC(2026, 10, 25, 12);
const text = readFileSync(ASYNCAPI_FILE, 'utf8');
const doc = parse(text) as Json;
const messages = doc.components.messages as Record<string, Json>;
const ajv = new Ajv({ allErrors: false, allowUnionTypes: true });

/** The code's rules minus the ones JSON Schema cannot state (bytes, and the window around the clock). */
const SCHEMA_LIMITS: ContractLimits = { ...DEFAULT_LIMITS, maxPayloadBytes: Infinity, maxFutureMs: Infinity, maxPastMs: Infinity };
/** Refusals only the per-kind declarations decide (which names, which types and bounds). */
const PER_KIND_CODES = ['SP_ERR_UNKNOWN_METRIC', 'SP_ERR_METRIC_TYPE', 'SP_ERR_ENUM_VALUE', 'SP_ERR_TEXT_LENGTH', 'SP_ERR_COUNTER_NEGATIVE'];

/** The document's telemetry schema with `metrics` of one kind: the value schemas /api/v1/kinds publishes. */
function kindSchema(kind: DeviceKind): Json {
  const s = structuredClone(messages.telemetry!.payload) as Json;
  const metrics = {
    type: 'object', minProperties: 1, additionalProperties: false,
    properties: Object.fromEntries([...kind.metrics.values()].map((m) => [m.name, metricConstraints(m)])),
  };
  const [reading, batch] = s.oneOf as Json[];
  reading!.properties.metrics = metrics;
  batch!.properties.readings.items.properties.metrics = metrics;
  return s;
}
const generic = ajv.compile(messages.telemetry!.payload);
const byKind = new Map<string, ValidateFunction>();
const kindValidator = (k: DeviceKind): ValidateFunction => {
  const have = byKind.get(k.id);
  if (have) return have;
  const v = ajv.compile(kindSchema(k));
  byKind.set(k.id, v);
  return v;
};

/** An RFC 3339-shaped ts that Date.parse refuses: the pattern admits it, the code does not. */
function hasUnparsableTime(data: unknown): boolean {
  const bad = (ts: unknown) => typeof ts === 'string' && RFC3339.test(ts) && !Number.isFinite(Date.parse(ts));
  if (typeof data !== 'object' || data === null) return false;
  const o = data as Json;
  return bad(o.ts) || (Array.isArray(o.readings) && o.readings.some((r: unknown) => typeof r === 'object' && r !== null && bad((r as Json).ts)));
}

interface Case { name: string; device: DeviceModel; payload: Buffer }

/** Hand cases: every rule of docs/contract.md at and past its bound. */
function handCases(): Case[] {
  const kiln = model.devices.get('wm-kiln-1')!;
  const meter = model.devices.get('wm-em-main')!;
  const bio = model.devices.get('al-bio-1')!;
  const enc = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));
  const r = (ts: unknown, metrics: unknown, extra: Json = {}) => ({ ts, metrics, ...extra });
  const list: [DeviceModel, unknown][] = [
    [kiln, r(now, { t_firing: 1190.5, run_state: 'running' }, { seq: 3 })],
    [kiln, { readings: [r('2026-11-25T11:59:00Z', { gas_flow: 600 }), r(now, { gas_flow: 610 })] }],
    [kiln, [1, 2]], [kiln, 'x'], [kiln, 7], [kiln, null], [kiln, {}],
    [kiln, r(now, {})], [kiln, r(now, { t_firing: '1190' })], [kiln, r(now, { t_fire: 1 })], [kiln, r(now, { run_state: 'dancing' })],
    [kiln, r(now, { Gas_flow: 1 })], [kiln, r(now, { seq: 1 })], [kiln, r(now, { time: 1 })],
    [kiln, r('yesterday', { gas_flow: 1 })], [kiln, r(now, { gas_flow: 1 }, { seq: -1 })], [kiln, r(now, { gas_flow: 1 }, { seq: 1.5 })],
    [kiln, r(now, { gas_flow: 1 }, { seq: Number.MAX_SAFE_INTEGER })], [kiln, `{"ts":${now},"seq":9007199254740993,"metrics":{"gas_flow":1}}`],
    [kiln, r(now, { gas_flow: 1 }, { seq: null })], [kiln, r(now, { gas_flow: 1 }, { extra: 1 })],
    [kiln, { readings: [] }], [kiln, { readings: {} }], [kiln, { readings: [r(now, { gas_flow: 1 })], ts: now }],
    [kiln, { readings: [r(now, { gas_flow: 1 }), r(now, { gas_flow: null })] }],
    [kiln, { readings: Array.from({ length: DEFAULT_LIMITS.maxBatch }, () => r(now, { gas_flow: 1 })) }],
    [kiln, { readings: Array.from({ length: DEFAULT_LIMITS.maxBatch + 1 }, () => r(now, { gas_flow: 1 })) }],
    [kiln, `{"ts": ${now}, "metrics": {"gas_flow": 1e999}}`], [kiln, `{"ts": 1e400, "metrics": {"gas_flow": 1}}`],
    [kiln, r(0, { gas_flow: 1 })], [kiln, r(-0, { gas_flow: 1 })], [kiln, r(1, { gas_flow: 1 })], [kiln, r(1.5, { gas_flow: 1 })],
    [kiln, r(8.64e15 - 1, { gas_flow: 1 })], [kiln, r(8.64e15, { gas_flow: 1 })], [kiln, r(`${now}`, { gas_flow: 1 })],
    [kiln, r('2026-11-25T12:00:00.123456789Z', { gas_flow: 1 })], [kiln, r('2026-11-25T12:00:00.1234567890Z', { gas_flow: 1 })],
    [kiln, r('2026-11-25T12:00:00+08:00', { gas_flow: 1 })], [kiln, r('2026-11-25t12:00:00z', { gas_flow: 1 })],
    [kiln, r('2026-11-25T12:00:00', { gas_flow: 1 })], [kiln, r('2026-11-25 12:00:00Z', { gas_flow: 1 })],
    [kiln, r('2026-13-01T00:00:00Z', { gas_flow: 1 })], [kiln, r('2026-12-31T23:59:60Z', { gas_flow: 1 })], // Date.parse refuses: excluded
    [kiln, r('2026-02-30T00:00:00Z', { gas_flow: 1 })], [kiln, r('2026-11-25T24:00:00Z', { gas_flow: 1 })], // Date.parse accepts
    [meter, r(now, { energy: -5 })], [meter, r(now, { energy: 0 })], [meter, r(now, { energy: -0 })], [meter, r(now, { energy: 1e300 })],
    [bio, r(now, { batch_id: 'x'.repeat(64) })], [bio, r(now, { batch_id: 'x'.repeat(65) })], [bio, r(now, { batch_id: 'a\u0000b' })],
    [bio, r(now, { batch_id: '' })], [bio, r(now, { batch_id: 5 })],
    [kiln, '{"ts":1764072000000,"metrics":{"__proto__":1}}'], [kiln, '{"ts":1764072000000,"metrics":{"constructor":1}}'],
    [kiln, '{"__proto__":{"ts":1},"ts":1764072000000,"metrics":{"gas_flow":1}}'],
  ];
  // every metric of every kind at and past each bound its value schema states
  for (const kind of model.kinds.values()) {
    const d = [...model.devices.values()].find((x) => x.kind === kind);
    if (!d) continue;
    for (const m of kind.metrics.values()) {
      const s = metricConstraints(m) as Json;
      const values: unknown[] = s.type === 'boolean' ? [true, false, 0, 'true'] : s.enum ? [...s.enum, 'not-a-value', 1]
        : s.type === 'string' ? ['', 'x'.repeat(s.maxLength), 'x'.repeat(s.maxLength + 1), 'a\u0000b', 7]
          : s.type === 'integer' ? [s.minimum, 0, s.maximum, 1.5, s.maximum + 2, '3']
            : s.minimum === 0 ? [0, 1.5, 1e12, -0.001, '1', null] : [-1e9, 0, 3.25, '1', true];
      for (const v of values) list.push([d, r(now, { [m.name]: v })]);
    }
  }
  return list.map(([device, p], i) => ({ name: `hand ${i}`, device, payload: enc(p) }));
}

function fuzzCases(n: number): Case[] {
  const gen = new HostileGenerator(model, new Rng(0x5eed_0004), now);
  return Array.from({ length: n }, (_, i) => {
    const c = gen.payload(i);
    return { name: `fuzz ${i} ${c.name}`, device: c.device, payload: c.payload };
  });
}

describe('docs/asyncapi.yaml', () => {
  it('is what scripts/asyncapi.ts generates from the code', () => {
    expect(drift().map((d) => d.file)).toEqual([]);
    expect(text.startsWith('# generated by scripts/asyncapi.ts')).toBe(true);
  });

  it('reads the same under YAML 1.1 and 1.2 (no RFC 3339 example turns into a date)', () => {
    const v11 = parse(text, { version: '1.1' }) as Json;
    expect(v11.components.messages.telemetry.examples[1].payload.readings[0].ts).toBe('2026-11-25T12:00:00Z');
    expect(v11).toEqual(doc);
  });

  it('notices a document edited by hand', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'asyncapi-'));
    try {
      mkdirSync(join(tmp, 'docs'));
      expect(text).toContain(`maxItems: ${DEFAULT_LIMITS.maxBatch}\n`);
      writeFileSync(join(tmp, ASYNCAPI_FILE), text.replace(`maxItems: ${DEFAULT_LIMITS.maxBatch}\n`, 'maxItems: 2000\n'));
      const d = drift(undefined, tmp);
      expect(d.map((x) => x.file)).toEqual([ASYNCAPI_FILE]);
      expect(d[0]!.want).toBe(text);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('has no error and no warning for @asyncapi/parser; a broken copy has errors', async () => {
    const parser = new Parser();
    const diagnostics = await parser.validate(text);
    const shown = diagnostics.map((d) => `${d.severity} ${d.code} ${d.path.join('.')}: ${d.message}`);
    expect(diagnostics.filter((d) => d.severity === 0), shown.join('\n')).toEqual([]);
    expect(diagnostics.filter((d) => d.severity === 1), shown.join('\n')).toEqual([]);
    // the only note: 3.1.0 exists; the document keeps 3.0.0, which more tools read
    expect(diagnostics.map((d) => d.code)).toEqual(['asyncapi-latest-version']);
    const parsed = await parser.parse(text);
    expect(parsed.document?.operations().all().map((o) => o.id()).sort()).toEqual(Object.keys(doc.operations).sort());
    const broken = await parser.validate(text.replace('"#/channels/status/messages/status"', '"#/channels/status/messages/nope"').replace('action: receive', 'action: subscribe'));
    expect(broken.filter((d) => d.severity === 0).map((d) => d.code)).toEqual(expect.arrayContaining(['invalid-ref', 'asyncapi-document-resolved']));
  });

  it('names the topics, servers and security of the code', () => {
    const kiln = model.devices.get('wm-kiln-1')!;
    const address = (ch: string, params: Record<string, string>) => (doc.channels[ch].address as string).replace(/\{(\w+)\}/g, (_, k: string) => params[k]!);
    const place = { park: kiln.park, enterprise: kiln.enterprise, workshop: kiln.workshop, device: kiln.id };
    expect(address('telemetry', place)).toBe(deviceTopic(kiln, 'telemetry'));
    expect(address('status', place)).toBe(deviceTopic(kiln, 'status'));
    expect(doc.channels.deadLetters.address).toBe(DLQ_TOPIC);
    expect(doc.channels.alarms.address).toBe(ALARM_TOPIC);
    expect(doc.channels.sparkplugNode.parameters.nodeMessageType.enum).toEqual([...NODE_TYPES]);
    const servers = Object.fromEntries(Object.entries(doc.servers as Record<string, Json>).map(([k, s]) => [k, `${s.protocol} ${s.host}${s.pathname ?? ''}`]));
    expect(servers).toEqual({
      mqtt: `mqtt {host}:${BROKER_ENV.MQTT_PORT.default}`, mqtts: `secure-mqtt {host}:${BROKER_ENV.MQTT_TLS_PORT.default}`,
      ws: `ws {host}:${BROKER_ENV.MQTT_WS_PORT.default}/mqtt`, wss: `wss {host}:${BROKER_ENV.MQTT_WSS_PORT.default}/mqtt`,
    });
    expect(doc.components.securitySchemes.deviceCredentials.type).toBe('userPassword');
    for (const s of Object.values(doc.servers as Record<string, Json>)) expect(s.security).toEqual([{ $ref: '#/components/securitySchemes/deviceCredentials' }]);
    const actions = Object.entries(doc.operations as Record<string, Json>).map(([id, o]) => `${id}:${o.action}:${(o.channel.$ref as string).split('/').pop()}`);
    expect(actions).toEqual(expect.arrayContaining(['deviceSendTelemetry:send:telemetry', 'platformReceiveTelemetry:receive:telemetry', 'platformSendDeadLetter:send:deadLetters', 'platformSendAlarm:send:alarms']));
  });

  it("every example validates against its message's payload schema", () => {
    let n = 0;
    for (const [name, m] of Object.entries(messages)) {
      if (!m.examples) continue;
      const v = ajv.compile(m.payload);
      for (const ex of m.examples as Json[]) {
        expect(v(ex.payload), `${name}/${ex.name}: ${ajv.errorsText(v.errors)}`).toBe(true);
        n++;
      }
    }
    expect(n).toBeGreaterThanOrEqual(5);
  });
});

describe('telemetry payload schema and parseTelemetry give the same verdict', () => {
  const cases = [...handCases(), ...fuzzCases(6000)];

  it(`over ${cases.length} valid and hostile payloads, excluding only the rules JSON Schema cannot state`, () => {
    const tally = { compared: 0, accepted: 0, refused: 0, notJson: 0, unparsableTime: 0, genericLooser: 0 };
    const refusedCodes = new Set<string>();
    for (const c of cases) {
      const what = `${c.name} on ${c.device.id}: ${c.payload.subarray(0, 100).toString('utf8')}`;
      const code = parseTelemetry(c.payload, c.device, now, SCHEMA_LIMITS);
      let data: unknown;
      try {
        data = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(c.payload));
      } catch {
        // a JSON Schema judges JSON values; bytes that are not UTF-8 JSON are refused before it
        expect(code.ok ? 'ok' : code.code, what).toBe('SP_ERR_PAYLOAD_JSON');
        tally.notJson++;
        continue;
      }
      if (hasUnparsableTime(data)) { tally.unparsableTime++; continue; }
      const kindOk = kindValidator(c.device.kind)(data);
      expect(kindOk, `${what}\ncode: ${code.ok ? 'accepted' : (code as Refusal).reason}\nschema: ${ajv.errorsText(byKind.get(c.device.kind.id)!.errors)}`).toBe(code.ok);
      const genericOk = generic(data);
      if (code.ok) expect(genericOk, `${what}: ${ajv.errorsText(generic.errors)}`).toBe(true);
      else if (genericOk) {
        expect(PER_KIND_CODES, what).toContain(code.code);
        tally.genericLooser++;
      }
      tally.compared++;
      if (code.ok) tally.accepted++;
      else { tally.refused++; refusedCodes.add(code.code); }
    }
    expect(tally.accepted).toBeGreaterThan(1000);
    expect(tally.refused).toBeGreaterThan(2000);
    expect(tally.notJson).toBeGreaterThan(10);
    expect(tally.unparsableTime).toBeGreaterThanOrEqual(2);
    expect(tally.genericLooser).toBeGreaterThan(100);
    for (const c of ['SP_ERR_PAYLOAD_SHAPE', 'SP_ERR_BATCH_SIZE', 'SP_ERR_TIMESTAMP', 'SP_ERR_SEQ', 'SP_ERR_NO_METRICS', 'SP_ERR_UNKNOWN_METRIC', 'SP_ERR_METRIC_TYPE',
      'SP_ERR_NON_FINITE', 'SP_ERR_COUNTER_NEGATIVE', 'SP_ERR_ENUM_VALUE', 'SP_ERR_TEXT_LENGTH', 'SP_ERR_TEXT_NUL']) expect([...refusedCodes], c).toContain(c);
  });

  it('the excluded rules exist: size in bytes and the ts window are refused by the code alone, as the schema says', () => {
    const kiln = model.devices.get('wm-kiln-1')!;
    const v = kindValidator(kiln.kind);
    const future = { ts: now + DEFAULT_LIMITS.maxFutureMs + 1000, metrics: { gas_flow: 1 } };
    const past = { ts: now - DEFAULT_LIMITS.maxPastMs - 1000, metrics: { gas_flow: 1 } };
    const big = { ts: now, metrics: { gas_flow: 1 }, ...{} };
    const bigText = JSON.stringify(big).replace('{', `{${' '.repeat(DEFAULT_LIMITS.maxPayloadBytes)}`);
    for (const [data, payload, want] of [[future, JSON.stringify(future), 'SP_ERR_TS_FUTURE'], [past, JSON.stringify(past), 'SP_ERR_TS_PAST'], [big, bigText, 'SP_ERR_PAYLOAD_SIZE']] as const) {
      expect(v(data)).toBe(true);
      const r = parseTelemetry(Buffer.from(payload), kiln, now);
      expect(r.ok ? 'ok' : r.code).toBe(want);
    }
    const desc = JSON.stringify(messages.telemetry!.payload);
    expect(desc).toContain(`${DEFAULT_LIMITS.maxPayloadBytes} bytes`);
    expect(desc).toContain(`At most ${DEFAULT_LIMITS.maxFutureMs / 60_000} minutes ahead of the platform clock`);
    expect(desc).toContain('Date.parse');
    expect(desc).toContain('declared per device kind');
  });

  it('the excluded rule exists: text length counts UTF-16 code units, JSON Schema counts code points', () => {
    const bio = model.devices.get('al-bio-1')!;
    const max = bio.kind.metrics.get('batch_id')!.maxLength!;
    const pigs = { ts: now, metrics: { batch_id: '🐖'.repeat(max / 2 + 1) } }; // max/2+1 code points, max+2 code units
    expect(kindValidator(bio.kind)(pigs)).toBe(true);
    const r = parseTelemetry(Buffer.from(JSON.stringify(pigs)), bio, now);
    expect(r.ok ? 'ok' : r.code).toBe('SP_ERR_TEXT_LENGTH');
    expect(JSON.stringify(messages.telemetry!.payload)).toContain('UTF-16 code units');
  });
});

describe('status payload schema and parseStatus give the same verdict', () => {
  it('over every combination of good and hostile state, ts, info and extra keys', () => {
    const v = ajv.compile(messages.status!.payload);
    const states = ['"online"', '"offline"', '"ONLINE"', '"on"', 'null', '1', 'true', '[]', '{}', '"online\\u0000"', undefined];
    const tss = [undefined, String(now), '"2026-11-25T12:00:00Z"', '"2026-11-25T12:00:00+08:00"', '"soon"', '-5', '0', '1.5', 'null', '"2026-02-30T00:00:00Z"', `${8.64e15}`];
    const infos = [undefined, '"fw 1.2"', '"a\\u0000b"', JSON.stringify('x'.repeat(STATUS_INFO_MAX_LENGTH)), JSON.stringify('x'.repeat(STATUS_INFO_MAX_LENGTH + 1)), '1', 'null', JSON.stringify('荣昌\n"x"')];
    const extras = [undefined, '"__proto__":{"polluted":1}', '"constructor":1', '"state":"offline"', '"other":[1,2]'];
    let n = 0; let accepted = 0;
    for (const state of states) for (const ts of tss) for (const info of infos) for (const extra of extras) {
      const parts = [...(state ? [`"state":${state}`] : []), ...(ts ? [`"ts":${ts}`] : []), ...(info ? [`"info":${info}`] : []), ...(extra ? [extra] : [])];
      const json = `{${parts.join(',')}}`;
      const r = parseStatus(Buffer.from(json));
      expect(v(JSON.parse(json)), `${json}: code ${r.ok ? 'accepts' : r.reason}; schema ${ajv.errorsText(v.errors)}`).toBe(r.ok);
      n++;
      if (r.ok) accepted++;
    }
    for (const json of ['[]', '"online"', 'null', '7']) expect(v(JSON.parse(json))).toBe(parseStatus(Buffer.from(json)).ok);
    expect(n).toBeGreaterThan(3000);
    expect(accepted).toBeGreaterThan(100);
  });
});

describe('what the platform publishes matches the document', () => {
  it('every dead letter ingest builds for the corpus validates against the deadLetter schema', () => {
    const v = ajv.compile(messages.deadLetter!.payload);
    let n = 0;
    for (const c of [...handCases(), ...fuzzCases(1500)]) {
      const r = parseTelemetry(c.payload, c.device, now);
      if (r.ok) continue;
      const dl = JSON.parse(JSON.stringify(deadLetter(deviceTopic(c.device, 'telemetry'), c.payload, r, now)));
      expect(v(dl), `${c.name}: ${ajv.errorsText(v.errors)}`).toBe(true);
      n++;
    }
    expect(n).toBeGreaterThan(500);
    expect(v({ topic: 'x', code: 'SP_ERR_NOPE', reason: 'r', receivedAt: now, payload: '', payloadEncoding: 'utf8' })).toBe(false);
  });

  it('an alarm raised and cleared by the engine validates against the alarmEvent schema', () => {
    const v = ajv.compile(messages.alarmEvent!.payload);
    const rules = parseAlarmRules({ rules: [{ id: 'cold', type: 'threshold', kind: 'cold_room', metric: 'temp', above: 8, severity: 'critical' }] }, model);
    const engine = new AlarmEngine(rules, () => now);
    const cold = model.devices.get('al-cold-1')!;
    const events = [...engine.onReadings(cold, [{ ts: now, metrics: { temp: 9 } }]), ...engine.onReadings(cold, [{ ts: now + 1000, metrics: { temp: 4 } }])];
    expect(events.map((e) => e.state)).toEqual(['raised', 'cleared']);
    for (const e of events) expect(v(JSON.parse(JSON.stringify(e))), ajv.errorsText(v.errors)).toBe(true);
    const { rule: _, ...noRule } = events[0]!;
    expect(v(noRule)).toBe(false);
  });
});
