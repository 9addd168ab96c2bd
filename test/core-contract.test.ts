import { describe, expect, it } from 'vitest';
import { parseStatus, parseTelemetry, parseTopic, resolveTopic, deviceTopic, DEFAULT_LIMITS } from '../core/contract.ts';
import { loadParkModel } from '../core/model-file.ts';
import { readingToLine } from '../core/influx/line-protocol.ts';

const model = loadParkModel();
const kiln = model.devices.get('wm-kiln-1')!;
const now = Date.UTC(2026, 10, 25, 12);
const enc = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));
const code = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);

describe('message contract', () => {
  it('derives each device topic from the model and resolves it back', () => {
    expect(deviceTopic(kiln, 'telemetry')).toBe('sp/v1/guangfu/weimei/tile/wm-kiln-1/telemetry');
    const r = resolveTopic(model, 'sp/v1/guangfu/weimei/tile/wm-kiln-1/status');
    expect(r.ok && r.value.device.id === 'wm-kiln-1' && r.value.channel === 'status').toBe(true);
    expect(code(resolveTopic(model, 'sp/v1/banqiao/weimei/tile/wm-kiln-1/telemetry'))).toBe('SP_ERR_TOPIC_PATH');
    expect(code(resolveTopic(model, 'sp/v1/guangfu/weimei/tile/wm-kiln-9/telemetry'))).toBe('SP_ERR_UNKNOWN_DEVICE');
    for (const t of ['sp/v1/guangfu/weimei/tile/wm-kiln-1', 'sp/v2/guangfu/weimei/tile/wm-kiln-1/telemetry', 'sp/v1/g/w/t/wm kiln/telemetry', 'sp/v1/g/w/t/d/commands', 'sp/v1/g/w/t/d,x=1/telemetry']) {
      expect(code(parseTopic(t)), t).toBe('SP_ERR_TOPIC');
    }
  });

  it('accepts one reading or a batch, epoch ms or RFC 3339 time', () => {
    const one = parseTelemetry(enc({ ts: now, seq: 3, metrics: { t_firing: 1190.5, run_state: 'running' } }), kiln, now);
    expect(one).toEqual({ ok: true, value: [{ ts: now, seq: 3, metrics: { t_firing: 1190.5, run_state: 'running' } }] });
    const batch = parseTelemetry(enc({ readings: [{ ts: '2026-11-25T11:59:00Z', metrics: { gas_flow: 600 } }, { ts: now, metrics: { gas_flow: 610 } }] }), kiln, now);
    expect(batch.ok && batch.value.map((r) => r.ts)).toEqual([now - 60_000, now]);
  });

  it('refuses each kind of bad payload with its own code and a reason naming the culprit', () => {
    const cases: [unknown, string, string?][] = [
      ['{oops', 'SP_ERR_PAYLOAD_JSON'],
      [Buffer.from([0xff, 0xfe]), 'SP_ERR_PAYLOAD_JSON'],
      [[1, 2], 'SP_ERR_PAYLOAD_SHAPE'],
      [{ ts: now, metrics: {} }, 'SP_ERR_NO_METRICS'],
      [{ ts: now, metrics: { t_firing: '1190' } }, 'SP_ERR_METRIC_TYPE', 't_firing'],
      [{ ts: now, metrics: { t_fire: 1 } }, 'SP_ERR_UNKNOWN_METRIC', 't_fire'],
      [{ ts: now, metrics: { run_state: 'dancing' } }, 'SP_ERR_ENUM_VALUE', 'dancing'],
      [{ ts: now + 3_600_000, metrics: { gas_flow: 1 } }, 'SP_ERR_TS_FUTURE'],
      [{ ts: now - 30 * 86_400_000, metrics: { gas_flow: 1 } }, 'SP_ERR_TS_PAST'],
      [{ ts: 'yesterday', metrics: { gas_flow: 1 } }, 'SP_ERR_TIMESTAMP'],
      [{ ts: now, seq: -1, metrics: { gas_flow: 1 } }, 'SP_ERR_SEQ'],
      [{ ts: now, metrics: { gas_flow: 1 }, extra: 1 }, 'SP_ERR_PAYLOAD_SHAPE', 'extra'],
      [{ readings: [] }, 'SP_ERR_PAYLOAD_SHAPE'],
      [{ readings: [{ ts: now, metrics: { gas_flow: 1 } }, { ts: now, metrics: { gas_flow: null } }] }, 'SP_ERR_METRIC_TYPE', 'readings[1]'],
      [{ readings: Array.from({ length: 1001 }, () => ({ ts: now, metrics: { gas_flow: 1 } })) }, 'SP_ERR_BATCH_SIZE'],
    ];
    for (const [payload, c, mention] of cases) {
      const r = parseTelemetry(Buffer.isBuffer(payload) ? payload : enc(payload), kiln, now);
      expect(code(r), JSON.stringify(payload).slice(0, 60)).toBe(c);
      if (mention && !r.ok) expect(r.reason).toContain(mention);
    }
    expect(code(parseTelemetry(enc(`{"ts": ${now}, "metrics": {"gas_flow": 1e999}}`), kiln, now))).toBe('SP_ERR_NON_FINITE');
    const meter = model.devices.get('wm-em-main')!;
    expect(code(parseTelemetry(enc({ ts: now, metrics: { energy: -5 } }), meter, now))).toBe('SP_ERR_COUNTER_NEGATIVE');
    const bio = model.devices.get('al-bio-1')!;
    expect(code(parseTelemetry(enc({ ts: now, metrics: { batch_id: 'x'.repeat(65) } }), bio, now))).toBe('SP_ERR_TEXT_LENGTH');
    expect(code(parseTelemetry(enc({ ts: now, metrics: { batch_id: 'a\u0000b' } }), bio, now))).toBe('SP_ERR_TEXT_NUL');
    expect(code(parseTelemetry(Buffer.alloc(DEFAULT_LIMITS.maxPayloadBytes + 1, 0x20), kiln, now))).toBe('SP_ERR_PAYLOAD_SIZE');
  });

  it('parses status messages', () => {
    expect(parseStatus(enc({ state: 'online', ts: now, info: 'fw 1.2' }))).toEqual({ ok: true, value: { state: 'online', ts: now, info: 'fw 1.2' } });
    expect(code(parseStatus(enc({ state: 'maybe' })))).toBe('SP_ERR_STATUS');
  });

  it('maps a reading to one point with model tags and typed fields', () => {
    const line = readingToLine(kiln, { ts: now, seq: 7, metrics: { t_firing: 1190, run_state: 'running' } });
    expect(line).toBe(`roller_kiln,device=wm-kiln-1,enterprise=weimei,line=line1,park=guangfu,workshop=tile t_firing=1190,run_state="running",seq=7i ${now}`);
    const cold = model.devices.get('al-cold-1')!;
    expect(readingToLine(cold, { ts: 1, metrics: { door_open: true } })).toBe('cold_room,device=al-cold-1,enterprise=aolong,park=banqiao,workshop=vaccine door_open=true 1');
  });
});
