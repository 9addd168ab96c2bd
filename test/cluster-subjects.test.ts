/**
 * The cluster profile's naming (cluster/subjects.ts, cluster/mqtt-relay.ts), without servers: the
 * partition of a device is stable and spreads the park's devices; a subject is built only from a
 * safe device id; the message id is the same for the same topic and payload and differs otherwise;
 * MQTT topics and filters map onto NATS subjects only where NATS can carry them.
 */
import { describe, expect, it } from 'vitest';
import { filterSubject, topicSubject } from '../cluster/mqtt-relay.ts';
import { fnv1a32, parseTeleSubject, partitionOf, partitionsOfDescription, streamDescription, teleMsgId, teleSubject } from '../cluster/subjects.ts';
import { loadParkModel } from '../core/model-file.ts';

describe('cluster subjects', () => {
  it('hashes device ids stably (FNV-1a 32) and spreads the park over the partitions', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c); // the published FNV-1a test vector
    const counts = new Array<number>(16).fill(0);
    for (const id of loadParkModel().devices.keys()) counts[partitionOf(id, 16)]!++;
    expect(counts.filter((n) => n > 0).length).toBeGreaterThanOrEqual(12);
  });

  it('builds subjects only from safe ids, and parses them back', () => {
    expect(teleSubject(3, 'wm-kiln-1', 'telemetry')).toBe('tele.3.wm-kiln-1.telemetry');
    for (const bad of ['a.b', 'a*', 'a>', 'a b', '', 'A', 'x/y']) expect(teleSubject(0, bad, 'status')).toBeUndefined();
    expect(parseTeleSubject('tele.3.wm-kiln-1.telemetry')).toEqual({ partition: 3, device: 'wm-kiln-1', channel: 'telemetry' });
    for (const bad of ['tele.x.d.telemetry', 'tele.1.d.other', 'tele.1.d', 'other.1.d.status']) expect(parseTeleSubject(bad)).toBeUndefined();
    expect(partitionsOfDescription(streamDescription(16))).toBe(16);
    expect(partitionsOfDescription('something else')).toBeUndefined();
  });

  it('gives a resend the same message id and a different reading another', () => {
    const t = 'sp/v1/p/e/w/d1/telemetry';
    const a = teleMsgId('d1', t, Buffer.from('{"ts":1,"seq":1}'));
    expect(teleMsgId('d1', t, Buffer.from('{"ts":1,"seq":1}'))).toBe(a);
    expect(teleMsgId('d1', t, Buffer.from('{"ts":2,"seq":2}'))).not.toBe(a);
    expect(teleMsgId('d1', 'sp/v1/p/e/w/d1/status', Buffer.from('{"ts":1,"seq":1}'))).not.toBe(a);
    expect(a).toMatch(/^d1:[A-Za-z0-9_-]{43}$/);
  });

  it('maps MQTT topics and filters onto NATS subjects where NATS can carry them', () => {
    expect(topicSubject('sp/v1/p/e/w/d1/status', true)).toBe('mqttr.sp.v1.p.e.w.d1.status');
    expect(topicSubject('sp/v1/_sys/alarms', false)).toBe('mqtt.sp.v1._sys.alarms');
    expect(topicSubject('spBv1.0/g/NDATA/n', false)).toBeUndefined(); // '.' is NATS's separator
    expect(topicSubject('a//b', false)).toBeUndefined();
    expect(filterSubject('sp/v1/#')).toBe('mqtt.sp.v1.>');
    expect(filterSubject('sp/v1/+/+/+/+/telemetry')).toBe('mqtt.sp.v1.*.*.*.*.telemetry');
    expect(filterSubject('#')).toBe('mqtt.>');
    expect(filterSubject('$SYS/#')).toBeUndefined();
    expect(filterSubject('a/#/b')).toBeUndefined();
  });
});
