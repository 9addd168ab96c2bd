/**
 * Fuzz of the message contract: thousands of generated hostile payloads and topics (seeded,
 * deterministic: test/harness/hostile.ts) through core's parsers and ingest's toRecords. None
 * may throw; each is either accepted with exactly the readings that were meant, or refused with
 * a declared code and a reason; a refused message becomes one dead-letter record, an accepted
 * one exactly one line-protocol point per reading; and nothing pollutes Object.prototype.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS, parseStatus, parseTelemetry, parseTopic, resolveTopic, type Reading, type Refusal, type Result,
} from '../core/contract.ts';
import { ERROR_CODES } from '../core/errors.ts';
import { loadParkModel } from '../core/model-file.ts';
import type { DeviceModel } from '../core/model.ts';
import { deviceTopic } from '../core/contract.ts';
import { DLQ_MARK, splitChunk, toRecords } from '../ingest/records.ts';
import { HostileGenerator, Rng } from './harness/hostile.ts';

const model = loadParkModel();
const now = Date.UTC(2026, 10, 25, 12);
const SEED = 0x5eed_0004;
const PAYLOADS = 6000;
const TOPICS = 4000;
const protoNames = Object.getOwnPropertyNames(Object.prototype).sort();

function checkRefusal(r: Refusal, what: string): void {
  expect(Object.keys(ERROR_CODES), what).toContain(r.code);
  expect(typeof r.reason, what).toBe('string');
  expect(r.reason.length, what).toBeGreaterThan(5);
  expect(r.reason.length, `${what}: reasons stay short even for huge input`).toBeLessThan(1200);
}

/** What an accepted reading must satisfy, checked independently of the parser. */
function checkAccepted(d: DeviceModel, readings: Reading[], what: string): void {
  expect(readings.length, what).toBeGreaterThan(0);
  for (const r of readings) {
    expect(Number.isSafeInteger(r.ts) && r.ts >= now - DEFAULT_LIMITS.maxPastMs && r.ts <= now + DEFAULT_LIMITS.maxFutureMs, what).toBe(true);
    if (r.seq !== undefined) expect(Number.isSafeInteger(r.seq) && r.seq >= 0, what).toBe(true);
    const names = Object.keys(r.metrics);
    expect(names.length, what).toBeGreaterThan(0);
    for (const name of names) {
      const def = d.kind.metrics.get(name);
      expect(def, `${what}: ${name}`).toBeDefined();
      const v = r.metrics[name];
      switch (def!.type) {
        case 'number': expect(Number.isFinite(v), what).toBe(true); break;
        case 'counter': expect(Number.isFinite(v) && (v as number) >= 0, what).toBe(true); break;
        case 'integer': expect(Number.isSafeInteger(v), what).toBe(true); break;
        case 'boolean': expect(typeof v, what).toBe('boolean'); break;
        case 'enum': expect(def!.values, what).toContain(v); break;
        case 'text': expect(typeof v === 'string' && !v.includes('\u0000') && v.length <= (def!.maxLength ?? 256), what).toBe(true); break;
      }
    }
  }
}

