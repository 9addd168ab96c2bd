/**
 * The Sparkplug B mapping (config/sparkplug.yaml): which Sparkplug group / edge node / device is
 * which park-model device, and which Sparkplug metric is which park metric (with the unit it
 * arrives in, converted to the park model's unit). Validated against the park model at start-up;
 * every problem is reported at once with its path, value and expectation (core/problems.ts).
 * Pure: `parseSparkplugConfig` takes already-parsed data; `loadSparkplugConfig` reads the file.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { isId } from '../ids.ts';
import type { DeviceModel, MetricDef, ParkModel } from '../model.ts';
import { deepFreeze, isObj, Problems } from '../problems.ts';
import { checkMetricName } from './codec.ts';

export const DEFAULT_SPARKPLUG_CONFIG = fileURLToPath(new URL('../../config/sparkplug.yaml', import.meta.url));

/** Sparkplug ids (group, edge node, device): MQTT-topic-safe, [tck-id-topic-structure]. */
export const SPARKPLUG_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const HOST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Unit conversions a mapping may ask for: value in `from` → value in `to` = v × factor + offset. */
export const UNIT_CONVERSIONS: Readonly<Record<string, Readonly<Record<string, { factor: number; offset: number }>>>> = Object.freeze({
  degF: { degC: { factor: 5 / 9, offset: -32 * 5 / 9 } },
  K: { degC: { factor: 1, offset: -273.15 } },
  W: { kW: { factor: 1e-3, offset: 0 } },
  MW: { kW: { factor: 1e3, offset: 0 } },
  Wh: { kWh: { factor: 1e-3, offset: 0 } },
  MWh: { kWh: { factor: 1e3, offset: 0 } },
  Pa: { kPa: { factor: 1e-3, offset: 0 } },
  kPa: { Pa: { factor: 1e3, offset: 0 } },
  bar: { kPa: { factor: 100, offset: 0 } },
  L: { m3: { factor: 1e-3, offset: 0 } },
  'L/h': { 'm3/h': { factor: 1e-3, offset: 0 } },
  kg: { t: { factor: 1e-3, offset: 0 } },
});

export interface SparkplugMetricMap {
  /** The Sparkplug metric name (as sent in the birth). */
  readonly name: string;
  readonly metric: MetricDef;
  /** Park value = Sparkplug value × factor + offset (1 and 0 without a unit conversion). */
  readonly factor: number;
  readonly offset: number;
  /** The unit the edge node sends, when it differs from the park model's. */
  readonly fromUnit?: string;
}

export interface SparkplugDeviceMap {
  /** Sparkplug device id, or undefined for the edge node's own (NBIRTH/NDATA) metrics. */
  readonly sparkplugDevice?: string;
  readonly device: DeviceModel;
  readonly metrics: ReadonlyMap<string, SparkplugMetricMap>;
}

export interface SparkplugNodeMap {
  readonly group: string;
  readonly node: string;
  /** The broker account (username = client id) of this edge node: `spb-{group}-{node}` unless set. */
  readonly account: string;
  /** Key: Sparkplug device id, '' for the node's own metrics. */
  readonly devices: ReadonlyMap<string, SparkplugDeviceMap>;
}

export interface SparkplugConfig {
  /** Host application id: the STATE topic is spBv1.0/STATE/{hostId}. */
  readonly hostId: string;
  /** The broker service account of the host application: the only one that may publish STATE and NCMD/DCMD. */
  readonly hostAccount: string;
  /** Key: `${group}/${node}`. */
  readonly nodes: ReadonlyMap<string, SparkplugNodeMap>;
}

export const nodeKey = (group: string, node: string): string => `${group}/${node}`;

/** Edge-node broker accounts start with this (never a device id of a valid mapping, a gateway or a service). */
export const EDGE_ACCOUNT_PREFIX = 'spb-';
export const DEFAULT_HOST_ACCOUNT = 'svc-sparkplug';

