/**
 * The Sparkplug B host application's handling of one message (Sparkplug 3.0 §7.2, one `switch`
 * on the message type): births fill the alias tables and set devices online, deaths set them
 * offline (an NDEATH whose bdSeq is not the current birth's is stale and ignored), data is
 * mapped through config/sparkplug.yaml onto park devices and metrics. Everything it returns is
 * spool records (points, status points, dead letters) and the publishes that follow (one
 * `Node Control/Rebirth` NCMD, retained device status): no I/O here.
 *
 * Never a guessed name: data before its birth or with an alias its birth does not have is
 * dead-lettered whole, the node is asked to rebirth once (again only after `rebirthRetryMs`
 * without a birth), and its data is dead-lettered until the birth comes. A seq out of order also
 * asks for one rebirth, but its data is stored when every alias is in the current birth: QoS 1
 * redelivery after a reconnect reorders messages (Aedes forwards live messages while it replays
 * the session's queue), and dead-lettering them would lose data the broker acknowledged.
 */
import { deadLetter, deviceTopic, DEFAULT_LIMITS, type ContractLimits, type StatusMessage } from '../../core/contract.ts';
import { PlatformError, type ErrorCode } from '../../core/errors.ts';
import { deviceTags, encodePoint, readingToLine, STATUS_MEASUREMENT } from '../../core/influx/line-protocol.ts';
import type { Registry } from '../../core/metrics.ts';
import type { DeviceModel } from '../../core/model.ts';
import { DataType, decodePayload, encodePayload, valueAs, type SpMetric, type SpPayload } from '../../core/sparkplug/codec.ts';
import { nodeKey, type SparkplugConfig, type SparkplugDeviceMap, type SparkplugNodeMap } from '../../core/sparkplug/config.ts';
import { BDSEQ_METRIC, nodeTopic, parseSpbTopic, REBIRTH_METRIC, type SpbTopic } from '../../core/sparkplug/topic.ts';
import { DLQ_MARK } from '../records.ts';
import { mapMetrics, type MetricRefusal } from './mapping.ts';
import { BirthTable, type BirthMetric, type NodeSession, type Sessions } from './sessions.ts';

export interface HostDeps {
  cfg: SparkplugConfig;
  sessions: Sessions;
  metrics: Registry;
  /** A node asked to rebirth is asked again only after this long without a birth. */
  rebirthRetryMs: number;
  limits?: ContractLimits;
}

export interface Publish { topic: string; payload: Buffer; qos: 0 | 1; retain: boolean }

export interface Handled {
  /** Spool records: line-protocol points and `#D` dead letters, newline-terminated. */
  records: string;
  points: number;
  /** To publish once the records are in the spool: a rebirth NCMD, retained device status. */
  publish: Publish[];
  /** The birth tables changed: save them before this message is acknowledged. */
  birthsChanged: boolean;
}

/** A line break inside a text field is spooled as NUL (records end at '\n'), as ingest/records.ts does. */
const spoolLine = (point: string) => `${point.includes('\n') ? point.replaceAll('\n', '\0') : point}\n`;

export class SparkplugHost {
  private readonly limits: ContractLimits;
  constructor(private readonly d: HostDeps) {
    this.limits = d.limits ?? DEFAULT_LIMITS;
  }