describe('fuzz: telemetry payloads', () => {
  it(`refuses or stores exactly each of ${PAYLOADS} hostile payloads, never throws`, () => {
    const gen = new HostileGenerator(model, new Rng(SEED), now);
    const byCode = new Map<string, number>();
    let accepted = 0;
    let readingsOut = 0;
    for (let i = 0; i < PAYLOADS; i++) {
      const c = gen.payload(i);
      const what = `${c.name} on ${c.device.id}: ${c.payload.subarray(0, 120).toString('utf8')}`;
      let r: Result<Reading[]>;
      try {
        r = parseTelemetry(c.payload, c.device, now);
      } catch (e) {
        throw new Error(`parseTelemetry threw on ${what}: ${(e as Error).message}`);
      }
      if (c.expect === 'ok') expect(r, what).toEqual({ ok: true, value: c.readings });
      else if (c.expect === 'refused') expect(r.ok, what).toBe(false);
      else if (c.expect !== ('any' as string)) expect(r.ok ? 'ok' : r.code, what).toBe(c.expect);
      if (r.ok) checkAccepted(c.device, r.value, what);
      else checkRefusal(r, what);
      byCode.set(r.ok ? 'ok' : r.code, (byCode.get(r.ok ? 'ok' : r.code) ?? 0) + 1);

      // the same message through ingest's record builder, as the spool would get it
      const topic = deviceTopic(c.device, 'telemetry');
      const out = toRecords(model, topic, c.payload, now, DEFAULT_LIMITS);
      if (r.ok) {
        accepted++;
        readingsOut += r.value.length;
        expect(out.kind, what).toBe('points');
        if (out.kind !== 'points') continue;
        expect(out.points, what).toBe(r.value.length);
        const lines = out.records.split('\n');
        expect(lines.pop(), what).toBe(''); // records end with '\n' ...
        expect(lines.length, what).toBe(r.value.length); // ... and hold one line per reading (line breaks in text are spooled as NUL)
        lines.forEach((line, k) => {
          expect(line.startsWith(`${c.device.kind.id},device=${c.device.id},`), what).toBe(true);
          expect(line.endsWith(` ${r.value[k]!.ts}`), what).toBe(true);
        });
        const split = splitChunk(out.records);
        expect({ points: split.points, dl: split.deadLetters.length }, what).toEqual({ points: r.value.length, dl: 0 });
      } else {
        expect(out.kind, what).toBe('refused');
        if (out.kind !== 'refused') continue;
        expect(out.refusal.code, what).toBe(r.code);
        expect(out.records.startsWith(DLQ_MARK) && out.records.indexOf('\n') === out.records.length - 1, `${what}: one dead-letter record`).toBe(true);
        const split = splitChunk(out.records);
        expect(split.points, what).toBe(0);
        expect(split.deadLetters.map((l) => [l.code, l.device, l.topic]), what).toEqual([[r.code, c.device.id, topic]]);
      }
    }
    // the generator reached every payload rule (so a silent generator bug cannot pass as a fuzz)
    for (const code of ['SP_ERR_PAYLOAD_SIZE', 'SP_ERR_PAYLOAD_JSON', 'SP_ERR_PAYLOAD_SHAPE', 'SP_ERR_BATCH_SIZE', 'SP_ERR_TIMESTAMP', 'SP_ERR_TS_FUTURE',
      'SP_ERR_TS_PAST', 'SP_ERR_UNKNOWN_METRIC', 'SP_ERR_METRIC_TYPE', 'SP_ERR_NON_FINITE', 'SP_ERR_COUNTER_NEGATIVE', 'SP_ERR_ENUM_VALUE',
      'SP_ERR_TEXT_LENGTH', 'SP_ERR_TEXT_NUL', 'SP_ERR_NO_METRICS', 'SP_ERR_SEQ']) {
      expect(byCode.get(code) ?? 0, code).toBeGreaterThanOrEqual(5);
    }
    expect(accepted).toBeGreaterThan(PAYLOADS * 0.2);
    expect(readingsOut).toBeGreaterThan(accepted);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoNames);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses deeply nested values in every position without exhausting the stack', () => {
    const kiln = model.devices.get('wm-kiln-1')!;
    const deepArr = '['.repeat(100_000) + ']'.repeat(100_000);
    const cases: [string, string][] = [
      [deepArr, 'SP_ERR_PAYLOAD_SHAPE'],
      [`{"ts":${deepArr},"metrics":{"power":1}}`, 'SP_ERR_TIMESTAMP'],
      [`{"ts":${now},"seq":${deepArr},"metrics":{"t_firing":1}}`, 'SP_ERR_SEQ'],
      [`{"ts":${now},"metrics":${deepArr}}`, 'SP_ERR_PAYLOAD_SHAPE'],
      [`{"ts":${now},"metrics":{"t_firing":${deepArr}}}`, 'SP_ERR_METRIC_TYPE'],
      [`{"ts":${now},"metrics":{"run_state":${deepArr}}}`, 'SP_ERR_METRIC_TYPE'],
      [`{"readings":[${deepArr}]}`, 'SP_ERR_PAYLOAD_SHAPE'],
    ];
    for (const [payload, code] of cases) {
      const r = parseTelemetry(Buffer.from(payload), kiln, now);
      expect(r.ok ? 'ok' : r.code, payload.slice(0, 40)).toBe(code);
      expect(toRecords(model, deviceTopic(kiln, 'telemetry'), Buffer.from(payload), now, DEFAULT_LIMITS).kind).toBe('refused');
    }
    const s = parseStatus(Buffer.from(deepArr));
    expect(s.ok ? 'ok' : s.code).toBe('SP_ERR_STATUS');
  });
});

