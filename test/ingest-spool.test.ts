/**
 * The spool that makes the PUBACK safe: records survive a crash (an un-closed spool reopened),
 * reading resumes at the checkpoint, segments rotate and are freed, and a torn tail is cut.
 */
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { splitChunk, DLQ_MARK } from '../ingest/records.ts';
import { Spool } from '../ingest/spool.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'spool-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const drain = (s: Spool, max = 64) => {
  const out: string[] = [];
  for (let c = s.read(max); c; c = s.read(max)) {
    out.push(...c.text.split('\n').filter(Boolean));
    s.commit(c);
  }
  return out;
};

describe('spool', () => {
  it('hands out whole records in order and frees committed segments', () => {
    const dir = tmp();
    const s = new Spool({ dir, segmentBytes: 100 });
    const recs = Array.from({ length: 50 }, (_, i) => `m,d=x v=${i} ${i}`);
    for (const r of recs) s.append(`${r}\n`);
    expect(readdirSync(dir).filter((f) => f.endsWith('.lp')).length).toBeGreaterThan(5);
    expect(drain(s)).toEqual(recs);
    expect(s.pendingBytes).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.lp')).length).toBe(1);
    s.close();
  });

  it('replays everything after the checkpoint when reopened after a crash', () => {
    const dir = tmp();
    const a = new Spool({ dir, segmentBytes: 120 });
    for (let i = 0; i < 30; i++) a.append(`m v=${i} ${i}\n`);
    // read and commit the first chunk, read a second one without committing, then "crash" (no close)
    const c1 = a.read(60)!;
    a.commit(c1);
    a.read(60);
    const committed = c1.text.split('\n').filter(Boolean).length;
    const b = new Spool({ dir, segmentBytes: 120 });
    const rest = drain(b);
    expect(rest).toEqual(Array.from({ length: 30 - committed }, (_, i) => `m v=${i + committed} ${i + committed}`));
    b.append('m v=99 99\n');
    expect(drain(b)).toEqual(['m v=99 99']);
  });

  it('cuts a torn last record (written only in part when the process died)', () => {
    const dir = tmp();
    const a = new Spool({ dir, segmentBytes: 1 << 20 });
    a.append('m v=1 1\n');
    a.close();
    appendFileSync(join(dir, '000000000001.lp'), 'm v=2 2'); // no newline: never acknowledged
    const b = new Spool({ dir, segmentBytes: 1 << 20 });
    b.append('m v=3 3\n');
    expect(drain(b)).toEqual(['m v=1 1', 'm v=3 3']);
  });

  it('keeps dead letters apart from points and restores line breaks inside string fields', () => {
    const text = `m s="a\0b" 1\n${DLQ_MARK}{"topic":"t","code":"SP_ERR_PAYLOAD_JSON","reason":"r","receivedAt":1,"payload":"x","payloadEncoding":"utf8"}\nm v=2 2\n`;
    const { body, points, deadLetters } = splitChunk(text);
    expect(body).toBe('m s="a\nb" 1\nm v=2 2\n');
    expect(points).toBe(2);
    expect(deadLetters.map((d) => d.code)).toEqual(['SP_ERR_PAYLOAD_JSON']);
  });
});
