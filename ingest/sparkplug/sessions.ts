/**
 * What the host knows of each edge node (Sparkplug 3.0 §7, "Host Application" behaviour): the
 * metric tables of its NBIRTH and each DBIRTH (alias and name -> name and datatype), the bdSeq
 * of the current birth, the next seq expected (0–255) and whether a rebirth was requested.
 *
 * The birth tables are what turns an alias back into a name, so they are kept on disk
 * (`births.json`, rewritten by rename after every birth or death, before that message is
 * acknowledged): a host restarted after a `kill -9` maps the data the broker redelivers with the
 * tables it had, instead of dead-lettering it. The seq is not kept: after a (re)connect the
 * first message of each node sets it again (the broker's persistent session delivers in order).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface BirthMetric { readonly name: string; readonly datatype?: number }

/** The metrics of one birth certificate (NBIRTH: the node's own; DBIRTH: one device's). */
export class BirthTable {
  readonly byAlias = new Map<number, BirthMetric>();
  readonly byName = new Map<string, BirthMetric>();
  add(name: string, alias: number | undefined, datatype: number | undefined): void {
    const m: BirthMetric = { name, ...(datatype !== undefined && { datatype }) };
    this.byName.set(name, m);
    if (alias !== undefined) this.byAlias.set(alias, m);
  }
  /** A DATA metric's birth entry, by alias or by name; undefined when the birth does not have it. */
  lookup(alias: number | undefined, name: string | undefined): BirthMetric | undefined {
    if (alias !== undefined) {
      const m = this.byAlias.get(alias);
      return m && (name === undefined || name === m.name) ? m : undefined;
    }
    return name === undefined ? undefined : this.byName.get(name);
  }
  toJSON(): [string, number | null, number | null][] {
    const aliasOf = new Map<string, number>();
    for (const [a, m] of this.byAlias) aliasOf.set(m.name, a);
    return [...this.byName.values()].map((m) => [m.name, aliasOf.get(m.name) ?? null, m.datatype ?? null]);
  }
  static from(rows: unknown): BirthTable {
    const t = new BirthTable();
    if (Array.isArray(rows)) {
      for (const r of rows) {
        if (Array.isArray(r) && typeof r[0] === 'string') t.add(r[0], typeof r[1] === 'number' ? r[1] : undefined, typeof r[2] === 'number' ? r[2] : undefined);
      }
    }
    return t;
  }
}

export interface NodeSession {
  /** NBIRTH seen and no NDEATH since. */
  born: boolean;
  bdSeq?: number;
  node: BirthTable;
  /** Devices with a DBIRTH and no DDEATH since (a DDEATH removes the device). */
  devices: Map<string, BirthTable>;
  /** The next seq expected; undefined: take the next message's (after a start or reconnect). */
  expectSeq?: number;
  /** When a rebirth was last asked for; undefined when none is pending (a birth clears it). */
  rebirthAskedAt?: number;
  /** The tables are known to be wrong (an unknown alias, data before its birth): data waits for the rebirth. */
  stale?: boolean;
}

interface SavedNode { born: boolean; bdSeq?: number; node: unknown; devices: Record<string, unknown> }

export class Sessions {
  private readonly nodes = new Map<string, NodeSession>();

  constructor(private readonly file: string) {}

  get(key: string): NodeSession | undefined {
    return this.nodes.get(key);
  }

  /** The node's session, created (unborn) if new: a rebirth request needs somewhere to be remembered. */
  ensure(key: string): NodeSession {
    let s = this.nodes.get(key);
    if (!s) this.nodes.set(key, (s = { born: false, node: new BirthTable(), devices: new Map() }));
    return s;
  }

  /** After a (re)connect: every node's seq is taken afresh from its next message. */
  resync(): void {
    for (const s of this.nodes.values()) s.expectSeq = undefined;
  }

  get size(): number {
    return this.nodes.size;
  }

  /** Reads births.json; a missing or unreadable file starts empty (then data waits for rebirths). */
  load(): { nodes: number; error?: string } {
    let data: Record<string, SavedNode>;
    try {
      data = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, SavedNode>;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { nodes: 0, ...(code !== 'ENOENT' && { error: (e as Error).message }) };
    }
    for (const [key, n] of Object.entries(data ?? {})) {
      if (typeof n !== 'object' || n === null) continue;
      this.nodes.set(key, {
        born: n.born === true, ...(typeof n.bdSeq === 'number' && { bdSeq: n.bdSeq }),
        node: BirthTable.from(n.node),
        devices: new Map(Object.entries(n.devices ?? {}).map(([d, rows]) => [d, BirthTable.from(rows)])),
      });
    }
    return { nodes: this.nodes.size };
  }

  /** Writes births.json (temporary file, then rename: a crash leaves the old or the new one). */
  save(): void {
    const out: Record<string, SavedNode> = {};
    for (const [key, s] of this.nodes) {
      if (!s.born && s.devices.size === 0) continue;
      out[key] = { born: s.born, ...(s.bdSeq !== undefined && { bdSeq: s.bdSeq }), node: s.node.toJSON(), devices: Object.fromEntries([...s.devices].map(([d, t]) => [d, t.toJSON()])) };
    }
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(out));
    renameSync(tmp, this.file);
  }
}
