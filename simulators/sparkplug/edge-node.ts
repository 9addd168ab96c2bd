/**
 * A simulated Sparkplug B edge node, as a PLC gateway would behave (Sparkplug 3.0 §7.1): one
 * MQTT connection as the node's account, with an NDEATH will carrying this connection's bdSeq;
 * NBIRTH (bdSeq, Node Control/Rebirth) and one DBIRTH per device after every connect, with
 * names, aliases and datatypes; DDATA by alias only (no names, no datatypes) every reporting
 * interval; births again on a `Node Control/Rebirth` NCMD; seq 0–255 over all of it. Values
 * come from the same device models as the JSON simulators, sent in the units the mapping says
 * the node uses (config/sparkplug.yaml: e.g. degF, W). Our own encoder (core/sparkplug/codec.ts):
 * Eclipse Tahu's sparkplug-client pulls mqtt 4 and protobufjs ^6.11.3 (docs/sparkplug.md).
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { MetricValue } from '../../core/contract.ts';
import type { MetricDef, ParkModel } from '../../core/model.ts';
import { DataType, decodePayload, encodePayload, type SpMetricIn } from '../../core/sparkplug/codec.ts';
import type { SparkplugMetricMap, SparkplugNodeMap } from '../../core/sparkplug/config.ts';
import { deviceTopicSpb, nodeTopic, REBIRTH_METRIC } from '../../core/sparkplug/topic.ts';
import { createSim } from '../models/index.ts';
import type { DeviceSim } from '../sim.ts';

export interface EdgeNodeOptions {
  url: string;
  node: SparkplugNodeMap;
  password: string;
  model: ParkModel;
  seed: string;
  /** Reporting interval of every device; default each device's own. */
  intervalMs?: number;
}

interface SimDevice { id: string; sim: DeviceSim; metrics: { alias: number; mm: SparkplugMetricMap; datatype: number }[]; intervalMs: number; timer?: NodeJS.Timeout }

const datatypeOf = (def: MetricDef): number => (def.type === 'number' || def.type === 'counter' ? DataType.Double
  : def.type === 'integer' ? DataType.Int64 : def.type === 'boolean' ? DataType.Boolean : DataType.String);

/** A park value in the unit the edge node sends (the inverse of the mapping's conversion). */
function edgeValue(mm: SparkplugMetricMap, v: MetricValue): SpMetricIn['value'] {
  if (typeof v !== 'number') return v;
  if (mm.metric.type === 'integer') return BigInt(Math.round(v));
  return mm.factor === 1 && mm.offset === 0 ? v : (v - mm.offset) / mm.factor;
}

export class SimulatedEdgeNode {
  readonly counts = { births: 0, data: 0, acked: 0, rebirthRequests: 0 };
  private client: MqttClient | undefined;
  private seq = 0;
  private bdSeq = 0;
  private readonly devices: SimDevice[] = [];

  constructor(private readonly o: EdgeNodeOptions) {
    let alias = 1;
    for (const [spDevice, dm] of o.node.devices) {
      if (!spDevice) continue; // node-level metrics: this simulator carries devices only
      const sim = createSim(dm.device, { seed: o.seed, originMs: Date.now(), model: o.model });
      this.devices.push({
        id: spDevice, sim, intervalMs: o.intervalMs ?? dm.device.intervalMs,
        metrics: [...dm.metrics.values()].map((mm) => ({ alias: alias++, mm, datatype: datatypeOf(mm.metric) })),
      });
    }
  }

  private death(): Buffer {
    return Buffer.from(encodePayload({ timestamp: Date.now(), metrics: [{ name: 'bdSeq', datatype: DataType.UInt64, value: BigInt(this.bdSeq) }] }));
  }

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) % 256;
    return s;
  }

  async start(): Promise<void> {
    const { group, node, account } = this.o.node;
    const c = mqtt.connect(this.o.url, {
      clientId: account, username: account, password: this.o.password, clean: true, protocolVersion: 4, keepalive: 30, reconnectPeriod: 2000,
      will: { topic: nodeTopic(group, 'NDEATH', node), payload: this.death(), qos: 1, retain: false },
    });
    this.client = c;
    c.on('connect', () => {
      void c.subscribeAsync({ [`spBv1.0/${group}/NCMD/${node}/#`]: { qos: 0 }, [`spBv1.0/${group}/DCMD/${node}/#`]: { qos: 0 } }).then(() => this.birth());
    });
    c.on('close', () => {
      // the next connection is a new session: a new bdSeq, in its will too
      this.bdSeq = (this.bdSeq + 1) % 256;
      if (c.options.will) c.options.will.payload = this.death();
    });
    c.on('message', (topic, payload) => {
      if (!topic.includes('/NCMD/')) return;
      try {
        if (decodePayload(payload).metrics.some((m) => m.name === REBIRTH_METRIC && m.value === true)) {
          this.counts.rebirthRequests++;
          this.birth();
        }
      } catch { /* not a command we understand */ }
    });
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    for (const d of this.devices) d.timer = setInterval(() => this.data(d), d.intervalMs);
  }

  /** NBIRTH and every DBIRTH, seq from 0. */
  private birth(): void {
    const c = this.client!;
    const { group, node } = this.o.node;
    this.seq = 0;
    const now = Date.now();
    c.publish(nodeTopic(group, 'NBIRTH', node), Buffer.from(encodePayload({ timestamp: now, seq: this.nextSeq(), metrics: [
      { name: 'bdSeq', datatype: DataType.UInt64, value: BigInt(this.bdSeq) }, { name: REBIRTH_METRIC, datatype: DataType.Boolean, value: false },
    ] })), { qos: 1 });
    for (const d of this.devices) {
      const values = d.sim.sample(now);
      c.publish(deviceTopicSpb(group, 'DBIRTH', node, d.id), Buffer.from(encodePayload({ timestamp: now, seq: this.nextSeq(), metrics: d.metrics.map((m) => ({
        name: m.mm.name, alias: m.alias, datatype: m.datatype, value: values[m.mm.metric.name] === undefined ? null : edgeValue(m.mm, values[m.mm.metric.name]!),
      })) })), { qos: 1 });
    }
    this.counts.births++;
  }

  private data(d: SimDevice): void {
    const c = this.client;
    if (!c?.connected) return; // a real node would buffer; the simulator skips the slot
    const now = Date.now();
    const values = d.sim.sample(now);
    const metrics = d.metrics.filter((m) => values[m.mm.metric.name] !== undefined)
      .map((m) => ({ alias: m.alias, datatype: m.datatype, omitDatatype: true, value: edgeValue(m.mm, values[m.mm.metric.name]!) }));
    this.counts.data++;
    c.publish(deviceTopicSpb(this.o.node.group, 'DDATA', this.o.node.node, d.id), Buffer.from(encodePayload({ timestamp: now, seq: this.nextSeq(), metrics })), { qos: 1 }, (err) => {
      if (!err) this.counts.acked++;
    });
  }

  /** Publishes the NDEATH (a clean stop) and disconnects. */
  async stop(): Promise<void> {
    for (const d of this.devices) clearInterval(d.timer);
    const c = this.client;
    if (!c) return;
    if (c.connected) await c.publishAsync(nodeTopic(this.o.node.group, 'NDEATH', this.o.node.node), this.death(), { qos: 1 }).catch(() => {});
    await c.endAsync();
  }
}