  handle(topic: string, payload: Buffer, now: number): Handled {
    const out: Handled = { records: '', points: 0, publish: [], birthsChanged: false };
    const t = parseSpbTopic(topic);
    if (!t) return this.refuse(out, topic, payload, now, 'SP_ERR_SPB_TOPIC', `topic ${JSON.stringify(topic.slice(0, 200))} is not a Sparkplug B topic`);
    if (t.kind === 'state' || t.type === 'NCMD' || t.type === 'DCMD') return out; // host states and commands: not data
    this.d.metrics.inc('sparkplug_messages_received_total', { type: t.type });
    let p: SpPayload;
    try {
      p = decodePayload(payload);
    } catch (e) {
      if (!(e instanceof PlatformError)) throw e;
      return this.refuse(out, topic, payload, now, e.code, e.message);
    }
    const key = nodeKey(t.group, t.node);
    const nm = this.d.cfg.nodes.get(key);
    if (!nm) {
      if (t.type === 'NDEATH' || t.type === 'DDEATH') return out;
      this.d.metrics.inc('sparkplug_metrics_unmapped_total', undefined, p.metrics.length);
      return this.refuse(out, topic, payload, now, 'SP_ERR_SPB_UNMAPPED', `edge node ${key} has no mapping in config/sparkplug.yaml`);
    }
    const s = this.d.sessions.ensure(key);
    switch (t.type) {
      case 'NBIRTH': return this.nodeBirth(out, nm, s, p, topic, payload, now);
      case 'NDEATH': return this.nodeDeath(out, nm, s, p, now);
      case 'DBIRTH': case 'DDATA': case 'DDEATH': case 'NDATA': return this.sequenced(out, t, nm, s, p, topic, payload, now);
    }
    return out;
  }

  private nodeBirth(out: Handled, nm: SparkplugNodeMap, s: NodeSession, p: SpPayload, topic: string, payload: Buffer, now: number): Handled {
    const table = birthTable(p.metrics);
    if (typeof table === 'string') return this.refuse(out, topic, payload, now, 'SP_ERR_SPB_UNKNOWN_ALIAS', table, nm.devices.get('')?.device);
    const bd = p.metrics.find((m) => m.name === BDSEQ_METRIC);
    const bdSeq = bd ? bdSeqOf(bd) : undefined;
    s.born = true;
    s.bdSeq = bdSeq;
    s.node = table;
    s.devices.clear(); // [tck-id-operational-behavior-edge-node-birth-sequence-reset]: devices birth again after an NBIRTH
    s.expectSeq = p.seq === undefined ? undefined : (p.seq + 1) % 256;
    s.rebirthAskedAt = undefined;
    s.stale = false;
    out.birthsChanged = true;
    this.d.metrics.inc('sparkplug_births_total', { type: 'NBIRTH' });
    const dm = nm.devices.get('');
    if (dm) this.status(out, dm.device, { state: 'online', ts: now, info: `Sparkplug NBIRTH of ${nm.group}/${nm.node}${bdSeq === undefined ? '' : ` (bdSeq ${bdSeq})`}` });
    return this.data(out, dm, p, (m) => table.lookup(m.alias, m.name)!, topic, payload, now, `edge node ${nm.group}/${nm.node} (its own metrics)`);
  }

  private nodeDeath(out: Handled, nm: SparkplugNodeMap, s: NodeSession, p: SpPayload, now: number): Handled {
    const bd = p.metrics.find((m) => m.name === BDSEQ_METRIC);
    const bdSeq = bd ? bdSeqOf(bd) : undefined;
    // [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-offline]: only
    // the death that matches the current birth counts (a late will of an older session does not)
    if (!s.born || bdSeq !== s.bdSeq) {
      this.d.metrics.inc('sparkplug_deaths_ignored_total', { why: s.born ? 'stale bdSeq' : 'not born' });
      return out;
    }
    s.born = false;
    s.devices.clear();
    s.expectSeq = undefined;
    out.birthsChanged = true;
    this.d.metrics.inc('sparkplug_deaths_total', { type: 'NDEATH' });
    const info = `Sparkplug NDEATH of ${nm.group}/${nm.node}${bdSeq === undefined ? '' : ` (bdSeq ${bdSeq})`}`;
    for (const dm of nm.devices.values()) this.status(out, dm.device, { state: 'offline', ts: now, info });
    return out;
  }

