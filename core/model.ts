/**
 * The park model: zone -> parks -> enterprises -> workshops -> lines -> devices, and the device
 * kinds with their metrics and units. Loaded once at start-up by every service and validated:
 * a bad entry is refused with an error that names its path, the value and what was expected.
 * Pure: `parseParkModel` takes already-parsed data; reading the file is `loadParkModel` in
 * core/model-file.ts.
 */
import { PlatformError } from './errors.ts';
import { ID_PATTERN, METRIC_PATTERN } from './ids.ts';
import { isObj, Problems, type Obj } from './problems.ts';

export const METRIC_TYPES = ['number', 'counter', 'integer', 'boolean', 'enum', 'text'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];
/** Field names the platform writes itself beside the metrics. */
export const RESERVED_METRICS: readonly string[] = ['seq', 'time'];
/** Longest text value of a text metric that declares no maxLength. */
export const TEXT_MAX_LENGTH_DEFAULT = 256;

export interface MetricDef {
  readonly name: string;
  readonly type: MetricType;
  /** Unit symbol (e.g. `kWh`, `degC`, `m3/h`); required for number, counter and integer. */
  readonly unit?: string;
  readonly description?: string;
  /** enum: the allowed values. */
  readonly values?: readonly string[];
  /** text: maximum length in characters (TEXT_MAX_LENGTH_DEFAULT unless declared; always set for text). */
  readonly maxLength?: number;
  /** What the carrier is, for cumulative energy counters (used by energy accounting). */
  readonly carrier?: string;
}

export interface DeviceKind {
  readonly id: string;
  readonly description: string;
  /** Default reporting interval of devices of this kind. */
  readonly intervalMs: number;
  readonly metrics: ReadonlyMap<string, MetricDef>;
  /** Default rated figures, overridable per device. */
  readonly rated: Readonly<Record<string, number>>;
}

export interface DeviceModel {
  readonly id: string;
  readonly name: string;
  readonly kind: DeviceKind;
  readonly intervalMs: number;
  readonly rated: Readonly<Record<string, number>>;
  readonly park: string;
  readonly enterprise: string;
  readonly workshop: string;
  /** Line id, or undefined for workshop-level devices (meters, utilities). */
  readonly line?: string;
  /** The edge gateway that polls this field device and publishes for it (`gateways:`), if any. */
  readonly gateway?: string;
}

/** An edge gateway (gateway/): one MQTT account that may publish only for the devices it owns. */
export interface GatewayModel { readonly id: string; readonly name: string; readonly devices: readonly DeviceModel[] }
/** Gateway ids start with this, so they never collide with a device id or a service account. */
export const GATEWAY_PREFIX = 'gw-';

export interface LineModel { readonly id: string; readonly name: string; readonly devices: readonly DeviceModel[] }
export interface WorkshopModel {
  readonly id: string; readonly name: string;
  readonly lines: readonly LineModel[]; readonly devices: readonly DeviceModel[];
}
export interface EnterpriseModel {
  readonly id: string; readonly name: string; readonly nameZh?: string; readonly sector: string;
  readonly workshops: readonly WorkshopModel[];
}
export interface ParkSiteModel {
  readonly id: string; readonly name: string; readonly nameZh?: string;
  readonly enterprises: readonly EnterpriseModel[];
}

export interface ParkModel {
  readonly zone: { readonly id: string; readonly name: string; readonly nameZh?: string };
  readonly kinds: ReadonlyMap<string, DeviceKind>;
  readonly parks: readonly ParkSiteModel[];
  /** Every device by id (ids are unique across the zone). */
  readonly devices: ReadonlyMap<string, DeviceModel>;
  /** Edge gateways by id, each with the devices it owns. */
  readonly gateways: ReadonlyMap<string, GatewayModel>;
}


