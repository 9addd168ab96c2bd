/**
 * The store-and-forward buffer: every reading is appended here before it is published, and is
 * committed only after the broker's PUBACK. An append-only log like ingest's spool, but bounded:
 *
 *   - segment files `000000000001.log`, ... of newline-terminated records; the records of one
 *     event-loop turn go to disk in one write(2) (`append` queues, a setImmediate writes), so a
 *     `kill -9` loses at most the records of the turn in progress;
 *   - `checkpoint.json` = { segment, offset } of the first record not yet acknowledged, padded to
 *     a fixed length and rewritten in place by one pwrite(2) per commit; an unreadable checkpoint
 *     replays from the oldest segment (more is sent again, nothing is lost);
 *   - at most `maxBytes` on disk: past it the OLDEST segment is deleted and its unacknowledged
 *     records are counted as dropped (the newest readings matter most: counters are cumulative,
 *     so a later reading carries what an older one would have said). A warning event fires when
 *     disk use passes `warnRatio` of the bound.
 * Reads resume at the checkpoint after a restart: what was read but not acknowledged is read
 * again (duplicates are harmless, a reading is keyed by device and ts).
 */
import { EventEmitter } from 'node:events';
import {
  closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync,
  readSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';

export interface BufferOptions {
  dir: string;
  /** Bound on the bytes the segments take on disk. */
  maxBytes: number;
  /** A new segment is started once the current one holds this many bytes. */
  segmentBytes: number;
  /** The `filling` event fires when disk use passes this share of maxBytes. */
  warnRatio: number;
}

export interface Position { segment: number; offset: number }

export interface Chunk {
  /** Whole records, without their newline. */
  lines: string[];
  /** Just past the chunk's last record. */
  end: Position;
  bytes: number;
}

export interface BufferEvents {
  /** Records reached the disk (the forwarder may read them). */
  appended: [records: number];
  /** Disk use passed warnRatio × maxBytes; fires again only after it fell below half of that. */
  filling: [info: { diskBytes: number; maxBytes: number }];
  /** The oldest segment was deleted at the bound; `records` were not yet acknowledged. */
  dropped: [info: { segment: number; records: number; bytes: number }];
  /** A write failed (e.g. the disk is full); `records` could not be kept. */
  writeError: [err: Error, records: number];
}

const CHECKPOINT_BYTES = 64;
const name = (n: number) => `${String(n).padStart(12, '0')}.log`;
const before = (a: Position, b: Position) => a.segment < b.segment || (a.segment === b.segment && a.offset < b.offset);

function parseCheckpoint(text: string): Position | undefined {
  try {
    const cp = JSON.parse(text) as { segment?: unknown; offset?: unknown };
    if (Number.isSafeInteger(cp.segment) && (cp.segment as number) >= 1 && Number.isSafeInteger(cp.offset) && (cp.offset as number) >= 0) {
      return { segment: cp.segment as number, offset: cp.offset as number };
    }
  } catch { /* torn or empty: replay from the oldest segment */ }
  return undefined;
}

export class ReadingBuffer extends EventEmitter<BufferEvents> {
  private readonly o: BufferOptions;
  /** Segment number -> size on disk. */
  private readonly sizes = new Map<number, number>();
  private writeSeg: number;
  private writeFd: number;
  private read: Position;
  private readFd: number | undefined;
  private readFdSeg = 0;
  private commit: Position;
  private readonly cpFd: number;
  private queued: string[] = [];
  private scheduled = false;
  private warned = false;
  private closed = false;
  private readonly readBuf = Buffer.allocUnsafe(4 * 1024 * 1024);
  /** Records on disk after the checkpoint. */
  pendingRecords = 0;
  /** Records appended, dropped at the bound, lost to a failed write, since start. */
  readonly counts = { appended: 0, dropped: 0, writeErrors: 0, lostToWriteErrors: 0 };

  constructor(opts: BufferOptions) {
    super();
    this.o = opts;
    mkdirSync(opts.dir, { recursive: true });
    const segs = readdirSync(opts.dir).filter((f) => /^\d{12}\.log$/.test(f)).map((f) => Number(f.slice(0, 12))).sort((a, b) => a - b);
    for (const s of segs) this.sizes.set(s, statSync(this.path(s)).size);
    const cpFile = join(opts.dir, 'checkpoint.json');
    const oldest = segs[0] ?? 1;
    let cp = (existsSync(cpFile) ? parseCheckpoint(readFileSync(cpFile, 'utf8')) : undefined) ?? { segment: oldest, offset: 0 };
    if (cp.segment < oldest) cp = { segment: oldest, offset: 0 }; // its segment was dropped
    this.writeSeg = Math.max(segs.at(-1) ?? 1, cp.segment);
    this.writeFd = openSync(this.path(this.writeSeg), 'a+');
    this.sizes.set(this.writeSeg, fstatSync(this.writeFd).size);
    this.repairTail();
    for (const s of [...this.sizes.keys()]) {
      if (s < cp.segment) this.unlink(s);
      else this.pendingRecords += this.countLines(s, s === cp.segment ? cp.offset : 0);
    }
    this.commit = { ...cp };
    this.read = { ...cp };
    this.cpFd = openSync(cpFile, existsSync(cpFile) ? 'r+' : 'w+');
    this.writeCheckpoint();
    ftruncateSync(this.cpFd, CHECKPOINT_BYTES);
  }

  private path(seg: number): string {
    return join(this.o.dir, name(seg));
  }

  private unlink(seg: number): void {
    try {
      unlinkSync(this.path(seg));
    } catch { /* already gone */ }
    this.sizes.delete(seg);
  }

  private writeCheckpoint(): void {
    const text = JSON.stringify(this.commit).padEnd(CHECKPOINT_BYTES - 1, ' ') + '\n';
    writeSync(this.cpFd, text, 0, 'latin1');
  }

  /** A record cut by a crash mid-append is dropped from the tail (it was never published). */
  private repairTail(): void {
    const size = this.sizes.get(this.writeSeg)!;
    if (size === 0) return;
    const probe = Buffer.alloc(Math.min(size, 1 << 20));
    const start = size - probe.length;
    readSync(this.writeFd, probe, 0, probe.length, start);
    const last = probe.lastIndexOf(0x0a);
    const keep = last < 0 ? start : start + last + 1;
    if (keep !== size) {
      ftruncateSync(this.writeFd, keep);
      this.sizes.set(this.writeSeg, keep);
    }
  }

  private countLines(seg: number, from: number): number {
    const size = this.sizes.get(seg) ?? 0;
    if (from >= size) return 0;
    const fd = seg === this.writeSeg ? this.writeFd : openSync(this.path(seg), 'r');
    let n = 0;
    try {
      for (let off = from; off < size;) {
        const got = readSync(fd, this.readBuf, 0, Math.min(this.readBuf.length, size - off), off);
        if (got <= 0) break;
        const view = this.readBuf.subarray(0, got);
        for (let i = view.indexOf(0x0a); i >= 0; i = view.indexOf(0x0a, i + 1)) n++;
        off += got;
      }
    } finally {
      if (fd !== this.writeFd) closeSync(fd);
    }
    return n;
  }

  /** Queues one record (no newline inside); it reaches the disk with the others of this event-loop turn. */
  append(line: string): void {
    if (this.closed) throw new Error('buffer is closed');
    this.queued.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is queued, in one write(2); returns the number of records written. */
  flush(): number {
    this.scheduled = false;
    if (this.queued.length === 0 || this.closed) return 0;
    const lines = this.queued;
    this.queued = [];
    const buf = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    if (this.sizes.get(this.writeSeg)! >= this.o.segmentBytes) this.rotate();
    try {
      this.writeAll(buf);
    } catch (e) {
      // Disk full: make room by dropping the oldest segment and try once more.
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC' && this.sizes.size > 1) {
        this.dropOldest();
        try {
          this.writeAll(buf);
        } catch (e2) {
          return this.writeFailed(e2 as Error, lines.length);
        }
      } else return this.writeFailed(e as Error, lines.length);
    }
    this.counts.appended += lines.length;
    this.pendingRecords += lines.length;
    this.enforceBound();
    this.emit('appended', lines.length);
    return lines.length;
  }

  private writeAll(buf: Buffer): void {
    const start = this.sizes.get(this.writeSeg)!;
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.writeFd, buf, off, buf.length - off);
    } catch (e) {
      if (off > 0) ftruncateSync(this.writeFd, start); // no half record left behind
      throw e;
    }
    this.sizes.set(this.writeSeg, start + buf.length);
  }

  private writeFailed(err: Error, records: number): number {
    this.counts.writeErrors++;
    this.counts.lostToWriteErrors += records;
    this.emit('writeError', err, records);
    return 0;
  }

  private rotate(): void {
    closeSync(this.writeFd);
    this.writeSeg++;
    this.writeFd = openSync(this.path(this.writeSeg), 'a+');
    this.sizes.set(this.writeSeg, 0);
  }

  private enforceBound(): void {
    while (this.diskBytes > this.o.maxBytes && this.sizes.size > 1) this.dropOldest();
    const warnAt = this.o.maxBytes * this.o.warnRatio;
    if (!this.warned && this.diskBytes > warnAt) {
      this.warned = true;
      this.emit('filling', { diskBytes: this.diskBytes, maxBytes: this.o.maxBytes });
    } else if (this.warned && this.diskBytes < warnAt / 2) this.warned = false;
  }

  private dropOldest(): void {
    const seg = Math.min(...this.sizes.keys());
    if (seg === this.writeSeg) return;
    const bytes = this.sizes.get(seg)!;
    const records = seg === this.commit.segment ? this.countLines(seg, this.commit.offset) : seg > this.commit.segment ? this.countLines(seg, 0) : 0;
    if (this.readFdSeg === seg && this.readFd !== undefined) {
      closeSync(this.readFd);
      this.readFd = undefined;
    }
    this.unlink(seg);
    const next = { segment: seg + 1, offset: 0 };
    if (before(this.commit, next)) {
      this.commit = next;
      this.writeCheckpoint();
    }
    if (before(this.read, next)) this.read = { ...next };
    this.pendingRecords -= records;
    this.counts.dropped += records;
    this.emit('dropped', { segment: seg, records, bytes });
  }

  /** Bytes the segments take on disk. */
  get diskBytes(): number {
    let n = 0;
    for (const s of this.sizes.values()) n += s;
    return n;
  }

  /** Bytes on disk after the checkpoint (not yet acknowledged). */
  get pendingBytes(): number {
    let n = 0;
    for (const [s, size] of this.sizes) {
      if (s > this.commit.segment) n += size;
      else if (s === this.commit.segment) n += size - this.commit.offset;
    }
    return n;
  }

  /** The next whole records after the read cursor, at most maxBytes (at least one record), or undefined. */
  next(maxBytes: number): Chunk | undefined {
    for (;;) {
      const size = this.sizes.get(this.read.segment);
      if (size === undefined || this.read.offset >= size) {
        if (this.read.segment >= this.writeSeg) return undefined;
        this.read = { segment: this.read.segment + 1, offset: 0 };
        continue;
      }
      if (this.readFd === undefined || this.readFdSeg !== this.read.segment) {
        if (this.readFd !== undefined) closeSync(this.readFd);
        this.readFd = openSync(this.path(this.read.segment), 'r');
        this.readFdSeg = this.read.segment;
      }
      const avail = size - this.read.offset;
      let n = readSync(this.readFd, this.readBuf, 0, Math.min(avail, Math.max(1, maxBytes), this.readBuf.length), this.read.offset);
      let cut = this.readBuf.lastIndexOf(0x0a, n - 1);
      if (cut < 0 && n < avail) { // the first record is longer than maxBytes: take it whole
        n = readSync(this.readFd, this.readBuf, 0, Math.min(avail, this.readBuf.length), this.read.offset);
        cut = this.readBuf.indexOf(0x0a);
        if (cut < 0 || cut >= n) throw new Error(`buffer record longer than ${this.readBuf.length} bytes at ${name(this.read.segment)}:${this.read.offset}`);
      }
      if (cut < 0) return undefined; // cannot happen: appends are whole records
      cut += 1;
      const lines = this.readBuf.toString('utf8', 0, cut - 1).split('\n');
      this.read = { segment: this.read.segment, offset: this.read.offset + cut };
      return { lines, end: { ...this.read }, bytes: cut };
    }
  }

  /** Everything before `end` is acknowledged: advance the checkpoint, delete finished segments. */
  ack(end: Position, records: number): void {
    if (!before(this.commit, end)) return; // its segment was dropped meanwhile
    for (const s of [...this.sizes.keys()]) if (s < end.segment) this.unlink(s);
    this.commit = { ...end };
    this.pendingRecords = Math.max(0, this.pendingRecords - records);
    this.writeCheckpoint();
  }

  /** Moves the read cursor back to the checkpoint: everything unacknowledged is read again. */
  rewind(): void {
    this.read = { ...this.commit };
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    closeSync(this.cpFd);
    closeSync(this.writeFd);
    if (this.readFd !== undefined) closeSync(this.readFd);
  }
}