  /** DBIRTH, DDEATH, NDATA, DDATA: they carry the node's seq. */
  private sequenced(out: Handled, t: SpbTopic & { kind: 'node' | 'device' }, nm: SparkplugNodeMap, s: NodeSession, p: SpPayload, topic: string, payload: Buffer, now: number): Handled {
    const spDevice = t.kind === 'device' ? t.device : '';
    const dm = nm.devices.get(spDevice);
    const seqOk = p.seq !== undefined && p.seq <= 255 && (s.expectSeq === undefined || p.seq === s.expectSeq);
    if (p.seq !== undefined) s.expectSeq = (p.seq + 1) % 256;
    const refuseAndAsk = (code: ErrorCode, reason: string) => {
      s.stale = true;
      this.askRebirth(out, nm, s, now);
      return this.refuse(out, topic, payload, now, code, reason, dm?.device);
    };
    const where = `${nm.group}/${nm.node}${spDevice ? `/${spDevice}` : ''}`;
    if (!s.born) return refuseAndAsk('SP_ERR_SPB_NO_BIRTH', `${t.type} from ${where} before its edge node's NBIRTH`);
    if (t.type === 'DDEATH') {
      if (!seqOk) this.askRebirth(out, nm, s, now); // the death still counts
      if (!s.devices.delete(spDevice)) return out;
      out.birthsChanged = true;
      this.d.metrics.inc('sparkplug_deaths_total', { type: 'DDEATH' });
      if (dm) this.status(out, dm.device, { state: 'offline', ts: now, info: `Sparkplug DDEATH of ${where}` });
      return out;
    }
    if (t.type === 'DBIRTH') {
      // a birth names its metrics: stored even out of sequence, but the gap still asks for a rebirth
      if (!seqOk) this.askRebirth(out, nm, s, now);
      const table = birthTable(p.metrics);
      if (typeof table === 'string') return refuseAndAsk('SP_ERR_SPB_UNKNOWN_ALIAS', table);
      s.devices.set(spDevice, table);
      out.birthsChanged = true;
      this.d.metrics.inc('sparkplug_births_total', { type: 'DBIRTH' });
      if (dm) this.status(out, dm.device, { state: 'online', ts: now, info: `Sparkplug DBIRTH of ${where}` });
      return this.data(out, dm, p, (m) => table.lookup(m.alias, m.name)!, topic, payload, now, `Sparkplug device ${where}`);
    }
    if (s.stale) {
      this.askRebirth(out, nm, s, now);
      return this.refuse(out, topic, payload, now, 'SP_ERR_SPB_STALE', `${t.type} from ${where} while its rebirth is awaited`, dm?.device);
    }
    if (p.seq === undefined || p.seq > 255) return refuseAndAsk('SP_ERR_SPB_SEQ', `${t.type} from ${where}: seq ${p.seq ?? '(none)'} is not 0–255`);
    if (!seqOk) {
      this.d.metrics.inc('sparkplug_seq_gaps_total');
      this.askRebirth(out, nm, s, now);
    }
    const table = spDevice ? s.devices.get(spDevice) : s.node;
    if (!table) return refuseAndAsk('SP_ERR_SPB_NO_BIRTH', `DDATA from ${where} before its DBIRTH`);
    const unknown = p.metrics.filter((m) => table.lookup(m.alias, m.name) === undefined);
    if (unknown.length > 0) {
      const list = unknown.slice(0, 5).map((m) => (m.alias !== undefined ? `alias ${m.alias}` : `name ${JSON.stringify(m.name ?? '')}`)).join(', ');
      return refuseAndAsk('SP_ERR_SPB_UNKNOWN_ALIAS', `${t.type} from ${where}: ${unknown.length} metric(s) not in its birth (${list}${unknown.length > 5 ? ', …' : ''})`);
    }
    return this.data(out, dm, p, (m) => table.lookup(m.alias, m.name)!, topic, payload, now, `Sparkplug device ${where}`);
  }