function parseMetric(p: Problems, path: string, name: string, v: unknown, device: DeviceModel): SparkplugMetricMap | undefined {
  const bad = checkMetricName(name);
  if (bad) p.add(path, name, `a Sparkplug metric name (${bad})`);
  const o: Record<string, unknown> = typeof v === 'string' ? { metric: v } : isObj(v) ? v : {};
  if (typeof v !== 'string' && !isObj(v)) { p.add(path, v, 'a park metric name or {metric, unit}'); return undefined; }
  p.keys(path, o, ['metric', 'unit']);
  const metric = typeof o.metric === 'string' ? device.kind.metrics.get(o.metric) : undefined;
  if (!metric) {
    p.add(`${path}.metric`, o.metric, `a metric of kind ${device.kind.id} (${[...device.kind.metrics.keys()].join(', ')})`);
    return undefined;
  }
  let factor = 1; let offset = 0; let fromUnit: string | undefined;
  if (o.unit !== undefined && o.unit !== metric.unit) {
    const conv = typeof o.unit === 'string' && metric.unit ? UNIT_CONVERSIONS[o.unit]?.[metric.unit] : undefined;
    if (!conv) {
      const known = metric.unit ? Object.keys(UNIT_CONVERSIONS).filter((u) => UNIT_CONVERSIONS[u]![metric.unit!]) : [];
      p.add(`${path}.unit`, o.unit, `the park unit ${metric.unit ?? '(none)'}${known.length ? ` or one converted to it: ${known.join(', ')}` : ''}`);
      return undefined;
    }
    if (metric.type !== 'number' && metric.type !== 'counter') {
      p.add(`${path}.unit`, o.unit, `no conversion: ${metric.name} is of type ${metric.type}`);
      return undefined;
    }
    ({ factor, offset } = conv); fromUnit = o.unit as string;
  }
  return { name, metric, factor, offset, ...(fromUnit && { fromUnit }) };
}

