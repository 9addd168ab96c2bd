/**
 * Ingest's alarm wiring without servers: events become spool records that the writer's
 * splitChunk turns back into an `alarm_events` point and an event to publish; the silence timer
 * appends its events; an instance arms rules only for the devices its topic filters cover; events
 * of a previous run replayed from the spool rebuild state, this run's own do not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseAlarmRules } from '../core/alarms/rules.ts';
import { deviceTopic } from '../core/contract.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { Registry } from '../core/metrics.ts';
import { loadParkModel } from '../core/model-file.ts';
import { IngestAlarms, topicMatches } from '../ingest/alarms.ts';
import { splitChunk, toRecords } from '../ingest/records.ts';
import { DEFAULT_LIMITS } from '../core/contract.ts';

const model = loadParkModel();
const rules = parseAlarmRules({
  rules: [
    { id: 'cold', type: 'threshold', kind: 'cold_room', metric: 'temp', above: { rated: 'highC' }, for: '0', severity: 'critical' },
    { id: 'silent', type: 'silence', kind: 'cold_room', factor: 2, severity: 'warning' },
  ],
}, model);
const running: IngestAlarms[] = [];
afterEach(() => { for (const a of running.splice(0)) a.stop(); });

function make(clock: { now: number }, topics?: string[]) {
  const appended: string[] = [];
  const a = new IngestAlarms({
    rules, model, influx: new InfluxClient({ url: 'http://127.0.0.1:9', db: 'none', timeoutMs: 100 }), metrics: new Registry(),
    append: (r) => appended.push(r), tickMs: 10, retryMaxMs: 1000, clock: () => clock.now, ...(topics ? { topics } : {}),
  });
  running.push(a);
  return { a, appended };
}

describe('ingest alarms', () => {
  it('spools a raise as an alarm_events point plus the event, which the writer splits back', () => {
    const clock = { now: Date.now() };
    const { a } = make(clock);
    const dev = model.devices.get('al-cold-1')!;
    const out = toRecords(model, deviceTopic(dev, 'telemetry'), Buffer.from(JSON.stringify({ ts: clock.now - 1000, metrics: { temp: 9 } })), clock.now, DEFAULT_LIMITS);
    if (out.kind !== 'points') throw new Error('refused');
    const records = a.evaluate(out.device!, out.readings!);
    const chunk = splitChunk(out.records + records);
    expect(chunk.points).toBe(2);
    expect(chunk.body.split('\n')[1]).toMatch(/^alarm_events,device=al-cold-1,enterprise=aolong,kind=cold_room,park=banqiao,rule=cold,severity=critical,workshop=vaccine state="raised",alarm_id="cold:al-cold-1:\d+",metric="temp",value=9,threshold=8,/);
    expect(chunk.alarmEvents).toMatchObject([{ id: `cold:al-cold-1:${clock.now - 1000}`, state: 'raised', value: 9 }]);
    expect(a.evaluate(out.device!, [{ ts: clock.now, metrics: { temp: 9.5 } }])).toBe(''); // already raised
  });

  it('raises silence from the timer, only for devices this instance subscribes to', async () => {
    const clock = { now: Date.now() };
    const { a, appended } = make(clock, ['sp/v1/ronglong/#']);
    a.start();
    clock.now += 20_001; // 2 × 10 s
    await new Promise((r) => setTimeout(r, 50));
    const events = splitChunk(appended.join('')).alarmEvents;
    expect(events.map((e) => `${e.rule}:${e.device}`)).toEqual(['silent:rf-cold-1']);
    expect(a.engine.open()).toEqual([{ rule: 'silent', device: 'rf-cold-1', id: events[0]!.id }]);
  });

  it('rebuilds from events of a previous run replayed from the spool, not from its own', () => {
    const clock = { now: Date.now() };
    const { a } = make(clock);
    const old = { id: 'cold:al-cold-2:1000', state: 'raised', rule: 'cold', device: 'al-cold-2', ts: 1000, raisedAt: 1000, metric: 'temp', emittedAt: clock.now - 5000 };
    const mine = { ...old, id: 'cold:al-cold-1:2000', device: 'al-cold-1', ts: 2000, raisedAt: 2000, emittedAt: clock.now };
    a.stored([old, mine] as never);
    expect(a.engine.open()).toEqual([{ rule: 'cold', device: 'al-cold-2', id: old.id }]);
  });

  it('matches MQTT filters', () => {
    expect(topicMatches('sp/v1/#', 'sp/v1/a/b/c/d/telemetry')).toBe(true);
    expect(topicMatches('sp/v1/+/b/#', 'sp/v1/a/b/c/d/telemetry')).toBe(true);
    expect(topicMatches('sp/v1/+/x/#', 'sp/v1/a/b/c/d/telemetry')).toBe(false);
    expect(topicMatches('sp/v1/+/+/+/+/telemetry', 'sp/v1/a/b/c/d/telemetry')).toBe(true);
    expect(topicMatches('sp/v1/+/+/+/+/status', 'sp/v1/a/b/c/d/telemetry')).toBe(false);
  });
});