function reqObj(p: Problems, path: string, v: unknown): Obj | undefined {
  if (isObj(v)) return v;
  p.add(path, v, 'an object');
  return undefined;
}
function reqArr(p: Problems, path: string, v: unknown, optional = false): unknown[] {
  if (v === undefined && optional) return [];
  if (Array.isArray(v)) return v;
  p.add(path, v, 'a list');
  return [];
}
function reqId(p: Problems, path: string, v: unknown, pattern = ID_PATTERN): string | undefined {
  if (typeof v === 'string' && pattern.test(v)) return v;
  p.add(path, v, `an id matching ${pattern} (lower-case letters, digits, '-' or '_'; no MQTT wildcards or separators)`);
  return undefined;
}
function reqText(p: Problems, path: string, v: unknown, optional = false): string | undefined {
  if (v === undefined && optional) return undefined;
  if (typeof v === 'string' && v.length > 0 && v.length <= 200) return v;
  p.add(path, v, 'a non-empty string of at most 200 characters');
  return undefined;
}
function optInterval(p: Problems, path: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 86_400_000) return v;
  p.add(path, v, 'an integer number of milliseconds between 100 and 86400000');
  return undefined;
}
function rated(p: Problems, path: string, v: unknown): Record<string, number> {
  if (v === undefined) return {};
  const o = reqObj(p, path, v);
  const out: Record<string, number> = {};
  if (!o) return out;
  for (const [k, x] of Object.entries(o)) {
    if (!/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/.test(k)) p.add(`${path}.${k}`, k, 'a rated-figure name (letters, digits, _)');
    else if (typeof x !== 'number' || !Number.isFinite(x)) p.add(`${path}.${k}`, x, 'a finite number');
    else out[k] = x;
  }
  return out;
}
function unknownKeys(p: Problems, path: string, o: Obj, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) p.add(`${path}.${k}`, k, `one of the keys ${allowed.join(', ')}`);
  }
}
function uniqueIds(p: Problems, path: string, ids: (string | undefined)[]): void {
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    if (id === undefined) return;
    if (seen.has(id)) p.add(`${path}[${i}].id`, id, 'an id not used by a sibling');
    seen.add(id);
  });
}

function parseMetric(p: Problems, path: string, name: string, v: unknown): MetricDef | undefined {
  if (reqId(p, path, name, METRIC_PATTERN) === undefined) return undefined;
  if (RESERVED_METRICS.includes(name)) {
    p.add(path, name, `a metric name other than ${RESERVED_METRICS.join(', ')} (reserved by the platform)`);
    return undefined;
  }
  const o = reqObj(p, path, v);
  if (!o) return undefined;
  unknownKeys(p, path, o, ['type', 'unit', 'description', 'values', 'maxLength', 'carrier']);
  const type = o.type as MetricType;
  if (!METRIC_TYPES.includes(type)) {
    p.add(`${path}.type`, o.type, `one of ${METRIC_TYPES.join(', ')}`);
    return undefined;
  }
  const m: { -readonly [K in keyof MetricDef]: MetricDef[K] } = { name, type };
  if (type === 'number' || type === 'counter' || type === 'integer') {
    if (typeof o.unit !== 'string' || o.unit.length === 0 || o.unit.length > 32) {
      p.add(`${path}.unit`, o.unit, 'a unit symbol such as kWh, degC or m3/h');
    } else m.unit = o.unit;
  } else if (o.unit !== undefined) m.unit = String(o.unit);
  if (o.description !== undefined) m.description = reqText(p, `${path}.description`, o.description);
  if (type === 'enum') {
    const vals = reqArr(p, `${path}.values`, o.values);
    const ok = vals.every((x) => typeof x === 'string' && /^[a-z0-9_]{1,32}$/.test(x));
    if (vals.length === 0 || !ok) p.add(`${path}.values`, o.values, 'a non-empty list of lower-case words');
    else m.values = vals as string[];
  }
  if (type === 'text') {
    const ml = o.maxLength ?? TEXT_MAX_LENGTH_DEFAULT;
    if (typeof ml !== 'number' || !Number.isInteger(ml) || ml < 1 || ml > 4096) {
      p.add(`${path}.maxLength`, ml, 'an integer between 1 and 4096');
    } else m.maxLength = ml;
  }
  if (o.carrier !== undefined) {
    if (type !== 'counter') p.add(`${path}.carrier`, o.carrier, 'a carrier only on counter metrics');
    else m.carrier = reqId(p, `${path}.carrier`, o.carrier);
  }
  return m;
}