export function parseSparkplugConfig(data: unknown, model: ParkModel): SparkplugConfig {
  const p = new Problems();
  const root = p.obj('sparkplug', data) ?? {};
  p.keys('sparkplug', root, ['hostId', 'hostAccount', 'edgeNodes']);
  const hostAccount = root.hostAccount === undefined ? DEFAULT_HOST_ACCOUNT : root.hostAccount;
  if (!isId(hostAccount) || !hostAccount.startsWith('svc-')) p.add('sparkplug.hostAccount', root.hostAccount, 'a service account name starting with svc- (default svc-sparkplug)');
  const accounts = new Set<string>();
  const hostId = typeof root.hostId === 'string' && HOST_ID_PATTERN.test(root.hostId) ? root.hostId : undefined;
  if (!hostId) p.add('sparkplug.hostId', root.hostId, `a host id matching ${HOST_ID_PATTERN}`);
  const nodes = new Map<string, SparkplugNodeMap>();
  const claimed = new Map<string, string>();
  for (const [i, n] of p.arr('sparkplug.edgeNodes', root.edgeNodes).entries()) {
    const path = `sparkplug.edgeNodes[${i}]`;
    const o = p.obj(path, n); if (!o) continue;
    p.keys(path, o, ['group', 'node', 'account', 'devices']);
    const group = typeof o.group === 'string' && SPARKPLUG_ID_PATTERN.test(o.group) ? o.group : undefined;
    if (!group) p.add(`${path}.group`, o.group, `a Sparkplug group id matching ${SPARKPLUG_ID_PATTERN}`);
    const node = typeof o.node === 'string' && SPARKPLUG_ID_PATTERN.test(o.node) ? o.node : undefined;
    if (!node) p.add(`${path}.node`, o.node, `an edge node id matching ${SPARKPLUG_ID_PATTERN}`);
    if (group && node && nodes.has(nodeKey(group, node))) p.add(`${path}.node`, node, `an edge node not mapped twice in group ${group}`);
    const account = o.account ?? (group && node ? `${EDGE_ACCOUNT_PREFIX}${group}-${node}`.toLowerCase() : undefined);
    if (!isId(account) || !account.startsWith(EDGE_ACCOUNT_PREFIX) || model.devices.has(account)) {
      p.add(`${path}.account`, account, `a broker account id starting with ${EDGE_ACCOUNT_PREFIX} (a-z, 0-9, '-', '_'; at most 48 characters; not a device id); set it when spb-{group}-{node} is not one`);
    } else if (accounts.has(account)) p.add(`${path}.account`, account, 'an account used by one edge node only');
    if (typeof account === 'string') accounts.add(account);
    const devices = new Map<string, SparkplugDeviceMap>();
    for (const [j, d] of p.arr(`${path}.devices`, o.devices).entries()) {
      const dpath = `${path}.devices[${j}]`;
      const od = p.obj(dpath, d); if (!od) continue;
      p.keys(dpath, od, ['sparkplugDevice', 'device', 'metrics']);
      let spDev = '';
      if (od.sparkplugDevice !== undefined) {
        if (typeof od.sparkplugDevice === 'string' && SPARKPLUG_ID_PATTERN.test(od.sparkplugDevice)) spDev = od.sparkplugDevice;
        else p.add(`${dpath}.sparkplugDevice`, od.sparkplugDevice, `a Sparkplug device id matching ${SPARKPLUG_ID_PATTERN} (omit it for the edge node's own metrics)`);
      }
      if (devices.has(spDev)) p.add(`${dpath}.sparkplugDevice`, od.sparkplugDevice ?? '(node)', 'a Sparkplug device mapped once per edge node');
      const device = typeof od.device === 'string' ? model.devices.get(od.device) : undefined;
      if (!device) { p.add(`${dpath}.device`, od.device, 'a device id of the park model'); continue; }
      if (device.gateway) p.add(`${dpath}.device`, od.device, `a device no edge gateway serves (${device.gateway} does)`);
      const prior = claimed.get(device.id);
      if (prior) p.add(`${dpath}.device`, od.device, `a park device mapped once (already at ${prior})`);
      claimed.set(device.id, dpath);
      const metrics = new Map<string, SparkplugMetricMap>();
      const om = p.obj(`${dpath}.metrics`, od.metrics) ?? {};
      const targets = new Set<string>();
      for (const [name, v] of Object.entries(om)) {
        const mm = parseMetric(p, `${dpath}.metrics[${JSON.stringify(name)}]`, name, v, device);
        if (!mm) continue;
        if (targets.has(mm.metric.name)) p.add(`${dpath}.metrics[${JSON.stringify(name)}].metric`, mm.metric.name, 'each park metric fed by one Sparkplug metric');
        targets.add(mm.metric.name);
        metrics.set(name, mm);
      }
      devices.set(spDev, { ...(spDev && { sparkplugDevice: spDev }), device, metrics });
    }
    if (group && node) nodes.set(nodeKey(group, node), { group, node, account: account as string, devices });
  }
  p.check('config/sparkplug.yaml');
  return deepFreeze({ hostId: hostId!, hostAccount: hostAccount as string, nodes });
}

export function loadSparkplugConfig(model: ParkModel, file: string = process.env.SPARKPLUG_CONFIG ?? DEFAULT_SPARKPLUG_CONFIG): SparkplugConfig {
  return parseSparkplugConfig(parseYaml(readFileSync(file, 'utf8')), model);
}

/** Park devices a Sparkplug edge node feeds (the JSON simulators leave these out). */
export function sparkplugDeviceIds(cfg: SparkplugConfig): Set<string> {
  const ids = new Set<string>();
  for (const n of cfg.nodes.values()) for (const d of n.devices.values()) ids.add(d.device.id);
  return ids;
}

/** The broker accounts of the mapped edge nodes (provisioned like devices: `npm run credentials`). */
export function edgeNodeAccounts(cfg: SparkplugConfig): string[] {
  return [...cfg.nodes.values()].map((n) => n.account);
}
