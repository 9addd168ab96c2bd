/**
 * The gateway's store-and-forward buffer and forwarder on a real disk, without a broker: records
 * of one event-loop turn in one write, commit only after the acknowledgement and in order,
 * restart from the checkpoint (a torn tail dropped), the bound (warning at 80 %, oldest segment
 * dropped and counted), batches within the contract's limits, a bounded in-flight window, and
 * readings too old for ingest left out.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type DevicePlace } from '../core/contract.ts';
import { ReadingBuffer, type BufferOptions } from '../gateway/buffer.ts';
import { encodeRecord, Forwarder } from '../gateway/forwarder.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sp-gw-buffer-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const open = (dir: string, o: Partial<BufferOptions> = {}) => new ReadingBuffer({ dir, maxBytes: 1 << 20, segmentBytes: 64 * 1024, warnRatio: 0.8, ...o });
const turn = () => new Promise((r) => setImmediate(r));
const rec = (i: number, device = 'd1') => encodeRecord(device, 1_764_000_000_000 + i, { v: i });
const place = (id: string): DevicePlace => ({ park: 'p', enterprise: 'e', workshop: 'w', id });

describe('gateway buffer', () => {
  it('writes the records of one event-loop turn in one append, and reads them back in order', async () => {
    const b = open(tmp());
    let appends = 0;
    b.on('appended', () => appends++);
    for (let i = 0; i < 100; i++) b.append(rec(i));
    await turn();
    expect(appends).toBe(1);
    expect(b.pendingRecords).toBe(100);
    const c = b.next(1 << 20)!;
    expect(c.lines).toEqual(Array.from({ length: 100 }, (_, i) => rec(i)));
    expect(b.next(1 << 20)).toBeUndefined();
    b.close();
  });

  it('after a restart, sends again everything after the checkpoint, and drops a record torn by a crash', async () => {
    const dir = tmp();
    const b = open(dir);
    for (let i = 0; i < 10; i++) b.append(rec(i));
    b.flush();
    const c = b.next(60)!; // a few records
    b.ack(c.end, c.lines.length);
    const acked = c.lines.length;
    b.next(1 << 20); // read but never acknowledged
    b.close();
    const seg = join(dir, readdirSync(dir).find((f) => f.endsWith('.log'))!);
    writeFileSync(seg, readFileSync(seg, 'utf8') + 'd1 {"ts":17640000', { flag: 'w' }); // a torn append
    const b2 = open(dir);
    expect(b2.pendingRecords).toBe(10 - acked);
    const again = b2.next(1 << 20)!;
    expect(again.lines).toEqual(Array.from({ length: 10 - acked }, (_, i) => rec(acked + i)));
    expect(readFileSync(seg, 'utf8').endsWith('\n')).toBe(true);
    b2.close();
  });

  it('warns at 80 % of the bound and at the bound drops the oldest segment, counted', async () => {
    const dir = tmp();
    const b = open(dir, { maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    const warnings: number[] = [];
    const drops: number[] = [];
    b.on('filling', (i) => warnings.push(i.diskBytes));
    b.on('dropped', (i) => drops.push(i.records));
    const line = rec(0); // ~44 bytes
    let n = 0;
    while (warnings.length === 0) {
      b.append(rec(n++));
      if (n % 50 === 0) b.flush();
    }
    expect(warnings[0]).toBeGreaterThan(0.8 * 64 * 1024);
    expect(drops).toEqual([]);
    for (let k = 0; k < 2000; k++) b.append(rec(n++));
    b.flush();
    expect(b.diskBytes).toBeLessThanOrEqual(64 * 1024 + 2000 * (line.length + 1));
    for (let k = 0; k < 50; k++) { b.append(rec(n++)); b.flush(); }
    expect(b.diskBytes).toBeLessThanOrEqual(64 * 1024);
    expect(drops.length).toBeGreaterThan(0);
    expect(b.counts.dropped).toBe(drops.reduce((x, y) => x + y, 0));
    expect(b.pendingRecords).toBe(n - b.counts.dropped);
    // what is left is the newest, in order, ending with the last record
    const lines: string[] = [];
    for (let c = b.next(1 << 20); c; c = b.next(1 << 20)) lines.push(...c.lines);
    expect(lines.length).toBe(b.pendingRecords);
    expect(lines.at(-1)).toBe(rec(n - 1));
    expect(lines[0]).toBe(rec(b.counts.dropped));
    b.close();
    const segs = readdirSync(dir).filter((f) => f.endsWith('.log'));
    expect(segs.reduce((s, f) => s + statSync(join(dir, f)).size, 0)).toBeLessThanOrEqual(64 * 1024);
  });
});

describe('gateway forwarder', () => {
  function rig(o: { maxInflight?: number; now?: number } = {}) {
    const b = open(tmp(), { maxBytes: 64 << 20, segmentBytes: 8 << 20 });
    const sent: { topic: string; payload: string; done: (e?: Error) => void }[] = [];
    const devices = new Map(['d1', 'd2'].map((id) => [id, place(id)]));
    const f = new Forwarder({
      buffer: b, devices, connected: () => true, maxInflight: o.maxInflight ?? 4, chunkBytes: 4 << 20,
      limits: DEFAULT_LIMITS, expiryMarginMs: 600_000, now: () => o.now ?? 1_764_000_000_000,
      publish: (topic, payload, done) => sent.push({ topic, payload, done }),
    });
    b.on('appended', () => f.pump());
    return { b, f, sent };
  }

  it('batches a device\'s readings up to 1000 a message, keeps at most maxInflight unacknowledged, and commits only acknowledged chunks, in order', async () => {
    const { b, f, sent } = rig({ maxInflight: 2 });
    for (let i = 0; i < 2500; i++) { b.append(rec(i, 'd1')); b.append(rec(i, 'd2')); }
    await turn();
    expect(sent.length).toBe(2); // the window
    const batch = JSON.parse(sent[0]!.payload) as { readings: { ts: number }[] };
    expect(batch.readings.length).toBe(1000);
    expect(sent[0]!.topic).toBe('sp/v1/p/e/w/d1/telemetry');
    expect(b.pendingRecords).toBe(5000);
    sent[1]!.done(); // acknowledged out of order: nothing is committed before the first
    expect(b.pendingRecords).toBe(5000);
    sent[0]!.done();
    for (let k = 2; k < sent.length; k++) sent[k]!.done();
    for (let guard = 0; guard < 20 && f.inflight > 0; guard++) for (const s of sent.slice()) s.done();
    expect(b.pendingRecords).toBe(0);
    expect(f.counts.acked).toBe(5000);
    const perDevice = sent.filter((s) => s.topic.includes('/d2/')).flatMap((s) => (JSON.parse(s.payload) as { readings: { ts: number }[] }).readings.map((r) => r.ts));
    expect(perDevice).toEqual(Array.from({ length: 2500 }, (_, i) => 1_764_000_000_000 + i));
    expect(sent.every((s) => Buffer.byteLength(s.payload) <= DEFAULT_LIMITS.maxPayloadBytes)).toBe(true);
    b.close();
  });

  it('keeps payloads within 256 KiB, sends one reading as a plain reading, and leaves out readings ingest would refuse as too old', async () => {
    const now = 1_764_000_000_000 + DEFAULT_LIMITS.maxPastMs;
    const { b, sent } = rig({ maxInflight: 1000, now });
    const big = 'x'.repeat(300);
    for (let i = 0; i < 1000; i++) b.append(encodeRecord('d1', now - 1000 + i, { text: big }));
    b.append(encodeRecord('d2', now, { v: 1 }));
    b.append(encodeRecord('d2', 1_764_000_000_000, { v: 2 })); // 7 days old
    await turn();
    const d1 = sent.filter((s) => s.topic.includes('/d1/'));
    expect(d1.length).toBeGreaterThan(1);
    expect(d1.every((s) => Buffer.byteLength(s.payload) <= 256 * 1024)).toBe(true);
    expect(d1.reduce((n, s) => n + (JSON.parse(s.payload) as { readings: unknown[] }).readings.length, 0)).toBe(1000);
    const d2 = sent.filter((s) => s.topic.includes('/d2/'));
    expect(d2.map((s) => JSON.parse(s.payload))).toEqual([{ ts: now, metrics: { v: 1 } }]);
    b.close();
  });

  it('reads again from the checkpoint when a publish fails', async () => {
    const { b, f, sent } = rig({ maxInflight: 4 });
    for (let i = 0; i < 3; i++) b.append(rec(i, 'd1'));
    await turn();
    expect(sent.length).toBe(1);
    sent[0]!.done(new Error('Connection closed'));
    await new Promise((r) => setTimeout(r, 300));
    expect(sent.length).toBe(2);
    expect(sent[1]!.payload).toBe(sent[0]!.payload);
    sent[1]!.done();
    expect(b.pendingRecords).toBe(0);
    expect(f.counts.rewinds).toBe(1);
    b.close();
  });
});