describe('fuzz: topics', () => {
  it(`resolves ${TOPICS} hostile topics to the right device or refuses them with the right code`, () => {
    const gen = new HostileGenerator(model, new Rng(SEED ^ 0xabcdef), now);
    const byCode = new Map<string, number>();
    for (let i = 0; i < TOPICS; i++) {
      const c = gen.topic(i);
      const what = `${c.name}: ${JSON.stringify(c.topic.slice(0, 120))}`;
      const parsed = parseTopic(c.topic);
      const r = resolveTopic(model, c.topic);
      const code = r.ok ? 'ok' : r.code;
      expect(code, what).toBe(c.expect);
      byCode.set(code, (byCode.get(code) ?? 0) + 1);
      if (r.ok) {
        expect(r.value.device.id, what).toBe(c.device);
        expect(deviceTopic(r.value.device, r.value.channel), what).toBe(c.topic);
      } else checkRefusal(r, what);
      if (c.expect === 'SP_ERR_TOPIC') expect(parsed.ok, what).toBe(false);
      // ingest: a refused topic is dead-lettered with its code, a valid one is parsed further
      const out = toRecords(model, c.topic, Buffer.from('{}'), now, DEFAULT_LIMITS);
      expect(out.kind, what).toBe('refused');
      if (out.kind === 'refused') expect(out.refusal.code, what).toBe(r.ok ? (c.topic.endsWith('/status') ? 'SP_ERR_STATUS' : 'SP_ERR_TIMESTAMP') : code);
    }
    for (const code of ['ok', 'SP_ERR_TOPIC', 'SP_ERR_TOPIC_PATH', 'SP_ERR_UNKNOWN_DEVICE']) expect(byCode.get(code) ?? 0, code).toBeGreaterThanOrEqual(100);
  });
});

describe('fuzz: status payloads', () => {
  it('accepts only {"state": online|offline} with an optional valid ts and info', () => {
    const rng = new Rng(SEED + 1);
    const values = ['"online"', '"offline"', '"ONLINE"', '"on"', 'null', '1', 'true', '[]', '{}', '"online\\u0000"'];
    const infos = [undefined, '"fw 1.2"', '"a\\u0000b"', JSON.stringify('x'.repeat(257)), '1', 'null', JSON.stringify('荣昌\n"x"')];
    const tss = [undefined, String(now), '"2026-11-25T12:00:00Z"', '"soon"', '-5', '1.5', 'null'];
    let n = 0;
    for (let i = 0; i < 2000; i++) {
      const state = rng.pick(values);
      const info = rng.pick(infos);
      const ts = rng.pick(tss);
      const extra = rng.chance(0.1) ? rng.pick(['"__proto__":{"polluted":1}', '"constructor":1', '"state":"offline"']) : undefined;
      const parts = [`"state":${state}`, ...(ts ? [`"ts":${ts}`] : []), ...(info ? [`"info":${info}`] : []), ...(extra ? [extra] : [])];
      const text = `{${parts.join(',')}}`;
      const r = parseStatus(Buffer.from(text));
      const finalState = extra === '"state":"offline"' ? '"offline"' : state;
      const stateOk = finalState === '"online"' || finalState === '"offline"';
      const tsOk = ts === undefined || ts === String(now) || ts === '"2026-11-25T12:00:00Z"';
      const infoOk = info === undefined || info === '"fw 1.2"' || info === JSON.stringify('荣昌\n"x"');
      const want = !stateOk ? 'SP_ERR_STATUS' : !tsOk ? 'SP_ERR_TIMESTAMP' : !infoOk ? (info === '"a\\u0000b"' ? 'SP_ERR_TEXT_NUL' : 'SP_ERR_STATUS') : 'ok';
      expect(r.ok ? 'ok' : r.code, text.slice(0, 100)).toBe(want);
      if (r.ok) {
        n++;
        expect(r.value.state).toBe(JSON.parse(finalState));
        if (info) expect(r.value.info).toBe(JSON.parse(info));
      } else checkRefusal(r, text);
    }
    expect(n).toBeGreaterThan(50);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
