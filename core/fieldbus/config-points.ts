/**
 * Profiles of config/gateway.yaml (register maps): their shape is checked once per profile, and
 * their fit to a device kind (metric declared, same unit, data type able to carry the metric's
 * type) once per profile and kind it is bound to. Used by config.ts.
 */
import { METRIC_PATTERN } from '../ids.ts';
import type { DeviceKind } from '../model.ts';
import { isObj, Problems, type Obj } from '../problems.ts';
import { DLT645_IDS } from './dlt645.ts';
import type { Dlt645Point, ModbusPoint, PollGroup, Profile } from './config.ts';
import { isIntegerType, MODBUS_DATA_TYPES, registerCount, typeRange, WORD_ORDERS, type ModbusDataType } from './modbus-values.ts';

export const PROFILE_PROTOCOLS = ['modbus', 'dlt645'] as const;
export type ProfileProtocol = (typeof PROFILE_PROTOCOLS)[number];
/** The four Modbus data spaces: coils (FC 1), discrete inputs (FC 2), input (FC 4) and holding registers (FC 3). */
export const REGISTER_TYPES = ['coil', 'discrete', 'input', 'holding'] as const;
export type RegisterType = (typeof REGISTER_TYPES)[number];

/** Poll group of a profile that declares none. */
export const DEFAULT_POLL_GROUP: Readonly<PollGroup> = Object.freeze({ name: 'default', intervalMs: 5000 });
const COUNTER_TYPES: readonly ModbusDataType[] = ['uint16', 'uint32', 'uint64', 'int64'];

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

function pollGroups(p: Problems, path: string, v: unknown): Map<string, PollGroup> {
  const out = new Map<string, PollGroup>();
  if (v === undefined) return out.set(DEFAULT_POLL_GROUP.name, DEFAULT_POLL_GROUP);
  const o = p.obj(path, v);
  if (!o) return out;
  for (const [name, raw] of Object.entries(o)) {
    const gp = `${path}.${name}`;
    if (!METRIC_PATTERN.test(name)) p.add(gp, name, 'a poll group name (lower-case letters, digits, _)');
    const g = p.obj(gp, raw);
    if (!g) continue;
    p.keys(gp, g, ['intervalMs']);
    if (!isInt(g.intervalMs, 100, 86_400_000)) p.add(`${gp}.intervalMs`, g.intervalMs, 'an integer number of milliseconds between 100 and 86400000');
    else out.set(name, { name, intervalMs: g.intervalMs });
  }
  if (Object.keys(o).length === 0) p.add(path, o, 'at least one poll group, e.g. { default: { intervalMs: 5000 } }');
  return out;
}

function group(p: Problems, path: string, v: unknown, groups: Map<string, PollGroup>): string {
  const first = groups.keys().next().value ?? DEFAULT_POLL_GROUP.name;
  if (v === undefined) return first;
  if (typeof v === 'string' && groups.has(v)) return v;
  p.add(path, v, `a poll group of this profile (${[...groups.keys()].join(', ')})`);
  return first;
}

function metricName(p: Problems, path: string, v: unknown): string {
  if (typeof v === 'string' && METRIC_PATTERN.test(v)) return v;
  p.add(path, v, 'a metric name of the device kind');
  return '?';
}

function enumValues(p: Problems, path: string, v: unknown): Map<number, string> | undefined {
  if (v === undefined) return undefined;
  const o = p.obj(path, v);
  if (!o) return undefined;
  const out = new Map<number, string>();
  for (const [k, x] of Object.entries(o)) {
    if (!/^-?\d{1,20}$/.test(k)) p.add(`${path}.${k}`, k, 'an integer raw value as key');
    else if (typeof x !== 'string') p.add(`${path}.${k}`, x, 'an enum value (a string)');
    else out.set(Number(k), x);
  }
  if (Object.keys(o).length === 0) p.add(path, o, 'at least one raw value: enum value entry');
  return out;
}

