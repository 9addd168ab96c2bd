/**
 * The spool's checkpoint file: rewritten in place (one pwrite per commit, fixed length) instead
 * of a temporary file and a rename; a checkpoint of the earlier format is still read; a torn or
 * garbled one makes the spool replay from its oldest segment (more written again, nothing lost).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool } from '../ingest/spool.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'spool-cp-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const lines = (s: Spool, max = 1 << 20) => {
  const out: string[] = [];
  for (let c = s.read(max); c; c = s.read(max)) out.push(...c.text.split('\n').filter(Boolean));
  return out;
};

describe('spool checkpoint', () => {
  it('is one fixed-length JSON file, rewritten in place at each commit', () => {
    const dir = tmp();
    const s = new Spool({ dir, segmentBytes: 1 << 20 });
    const file = join(dir, 'checkpoint.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ segment: 1, offset: 0 });
    const ino = statSync(file).ino;
    for (let i = 0; i < 5; i++) s.append(`m v=${i} ${i}\n`);
    for (let c = s.read(12); c; c = s.read(12)) {
      s.commit(c);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ segment: c.segment, offset: c.end });
      expect(statSync(file).size).toBe(64);
    }
    expect(statSync(file).ino).toBe(ino); // the same file: no temporary file renamed over it
    expect(readdirSync(dir).filter((f) => f.startsWith('checkpoint'))).toEqual(['checkpoint.json']);
    s.close();
  });

  it('reads a checkpoint written by the earlier format (short JSON) and resumes after it', () => {
    const dir = tmp();
    const a = new Spool({ dir, segmentBytes: 1 << 20 });
    for (let i = 0; i < 4; i++) a.append(`m v=${i} ${i}\n`); // 8 bytes each
    a.close();
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ segment: 1, offset: 16 })); // as the rename version wrote it
    const b = new Spool({ dir, segmentBytes: 1 << 20 });
    expect(b.pendingBytes).toBe(16);
    expect(lines(b)).toEqual(['m v=2 2', 'm v=3 3']);
    expect(statSync(join(dir, 'checkpoint.json')).size).toBe(64);
    b.close();
  });

  it('replays from the oldest segment when the checkpoint is torn or garbled', () => {
    for (const bad of ['', '{"segment":1,"off', 'garbage', '{"segment":0,"offset":5}', '{"segment":1,"offset":-1}', '\0'.repeat(64)]) {
      const dir = tmp();
      const a = new Spool({ dir, segmentBytes: 24 }); // a few records per segment
      for (let i = 0; i < 9; i++) a.append(`m v=${i} ${i}\n`);
      a.close();
      writeFileSync(join(dir, 'checkpoint.json'), bad);
      const b = new Spool({ dir, segmentBytes: 24 });
      expect(lines(b), JSON.stringify(bad)).toEqual(Array.from({ length: 9 }, (_, i) => `m v=${i} ${i}`));
      b.close();
    }
  });

  it('creates the checkpoint on first open and keeps working after a crash (no close)', () => {
    const dir = tmp();
    expect(existsSync(join(dir, 'checkpoint.json'))).toBe(false);
    const a = new Spool({ dir, segmentBytes: 1 << 20 });
    for (let i = 0; i < 6; i++) a.append(`m v=${i} ${i}\n`);
    const c = a.read(24)!;
    a.commit(c);
    // "crash": reopen without closing
    const b = new Spool({ dir, segmentBytes: 1 << 20 });
    expect(lines(b)).toEqual(['m v=3 3', 'm v=4 4', 'm v=5 5']);
    b.close();
    a.close();
  });
});