function parseKinds(p: Problems, v: unknown): Map<string, DeviceKind> {
  const kinds = new Map<string, DeviceKind>();
  const o = reqObj(p, 'kinds', v);
  if (!o) return kinds;
  for (const [id, raw] of Object.entries(o)) {
    const path = `kinds.${id}`;
    if (reqId(p, path, id) === undefined) continue;
    const k = reqObj(p, path, raw);
    if (!k) continue;
    unknownKeys(p, path, k, ['description', 'intervalMs', 'metrics', 'rated']);
    const metrics = new Map<string, MetricDef>();
    const mo = reqObj(p, `${path}.metrics`, k.metrics);
    if (mo) {
      for (const [name, mv] of Object.entries(mo)) {
        const m = parseMetric(p, `${path}.metrics.${name}`, name, mv);
        if (m) metrics.set(name, m);
      }
      if (Object.keys(mo).length === 0) p.add(`${path}.metrics`, mo, 'at least one metric');
    }
    kinds.set(id, {
      id,
      description: reqText(p, `${path}.description`, k.description) ?? id,
      intervalMs: optInterval(p, `${path}.intervalMs`, k.intervalMs) ?? 5000,
      metrics,
      rated: rated(p, `${path}.rated`, k.rated),
    });
  }
  return kinds;
}

interface Place { park: string; enterprise: string; workshop: string; line?: string }

function parseDevices(
  p: Problems, path: string, v: unknown, kinds: Map<string, DeviceKind>, place: Place,
  all: Map<string, DeviceModel>,
): DeviceModel[] {
  const out: DeviceModel[] = [];
  reqArr(p, path, v, true).forEach((raw, i) => {
    const dp = `${path}[${i}]`;
    const d = reqObj(p, dp, raw);
    if (!d) return;
    unknownKeys(p, dp, d, ['id', 'name', 'kind', 'intervalMs', 'rated']);
    const id = reqId(p, `${dp}.id`, d.id);
    const kind = typeof d.kind === 'string' ? kinds.get(d.kind) : undefined;
    if (!kind) p.add(`${dp}.kind`, d.kind, `a device kind declared under kinds (${[...kinds.keys()].join(', ')})`);
    const name = reqText(p, `${dp}.name`, d.name, true);
    const intervalMs = optInterval(p, `${dp}.intervalMs`, d.intervalMs);
    const r = rated(p, `${dp}.rated`, d.rated);
    if (id === undefined || !kind) return;
    if (all.has(id)) {
      p.add(`${dp}.id`, id, 'a device id unique across the whole zone');
      return;
    }
    const dev: DeviceModel = {
      id, name: name ?? id, kind, intervalMs: intervalMs ?? kind.intervalMs,
      rated: { ...kind.rated, ...r }, ...place,
    };
    all.set(id, dev);
    out.push(dev);
  });
  return out;
}