function modbusPoint(p: Problems, path: string, o: Obj, groups: Map<string, PollGroup>): ModbusPoint | undefined {
  p.keys(path, o, ['metric', 'register', 'address', 'type', 'order', 'bit', 'scale', 'offset', 'unit', 'values', 'group', 'description']);
  const metric = metricName(p, `${path}.metric`, o.metric);
  const register = p.oneOf<RegisterType>(`${path}.register`, o.register, REGISTER_TYPES);
  if (!isInt(o.address, 0, 65535)) p.add(`${path}.address`, o.address, 'a register address 0..65535 (protocol address, 0-based)');
  const g = group(p, `${path}.group`, o.group, groups);
  if (o.unit !== undefined && (typeof o.unit !== 'string' || o.unit.length === 0)) p.add(`${path}.unit`, o.unit, 'a unit symbol');
  if (register === 'coil' || register === 'discrete') {
    if (o.type !== undefined && o.type !== 'bit') p.add(`${path}.type`, o.type, `bit or nothing (a ${register} is one bit)`);
    for (const k of ['order', 'bit', 'scale', 'offset', 'values'] as const) {
      if (o[k] !== undefined) p.add(`${path}.${k}`, o[k], `no ${k} on a ${register} (it carries one boolean)`);
    }
    if (register === undefined || !isInt(o.address, 0, 65535)) return undefined;
    return { protocol: 'modbus', metric, register, address: o.address, type: 'bit', order: 'ABCD', scale: 1, offset: 0, group: g, count: 1 };
  }
  const type = p.oneOf<ModbusDataType>(`${path}.type`, o.type, MODBUS_DATA_TYPES);
  const order = o.order === undefined ? 'ABCD' : p.oneOf(`${path}.order`, o.order, WORD_ORDERS);
  let bit: number | undefined;
  if (type === 'bit') {
    if (!isInt(o.bit, 0, 15)) p.add(`${path}.bit`, o.bit, 'a bit index 0..15 (0 = least significant) for type bit');
    else bit = o.bit;
    for (const k of ['scale', 'offset', 'values'] as const) if (o[k] !== undefined) p.add(`${path}.${k}`, o[k], `no ${k} on type bit (it carries one boolean)`);
  } else if (o.bit !== undefined) p.add(`${path}.bit`, o.bit, 'no bit index except with type: bit');
  const scale = o.scale ?? 1;
  const offset = o.offset ?? 0;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale === 0) p.add(`${path}.scale`, o.scale, 'a finite non-zero number (metric = raw × scale + offset)');
  if (typeof offset !== 'number' || !Number.isFinite(offset)) p.add(`${path}.offset`, o.offset, 'a finite number (metric = raw × scale + offset)');
  const values = enumValues(p, `${path}.values`, o.values);
  if (values && (o.scale !== undefined || o.offset !== undefined)) p.add(`${path}.values`, o.values, 'either a values map or scale/offset, not both');
  if (!type || !order || !register || !isInt(o.address, 0, 65535) || typeof scale !== 'number' || typeof offset !== 'number') return undefined;
  const count = registerCount(type);
  if (o.address + count - 1 > 65535) p.add(`${path}.address`, o.address, `an address whose ${count} registers end by 65535`);
  if (type !== 'bit') {
    const [lo, hi] = typeRange(type);
    if (![lo * scale + offset, hi * scale + offset].every(Number.isFinite)) {
      p.add(`${path}.scale`, scale, `a scale and offset keeping ${type}'s range finite (${lo}..${hi} × ${scale} + ${offset} is not)`);
    }
  }
  const pt: ModbusPoint = { protocol: 'modbus', metric, register, address: o.address, type, order, scale, offset, group: g, count };
  return { ...pt, ...(bit !== undefined && { bit }), ...(typeof o.unit === 'string' && { unit: o.unit }), ...(values && { values }) };
}

