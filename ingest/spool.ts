/**
 * The ingest spool: an append-only log on local disk between the MQTT acknowledgement and the
 * InfluxDB write. A message is appended (one `write(2)`, shared by the messages of one event-loop
 * turn: ingest/ack-batcher.ts) BEFORE its PUBACK goes out, so once a
 * device's broker has been told "received", the reading is in the kernel's page cache of a
 * file: a `kill -9` of ingest loses nothing. (Power loss can lose the last seconds unless the
 * disk is synced; see README "Delivery guarantees".)
 *
 * Layout in `dir`: segment files `000000000001.lp`, ... holding newline-terminated records,
 * and `checkpoint.json` = { segment, offset } of the first byte not yet safely in InfluxDB,
 * padded with spaces to a fixed length and rewritten in place by one pwrite(2) per commit (a
 * write of 64 bytes at offset 0 is never torn by a process crash; the former write-a-temporary-
 * file-then-rename cost ~0.2–2 ms of blocked event loop per commit on this machine). A checkpoint
 * that cannot be parsed (e.g. after a power cut) makes the spool replay from its oldest segment:
 * more is written again, nothing is lost.
 * Segments wholly before the checkpoint are deleted. On start, reading resumes at the
 * checkpoint, so everything appended but not committed is written again (idempotently: points
 * carry device timestamps, and InfluxDB overwrites a point with the same series and time).
 */