  /** Maps and stores the metrics of a birth or data message; unmapped and refused metrics go to one dead letter. */
  private data(out: Handled, dm: SparkplugDeviceMap | undefined, p: SpPayload, resolve: (m: SpMetric) => BirthMetric, topic: string, payload: Buffer, now: number, what: string): Handled {
    const r = mapMetrics(dm, p.metrics, resolve, p.timestamp, now, this.limits);
    if (dm) {
      for (const reading of r.readings) out.records += spoolLine(readingToLine(dm.device, reading));
      out.points += r.readings.length;
    }
    this.d.metrics.inc('sparkplug_metrics_stored_total', undefined, r.stored);
    if (r.refusals.length > 0) {
      for (const x of r.refusals) this.d.metrics.inc(x.code === 'SP_ERR_SPB_UNMAPPED' ? 'sparkplug_metrics_unmapped_total' : 'sparkplug_metrics_refused_total', x.code === 'SP_ERR_SPB_UNMAPPED' ? undefined : { code: x.code });
      this.letter(out, topic, payload, now, r.refusals[0]!.code, `${what}: ${r.refusals.length} metric(s) not stored: ${summary(r.refusals)}`, dm?.device);
    }
    return out;
  }

  private askRebirth(out: Handled, nm: SparkplugNodeMap, s: NodeSession, now: number): void {
    if (s.rebirthAskedAt !== undefined && now - s.rebirthAskedAt < this.d.rebirthRetryMs) return;
    s.rebirthAskedAt = now;
    this.d.metrics.inc('sparkplug_rebirths_requested_total');
    out.publish.push({
      topic: nodeTopic(nm.group, 'NCMD', nm.node), qos: 0, retain: false, // NCMD: QoS 0 [tck-id-topics-ncmd-mqtt]
      payload: Buffer.from(encodePayload({ timestamp: now, metrics: [{ name: REBIRTH_METRIC, datatype: DataType.Boolean, value: true }] })),
    });
  }

  /** A device_status point (spooled) and the retained status topic (published after), as the broker writes them for JSON devices. */
  private status(out: Handled, device: DeviceModel, msg: StatusMessage): void {
    const fields = { state: { type: 'string' as const, value: msg.state }, info: { type: 'string' as const, value: msg.info ?? '' } };
    out.records += spoolLine(encodePoint(STATUS_MEASUREMENT, { ...deviceTags(device), kind: device.kind.id }, fields, msg.ts!));
    out.points++;
    out.publish.push({ topic: deviceTopic(device, 'status'), payload: Buffer.from(JSON.stringify(msg)), qos: 1, retain: true });
  }

  private refuse(out: Handled, topic: string, payload: Buffer, now: number, code: ErrorCode, reason: string, device?: DeviceModel): Handled {
    this.d.metrics.inc('sparkplug_messages_refused_total', { code });
    this.letter(out, topic, payload, now, code, reason, device);
    return out;
  }

  private letter(out: Handled, topic: string, payload: Buffer, now: number, code: ErrorCode, reason: string, device?: DeviceModel): void {
    const l = { ...deadLetter(topic, payload, { ok: false, code, reason }, now), ...(device && { device: device.id }) };
    out.records += `${DLQ_MARK}${JSON.stringify(l)}\n`;
  }
}

/** The metric table of a birth, or why it cannot be one (a birth names every metric). */
function birthTable(metrics: readonly SpMetric[]): BirthTable | string {
  const t = new BirthTable();
  for (const [i, m] of metrics.entries()) {
    if (m.name === undefined) return `birth metric ${i} has no name (a birth must name every metric)`;
    t.add(m.name, m.alias, m.datatype);
  }
  return t;
}

function bdSeqOf(m: SpMetric): number | undefined {
  const v = valueAs(m, m.datatype ?? DataType.UInt64);
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : undefined;
}

function summary(r: readonly MetricRefusal[]): string {
  const s = r.slice(0, 5).map((x) => `${x.code}: ${x.reason}`).join('; ');
  return r.length > 5 ? `${s}; …` : s;
}