function dlt645Point(p: Problems, path: string, o: Obj, groups: Map<string, PollGroup>): Dlt645Point | undefined {
  p.keys(path, o, ['metric', 'di', 'scale', 'group', 'description']);
  const metric = metricName(p, `${path}.metric`, o.metric);
  const g = group(p, `${path}.group`, o.group, groups);
  const format = typeof o.di === 'string' ? DLT645_IDS.get(o.di.toUpperCase()) : undefined;
  if (!format) p.add(`${path}.di`, o.di, `a data identifier in quotes, one of ${[...DLT645_IDS.keys()].join(', ')}`);
  const scale = o.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) p.add(`${path}.scale`, o.scale, 'a positive number (the CT × PT ratio; metric = meter value × scale)');
  if (!format || typeof scale !== 'number') return undefined;
  return { protocol: 'dlt645', metric, di: format.di, format, scale, group: g };
}

/** Registers or bits [start, end) a point occupies, with its data space. */
const span = (x: ModbusPoint): [number, number] => [x.address, x.address + x.count];

/** Points may share a register only as different bits of it (several flags in one status word). */
function checkOverlaps(p: Problems, path: string, points: readonly (ModbusPoint | undefined)[]): void {
  points.forEach((a, i) => {
    if (!a) return;
    for (let j = 0; j < i; j++) {
      const b = points[j];
      if (!b || a.register !== b.register) continue;
      const [as, ae] = span(a);
      const [bs, be] = span(b);
      if (as >= be || bs >= ae) continue;
      const bits = a.type === 'bit' && b.type === 'bit' && a.register !== 'coil' && a.register !== 'discrete' && a.bit !== b.bit;
      if (!bits) {
        p.add(`${path}[${i}].address`, a.address, `${a.register} ${as}..${ae - 1} not used by points[${j}] (${b.metric} at ${bs}..${be - 1})`);
      }
    }
  });
}

export function parseProfiles(p: Problems, v: unknown): Map<string, Profile> {
  const out = new Map<string, Profile>();
  const o = p.obj('profiles', v);
  if (!o) return out;
  for (const [id, raw] of Object.entries(o)) {
    const path = `profiles.${id}`;
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(id)) p.add(path, id, 'a profile id (lower-case letters, digits, - or _)');
    const po = p.obj(path, raw);
    if (!po) continue;
    p.keys(path, po, ['protocol', 'description', 'pollGroups', 'points']);
    const protocol = p.oneOf(`${path}.protocol`, po.protocol, PROFILE_PROTOCOLS);
    const groups = pollGroups(p, `${path}.pollGroups`, po.pollGroups);
    const list = p.arr(`${path}.points`, po.points);
    if (Array.isArray(po.points) && list.length === 0) p.add(`${path}.points`, po.points, 'at least one point');
    const points = list.map((x, i) => {
      const pp = `${path}.points[${i}]`;
      if (!isObj(x)) return void p.add(pp, x, 'an object');
      if (protocol === 'modbus') return modbusPoint(p, pp, x, groups);
      if (protocol === 'dlt645') return dlt645Point(p, pp, x, groups);
      return undefined;
    });
    const seen = new Map<string, number>();
    points.forEach((x, i) => {
      if (!x) return;
      const j = seen.get(x.metric);
      if (j !== undefined) p.add(`${path}.points[${i}].metric`, x.metric, `a metric not already read by points[${j}]`);
      seen.set(x.metric, i);
    });
    if (protocol === 'modbus') {
      checkOverlaps(p, `${path}.points`, points as (ModbusPoint | undefined)[]);
      out.set(id, { id, protocol, pollGroups: groups, points: points.filter((x): x is ModbusPoint => x !== undefined) as ModbusPoint[] });
    } else if (protocol === 'dlt645') {
      out.set(id, { id, protocol, pollGroups: groups, points: points.filter((x): x is Dlt645Point => x !== undefined) as Dlt645Point[] });
    }
  }
  return out;
}

/**
 * Checks that every point of a profile fits the kind of a device it is bound to: the metric is
 * declared, units are equal, and the register's data can carry the metric's type. `usedBy`
 * names the binding, for the message.
 */