import {
  closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync,
  readSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';

export interface SpoolOptions {
  dir: string;
  /** A new segment is started after this many bytes. */
  segmentBytes: number;
}

export interface Chunk {
  /** Whole records, newline-terminated. */
  text: string;
  segment: number;
  /** Offset just past the chunk in its segment. */
  end: number;
  bytes: number;
}

const name = (n: number) => `${String(n).padStart(12, '0')}.lp`;

/** Length of checkpoint.json: `{"segment":…,"offset":…}` padded with spaces, then a newline. */
const CHECKPOINT_BYTES = 64;

function parseCheckpoint(text: string): { segment: number; offset: number } | undefined {
  try {
    const cp = JSON.parse(text) as { segment?: unknown; offset?: unknown };
    if (Number.isSafeInteger(cp.segment) && (cp.segment as number) >= 1 && Number.isSafeInteger(cp.offset) && (cp.offset as number) >= 0) {
      return { segment: cp.segment as number, offset: cp.offset as number };
    }
  } catch { /* torn or empty: replay from the oldest segment */ }
  return undefined;
}

export class Spool {
  private readonly dir: string;
  private readonly segmentBytes: number;
  private writeSeg: number;
  private writeFd: number;
  private writeOff: number;
  private readSeg: number;
  private readOff: number;
  private readFd: number | undefined;
  private commitSeg: number;
  private commitOff: number;
  /** Bytes appended and not yet committed (survives restarts: computed at open). */
  private pending = 0;
  private readonly readBuf = Buffer.allocUnsafe(4 * 1024 * 1024);
  private readonly cpFd: number;

  constructor(opts: SpoolOptions) {
    this.dir = opts.dir;
    this.segmentBytes = opts.segmentBytes;
    mkdirSync(this.dir, { recursive: true });
    const segs = this.segments();
    let cp = { segment: segs[0] ?? 1, offset: 0 };
    const cpFile = join(this.dir, 'checkpoint.json');
    const saved = existsSync(cpFile) ? parseCheckpoint(readFileSync(cpFile, 'utf8')) : undefined;
    if (saved) cp = saved;
    this.commitSeg = this.readSeg = cp.segment;
    this.commitOff = this.readOff = cp.offset;
    this.writeSeg = Math.max(segs.at(-1) ?? 1, cp.segment);
    this.writeFd = openSync(join(this.dir, name(this.writeSeg)), 'a+');
    this.writeOff = fstatSync(this.writeFd).size;
    this.repairTail();
    for (const s of segs) {
      if (s < cp.segment) unlinkSync(join(this.dir, name(s)));
      else if (s === cp.segment) this.pending += this.sizeOf(s) - cp.offset;
      else this.pending += this.sizeOf(s);
    }
    this.cpFd = openSync(cpFile, existsSync(cpFile) ? 'r+' : 'w+');
    this.writeCheckpoint();
    ftruncateSync(this.cpFd, CHECKPOINT_BYTES);
  }

  private writeCheckpoint(): void {
    const text = JSON.stringify({ segment: this.commitSeg, offset: this.commitOff }).padEnd(CHECKPOINT_BYTES - 1, ' ') + '\n';
    writeSync(this.cpFd, text, 0, 'latin1');
  }

  private segments(): number[] {
    return readdirSync(this.dir).filter((f) => /^\d{12}\.lp$/.test(f)).map((f) => Number(f.slice(0, 12))).sort((a, b) => a - b);
  }

  private sizeOf(seg: number): number {
    return seg === this.writeSeg ? this.writeOff : statSync(join(this.dir, name(seg))).size;
  }

  /** A record cut by a crash mid-append (never acknowledged) is dropped from the tail. */
  private repairTail(): void {
    if (this.writeOff === 0) return;
    const probe = Buffer.alloc(Math.min(this.writeOff, 1 << 20));
    const start = this.writeOff - probe.length;
    readSync(this.writeFd, probe, 0, probe.length, start);
    const last = probe.lastIndexOf(0x0a);
    const keep = last < 0 ? start : start + last + 1;
    if (keep !== this.writeOff) {
      ftruncateSync(this.writeFd, keep);
      this.writeOff = keep;
    }
  }

  /** Appends whole records (each ending in '\n'). Synchronous on purpose: the ack waits for it. */
  append(records: string): number {
    const buf = Buffer.from(records, 'utf8');
    if (this.writeOff >= this.segmentBytes) this.rotate();
    let off = 0;
    while (off < buf.length) off += writeSync(this.writeFd, buf, off, buf.length - off);
    this.writeOff += buf.length;
    this.pending += buf.length;
    return buf.length;
  }

  private rotate(): void {
    closeSync(this.writeFd);
    this.writeSeg++;
    this.writeFd = openSync(join(this.dir, name(this.writeSeg)), 'a+');
    this.writeOff = 0;
  }

  /** Bytes appended and not yet committed. */
  get pendingBytes(): number {
    return this.pending;
  }

  /**
   * The next chunk of whole records after what was last read, at most `maxBytes`, or
   * undefined when nothing is waiting. Reads come from the page cache in normal running.
   */
  read(maxBytes: number): Chunk | undefined {
    for (;;) {
      if (this.readFd === undefined) this.readFd = openSync(join(this.dir, name(this.readSeg)), 'r');
      const limit = this.readSeg === this.writeSeg ? this.writeOff : fstatSync(this.readFd).size;
      const avail = limit - this.readOff;
      if (avail <= 0) {
        if (this.readSeg < this.writeSeg) {
          closeSync(this.readFd);
          this.readFd = undefined;
          this.readSeg++;
          this.readOff = 0;
          continue;
        }
        return undefined;
      }
      const want = Math.min(avail, maxBytes, this.readBuf.length);
      const n = readSync(this.readFd, this.readBuf, 0, want, this.readOff);
      let cut = this.readBuf.lastIndexOf(0x0a, n - 1);
      if (cut < 0) {
        if (want < avail) throw new Error(`spool record longer than ${want} bytes at ${name(this.readSeg)}:${this.readOff}`);
        return undefined; // a record still being written (cannot happen with synchronous appends)
      }
      cut += 1;
      const chunk: Chunk = { text: this.readBuf.toString('utf8', 0, cut), segment: this.readSeg, end: this.readOff + cut, bytes: cut };
      this.readOff += cut;
      return chunk;
    }
  }

  /** Marks everything up to the end of `chunk` as safely stored; frees finished segments. */
  commit(chunk: Chunk): void {
    for (let s = this.commitSeg; s < chunk.segment; s++) {
      try {
        unlinkSync(join(this.dir, name(s)));
      } catch { /* already gone */ }
    }
    this.commitSeg = chunk.segment;
    this.commitOff = chunk.end;
    this.pending -= chunk.bytes;
    this.writeCheckpoint();
  }

  close(): void {
    closeSync(this.cpFd);
    closeSync(this.writeFd);
    if (this.readFd !== undefined) closeSync(this.readFd);
  }
}