/** Validates parsed model data (from YAML or JSON) and returns the frozen model. */
export function parseParkModel(data: unknown): ParkModel {
  const p = new Problems();
  const root = reqObj(p, '(root)', data) ?? {};
  unknownKeys(p, '(root)', root, ['zone', 'kinds', 'parks', 'gateways']);
  const zo = reqObj(p, 'zone', root.zone) ?? {};
  const zone = {
    id: reqId(p, 'zone.id', zo.id) ?? 'zone',
    name: reqText(p, 'zone.name', zo.name) ?? 'zone',
    nameZh: reqText(p, 'zone.nameZh', zo.nameZh, true),
  };
  const kinds = parseKinds(p, root.kinds);
  const devices = new Map<string, DeviceModel>();
  const parksRaw = reqArr(p, 'parks', root.parks);
  const parks: ParkSiteModel[] = parksRaw.map((pv, pi) => {
    const pp = `parks[${pi}]`;
    const po = reqObj(p, pp, pv) ?? {};
    unknownKeys(p, pp, po, ['id', 'name', 'nameZh', 'enterprises']);
    const park = reqId(p, `${pp}.id`, po.id) ?? '?';
    if (park.startsWith('_')) p.add(`${pp}.id`, park, 'an id not starting with _ (reserved for platform topics)');
    const ents = reqArr(p, `${pp}.enterprises`, po.enterprises).map((ev, ei) => {
      const ep = `${pp}.enterprises[${ei}]`;
      const eo = reqObj(p, ep, ev) ?? {};
      unknownKeys(p, ep, eo, ['id', 'name', 'nameZh', 'sector', 'workshops']);
      const enterprise = reqId(p, `${ep}.id`, eo.id) ?? '?';
      const wss = reqArr(p, `${ep}.workshops`, eo.workshops).map((wv, wi) => {
        const wp = `${ep}.workshops[${wi}]`;
        const wo = reqObj(p, wp, wv) ?? {};
        unknownKeys(p, wp, wo, ['id', 'name', 'lines', 'devices']);
        const workshop = reqId(p, `${wp}.id`, wo.id) ?? '?';
        const lines = reqArr(p, `${wp}.lines`, wo.lines, true).map((lv, li) => {
          const lp = `${wp}.lines[${li}]`;
          const lo = reqObj(p, lp, lv) ?? {};
          unknownKeys(p, lp, lo, ['id', 'name', 'devices']);
          const line = reqId(p, `${lp}.id`, lo.id) ?? '?';
          return {
            id: line, name: reqText(p, `${lp}.name`, lo.name, true) ?? line,
            devices: parseDevices(p, `${lp}.devices`, lo.devices, kinds, { park, enterprise, workshop, line }, devices),
          };
        });
        uniqueIds(p, `${wp}.lines`, lines.map((l) => l.id));
        return {
          id: workshop, name: reqText(p, `${wp}.name`, wo.name) ?? workshop, lines,
          devices: parseDevices(p, `${wp}.devices`, wo.devices, kinds, { park, enterprise, workshop }, devices),
        };
      });
      uniqueIds(p, `${ep}.workshops`, wss.map((w) => w.id));
      return {
        id: enterprise, name: reqText(p, `${ep}.name`, eo.name) ?? enterprise,
        nameZh: reqText(p, `${ep}.nameZh`, eo.nameZh, true),
        sector: reqId(p, `${ep}.sector`, eo.sector) ?? '?', workshops: wss,
      };
    });
    uniqueIds(p, `${pp}.enterprises`, ents.map((e) => e.id));
    return {
      id: park, name: reqText(p, `${pp}.name`, po.name) ?? park,
      nameZh: reqText(p, `${pp}.nameZh`, po.nameZh, true), enterprises: ents,
    };
  });
  uniqueIds(p, 'parks', parks.map((x) => x.id));
  if (devices.size === 0 && p.list.length === 0) p.add('parks', parksRaw, 'at least one device');
  const gateways = parseGateways(p, root.gateways, devices);
  if (p.list.length > 0) {
    throw new PlatformError('SP_ERR_MODEL', `park model refused (${p.list.length} problem${p.list.length > 1 ? 's' : ''}):\n  ${p.list.join('\n  ')}`);
  }
  return deepFreeze({ zone, kinds, parks, devices, gateways });
}

/** `gateways: [{ id: gw-…, name, devices: [device ids] }]`; a device belongs to one gateway at most. */
function parseGateways(p: Problems, v: unknown, devices: Map<string, DeviceModel>): Map<string, GatewayModel> {
  const out = new Map<string, GatewayModel>();
  reqArr(p, 'gateways', v, true).forEach((raw, i) => {
    const gp = `gateways[${i}]`;
    const g = reqObj(p, gp, raw);
    if (!g) return;
    unknownKeys(p, gp, g, ['id', 'name', 'devices']);
    const id = reqId(p, `${gp}.id`, g.id);
    if (id !== undefined && !id.startsWith(GATEWAY_PREFIX)) p.add(`${gp}.id`, id, `a gateway id starting with ${GATEWAY_PREFIX}`);
    else if (id !== undefined && (out.has(id) || devices.has(id))) p.add(`${gp}.id`, id, 'a gateway id not used by another gateway or a device');
    const name = reqText(p, `${gp}.name`, g.name, true);
    const owned: DeviceModel[] = [];
    reqArr(p, `${gp}.devices`, g.devices).forEach((dv, di) => {
      const d = typeof dv === 'string' ? devices.get(dv) : undefined;
      if (!d) return p.add(`${gp}.devices[${di}]`, dv, 'the id of a device in the park model');
      if (d.gateway !== undefined) return p.add(`${gp}.devices[${di}]`, dv, `a device not already owned by gateway ${d.gateway}`);
      (d as { gateway?: string }).gateway = id;
      owned.push(d);
    });
    if (id !== undefined) out.set(id, { id, name: name ?? id, devices: owned });
  });
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    if (o instanceof Map) for (const v of o.values()) deepFreeze(v);
    else for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