export function checkProfileForKind(p: Problems, profile: Profile, kind: DeviceKind, usedBy: string): void {
  profile.points.forEach((pt, i) => {
    const path = `profiles.${profile.id}.points[${i}]`;
    const ctx = `(kind ${kind.id}, ${usedBy})`;
    const def = kind.metrics.get(pt.metric);
    if (!def) return p.add(`${path}.metric`, pt.metric, `a metric of kind ${kind.id}: ${[...kind.metrics.keys()].join(', ')} ${ctx}`);
    if (def.type === 'text') return p.add(`${path}.metric`, pt.metric, `a metric that is not text: registers carry numbers and flags ${ctx}`);
    const numeric = def.type === 'number' || def.type === 'counter' || def.type === 'integer';
    const unit = pt.protocol === 'modbus' ? pt.unit : pt.format.unit;
    const unitPath = pt.protocol === 'modbus' ? `${path}.unit` : `${path}.di`;
    if (numeric && unit !== def.unit) {
      p.add(unitPath, pt.protocol === 'modbus' ? unit : `${pt.di} (${unit})`, `the unit ${def.unit} of metric ${def.name} in the park model ${ctx}`);
    } else if (!numeric && pt.protocol === 'modbus' && unit !== undefined && unit !== def.unit) {
      p.add(unitPath, unit, `no unit: metric ${def.name} is ${def.type} ${ctx}`);
    }
    if (pt.protocol === 'dlt645') {
      if (!numeric) p.add(`${path}.metric`, pt.metric, `a number or counter metric: DL/T 645 values are decimal numbers, ${def.name} is ${def.type} ${ctx}`);
      else if (def.type === 'counter' && pt.format.signed) p.add(`${path}.di`, pt.di, `an unsigned data identifier for counter ${def.name}: ${pt.di} (${pt.format.name}) can be negative ${ctx}`);
      else if (def.type === 'integer' && (pt.format.decimals > 0 || !Number.isInteger(pt.scale))) p.add(`${path}.di`, pt.di, `a data identifier without decimals and an integer scale for integer ${def.name} ${ctx}`);
      return undefined;
    }
    if (def.type !== 'enum' && pt.values) p.add(`${path}.values`, Object.fromEntries(pt.values), `no values map: metric ${def.name} is ${def.type} ${ctx}`);
    switch (def.type) {
      case 'boolean':
        if (pt.type !== 'bit') p.add(`${path}.type`, pt.type, `a coil, a discrete input or type bit with a bit index: metric ${def.name} is boolean ${ctx}`);
        break;
      case 'enum':
        if (!isIntegerType(pt.type)) p.add(`${path}.type`, pt.type, `an integer data type for enum ${def.name} ${ctx}`);
        if (!pt.values) p.add(`${path}.values`, undefined, `a map of raw values to ${def.values?.join(', ')} for enum ${def.name} ${ctx}`);
        else for (const [raw, v] of pt.values) if (!def.values?.includes(v)) p.add(`${path}.values.${raw}`, v, `one of ${def.values?.join(', ')} ${ctx}`);
        break;
      case 'integer':
        if (!isIntegerType(pt.type) || !Number.isInteger(pt.scale) || !Number.isInteger(pt.offset)) {
          p.add(`${path}.type`, pt.type, `an integer data type with integer scale and offset for integer ${def.name} ${ctx}`);
        }
        break;
      case 'counter':
        if (!COUNTER_TYPES.includes(pt.type)) p.add(`${path}.type`, pt.type, `${COUNTER_TYPES.join(', ')} for counter ${def.name}: a counter never goes negative (and a float loses counts) ${ctx}`);
        if (pt.scale <= 0 || pt.offset < 0) p.add(`${path}.scale`, pt.scale, `a positive scale and an offset >= 0 for counter ${def.name} (offset ${pt.offset}) ${ctx}`);
        break;
      case 'number':
        if (pt.type === 'bit') p.add(`${path}.type`, pt.type, `a numeric data type for number ${def.name} ${ctx}`);
        break;
    }
    return undefined;
  });
}
