/**
 * The gateway configuration (config/gateway.yaml): register maps ("profiles", the device's
 * manual) and, per gateway, the field connections it polls and the devices bound on each.
 * Validated against the park model at start-up: every problem is reported at once with its
 * path, the value and what was expected (core/problems.ts), like the park model itself.
 * Pure: `parseGatewayConfig` takes already-parsed data; reading the file is
 * `loadGatewayConfig` in core/fieldbus/config-file.ts.
 */
import { PlatformError } from '../errors.ts';
import { ID_PATTERN } from '../ids.ts';
import { GATEWAY_PREFIX, type DeviceModel, type MetricDef, type ParkModel } from '../model.ts';
import { deepFreeze, isObj, Problems } from '../problems.ts';
import { checkProfileForKind, parseProfiles, type ProfileProtocol, type RegisterType } from './config-points.ts';
import { isDlt645Address, BROADCAST_ADDRESSES, type Dlt645Id } from './dlt645.ts';
import type { ModbusDataType, WordOrder } from './modbus-values.ts';

export { DEFAULT_POLL_GROUP, PROFILE_PROTOCOLS, REGISTER_TYPES, type ProfileProtocol, type RegisterType } from './config-points.ts';

export const CONNECTION_PROTOCOLS = ['modbus-tcp', 'modbus-rtu-tcp', 'dlt645-tcp'] as const;
export type ConnectionProtocol = (typeof CONNECTION_PROTOCOLS)[number];

/** Which profile protocol each connection protocol speaks. */
export const PROFILE_PROTOCOL_OF: Readonly<Record<ConnectionProtocol, ProfileProtocol>> = {
  'modbus-tcp': 'modbus', 'modbus-rtu-tcp': 'modbus', 'dlt645-tcp': 'dlt645',
};

/** Defaults of a connection entry, with units in the names. */
export const CONNECTION_DEFAULTS = Object.freeze({
  /** Wait for one answer before the request counts as failed. */
  timeoutMs: 1000,
  /** Further attempts of a failed request before the device counts as unreachable for this poll. */
  retries: 2,
  /** Pause between two requests on one connection: none on Modbus TCP ... */
  interRequestDelayMsTcp: 0,
  /** ... and 20 ms on serial lines behind a device server (RTU, DL/T 645): the line turns around. */
  interRequestDelayMsSerial: 20,
  /** Registers per read request (FC 3/4 allow at most 125). */
  maxRegistersPerRequest: 120,
  /** Coils or discrete inputs per read request (FC 1/2 allow at most 2000). */
  maxBitsPerRequest: 2000,
  /** Unused registers (or bits) one read may span between two points to save a request. 0: never read unmapped addresses. */
  maxGap: 0,
  /** Reconnect back-off: first wait, doubled after each failure up to the maximum. */
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
});

export interface PollGroup {
  readonly name: string;
  readonly intervalMs: number;
}

/** One metric read from Modbus registers or bits. */
export interface ModbusPoint {
  readonly protocol: 'modbus';
  readonly metric: string;
  readonly register: RegisterType;
  /** Protocol address (0-based, as on the wire) of the first register or bit. */
  readonly address: number;
  /** Data type; always 'bit' for coils and discrete inputs. */
  readonly type: ModbusDataType;
  /** Byte/word order (default ABCD); irrelevant for bits. */
  readonly order: WordOrder;
  /** type bit in a register: which bit, 0 = least significant. */
  readonly bit?: number;
  /** Metric value = raw × scale + offset (defaults 1 and 0; numbers only). */
  readonly scale: number;
  readonly offset: number;
  /** The unit the register carries (equals the park model's unit of the metric). */
  readonly unit?: string;
  /** Enum metrics: raw integer → enum value. */
  readonly values?: ReadonlyMap<number, string>;
  /** Poll group name (default: the profile's first group). */
  readonly group: string;
  /** Registers (or bits, for coils and discrete inputs) the point occupies from `address`. */
  readonly count: number;
}

/** One metric read from a DL/T 645-2007 meter by data identifier. */
export interface Dlt645Point {
  readonly protocol: 'dlt645';
  readonly metric: string;
  /** Data identifier DI3 DI2 DI1 DI0 as 8 hex digits, e.g. '00010000'. */
  readonly di: string;
  /** Its format from DLT645_IDS (bytes, decimals, sign, unit). */
  readonly format: Dlt645Id;
  /** Metric value = meter value × scale: the CT × PT ratio of a transformer-connected meter (default 1). */
  readonly scale: number;
  readonly group: string;
}

export interface ModbusProfile {
  readonly id: string;
  readonly protocol: 'modbus';
  readonly pollGroups: ReadonlyMap<string, PollGroup>;
  readonly points: readonly ModbusPoint[];
}
export interface Dlt645Profile {
  readonly id: string;
  readonly protocol: 'dlt645';
  readonly pollGroups: ReadonlyMap<string, PollGroup>;
  readonly points: readonly Dlt645Point[];
}
export type Profile = ModbusProfile | Dlt645Profile;

/** A park-model device bound to a field address on a connection. */
export interface ModbusBinding {
  readonly protocol: 'modbus';
  readonly device: DeviceModel;
  /** Modbus unit id (slave address) 1..247. */
  readonly unitId: number;
  readonly profile: ModbusProfile;
}
export interface Dlt645Binding {
  readonly protocol: 'dlt645';
  readonly device: DeviceModel;
  /** 12-digit meter address as printed on the meter, most significant digit first. */
  readonly address: string;
  readonly profile: Dlt645Profile;
}
export type DeviceBinding = ModbusBinding | Dlt645Binding;

export interface ConnectionConfig {
  readonly id: string;
  /** The gateway this connection belongs to. */
  readonly gateway: string;
  readonly protocol: ConnectionProtocol;
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly interRequestDelayMs: number;
  readonly maxRegistersPerRequest: number;
  readonly maxBitsPerRequest: number;
  readonly maxGap: number;
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
  readonly devices: readonly DeviceBinding[];
}

export interface GatewaySpec {
  /** Gateway id, starting with `gw-`; also its MQTT identity. */
  readonly id: string;
  readonly connections: readonly ConnectionConfig[];
}

export interface GatewayConfig {
  readonly profiles: ReadonlyMap<string, Profile>;
  readonly gateways: ReadonlyMap<string, GatewaySpec>;
}

/** One read request of a device: contiguous (or near-contiguous, see maxGap) points of one register type and poll group. */
export interface ReadBlock {
  readonly register: RegisterType;
  readonly group: string;
  readonly address: number;
  /** Registers or bits to read. */
  readonly count: number;
  /** The points it serves, by address. */
  readonly points: readonly ModbusPoint[];
}

export type { MetricDef };
export { coalesce, pointSlice } from './blocks.ts';
export { dlt645MetricValue, dlt645MeterValue, modbusMetricValue, modbusRawValue, type PointValue } from './point-values.ts';

/** Gateway ids: an id starting with GATEWAY_PREFIX (gw-); it is the gateway's MQTT identity too. */
export const GATEWAY_ID_PATTERN = new RegExp(`^${GATEWAY_PREFIX}[a-z0-9][a-z0-9_-]{0,44}$`);

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

function int(p: Problems, path: string, v: unknown, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (isInt(v, min, max)) return v;
  p.add(path, v, `an integer between ${min} and ${max}`);
  return dflt;
}

interface Seen {
  devices: Map<string, string>;
  endpoints: Map<string, string>;
  connections: Map<string, string>;
  kindChecks: Set<string>;
}

function binding(
  p: Problems, path: string, raw: unknown, conn: { protocol: ConnectionProtocol; gateway: string },
  profiles: ReadonlyMap<string, Profile>, model: ParkModel, seen: Seen,
): DeviceBinding | undefined {
  const o = p.obj(path, raw);
  if (!o) return undefined;
  p.keys(path, o, ['device', 'unitId', 'address', 'profile', 'description']);
  const device = typeof o.device === 'string' ? model.devices.get(o.device) : undefined;
  if (!device) p.add(`${path}.device`, o.device, 'a device id of the park model');
  else {
    const before = seen.devices.get(device.id);
    if (before) p.add(`${path}.device`, device.id, `a device not already bound at ${before} (one device, one connection)`);
    seen.devices.set(device.id, path);
    // The park model says which gateway may publish for a device (the broker enforces it).
    const gw = model.gateways.get(conn.gateway);
    if (gw && !gw.devices.some((d) => d.id === device.id)) {
      p.add(`${path}.device`, device.id, `a device owned by ${conn.gateway} in the park model's gateways list (${gw.devices.map((d) => d.id).join(', ') || 'none'})`);
    }
  }
  const profile = typeof o.profile === 'string' ? profiles.get(o.profile) : undefined;
  const want = PROFILE_PROTOCOL_OF[conn.protocol];
  if (!profile) p.add(`${path}.profile`, o.profile, `a profile under profiles (${[...profiles.keys()].join(', ')})`);
  else if (profile.protocol !== want) p.add(`${path}.profile`, o.profile, `a ${want} profile: ${profile.id} is ${profile.protocol}, the connection ${conn.protocol}`);
  if (device && profile && profile.protocol === want && !seen.kindChecks.has(`${profile.id} ${device.kind.id}`)) {
    seen.kindChecks.add(`${profile.id} ${device.kind.id}`);
    checkProfileForKind(p, profile, device.kind, `bound to ${device.id} at ${path}`);
  }
  // A reading more often than the park model's interval would be counted as more run time and
  // more samples than there were (OEE, completeness): poll no faster than the device reports.
  if (device && profile) {
    for (const g of profile.pollGroups.values()) {
      if (g.intervalMs < device.intervalMs && (profile.points as readonly { group: string }[]).some((pt) => pt.group === g.name)) {
        p.add(`${path}.profile`, o.profile, `a profile whose poll groups are no faster than ${device.id}'s interval in the park model (${device.intervalMs} ms; group ${g.name} polls every ${g.intervalMs} ms): KPIs count samples × interval`);
      }
    }
  }
  if (want === 'modbus') {
    if (o.address !== undefined) p.add(`${path}.address`, o.address, 'no address on a Modbus connection (unitId names the device)');
    if (!isInt(o.unitId, 1, 247)) p.add(`${path}.unitId`, o.unitId, 'a Modbus unit id 1..247 (0 is broadcast, which no device answers)');
    if (!device || profile?.protocol !== 'modbus' || !isInt(o.unitId, 1, 247)) return undefined;
    return { protocol: 'modbus', device, unitId: o.unitId, profile };
  }
  if (o.unitId !== undefined) p.add(`${path}.unitId`, o.unitId, 'no unitId on a DL/T 645 connection (address names the meter)');
  const addr = o.address;
  if (!isDlt645Address(addr) || BROADCAST_ADDRESSES.includes(addr)) {
    p.add(`${path}.address`, addr, "the meter's 12-digit address in quotes, e.g. '000000000001' (not a broadcast address)");
    return undefined;
  }
  if (!device || profile?.protocol !== 'dlt645') return undefined;
  return { protocol: 'dlt645', device, address: addr, profile };
}

function connection(
  p: Problems, path: string, raw: unknown, gateway: string, profiles: ReadonlyMap<string, Profile>, model: ParkModel, seen: Seen,
): ConnectionConfig | undefined {
  const o = p.obj(path, raw);
  if (!o) return undefined;
  p.keys(path, o, ['id', 'protocol', 'host', 'port', 'timeoutMs', 'retries', 'interRequestDelayMs', 'maxRegistersPerRequest',
    'maxBitsPerRequest', 'maxGap', 'backoff', 'devices', 'description']);
  const id = typeof o.id === 'string' && ID_PATTERN.test(o.id) ? o.id : undefined;
  if (!id) p.add(`${path}.id`, o.id, `a connection id matching ${ID_PATTERN}`);
  else if (seen.connections.has(id)) p.add(`${path}.id`, id, `a connection id not used at ${seen.connections.get(id)}`);
  else seen.connections.set(id, path);
  const protocol = p.oneOf(`${path}.protocol`, o.protocol, CONNECTION_PROTOCOLS);
  const host = typeof o.host === 'string' && /^[A-Za-z0-9.:_-]{1,253}$/.test(o.host) ? o.host : undefined;
  if (!host) p.add(`${path}.host`, o.host, 'a host name or IP address');
  const port = int(p, `${path}.port`, o.port, 1, 65535, 0);
  if (o.port === undefined) p.add(`${path}.port`, o.port, 'a TCP port 1..65535');
  const endpoint = `${host}:${port}`;
  if (host && port > 0) {
    if (seen.endpoints.has(endpoint)) p.add(`${path}.port`, port, `a host and port not used by the connection at ${seen.endpoints.get(endpoint)}`);
    seen.endpoints.set(endpoint, path);
  }
  const d = CONNECTION_DEFAULTS;
  const serial = protocol !== 'modbus-tcp';
  const bo = o.backoff === undefined ? {} : p.obj(`${path}.backoff`, o.backoff) ?? {};
  p.keys(`${path}.backoff`, bo, ['baseMs', 'maxMs']);
  const baseMs = int(p, `${path}.backoff.baseMs`, bo.baseMs, 10, 3_600_000, d.backoffBaseMs);
  const maxMs = int(p, `${path}.backoff.maxMs`, bo.maxMs, baseMs, 3_600_000, Math.max(baseMs, d.backoffMaxMs));
  const maxRegistersPerRequest = int(p, `${path}.maxRegistersPerRequest`, o.maxRegistersPerRequest, 4, 125, d.maxRegistersPerRequest);
  const list = p.arr(`${path}.devices`, o.devices);
  if (Array.isArray(o.devices) && list.length === 0) p.add(`${path}.devices`, o.devices, 'at least one device');
  const devices = !protocol ? [] : list
    .map((b, i) => binding(p, `${path}.devices[${i}]`, b, { protocol, gateway }, profiles, model, seen))
    .filter((b): b is DeviceBinding => b !== undefined);
  const field = (b: DeviceBinding): string => (b.protocol === 'modbus' ? String(b.unitId) : b.address);
  devices.forEach((b, i) => {
    const j = devices.findIndex((x) => field(x) === field(b));
    if (j < i) p.add(`${path}.devices`, field(b), `${b.protocol === 'modbus' ? 'unit ids' : 'addresses'} unique on one line (${b.device.id} and ${(devices[j] as DeviceBinding).device.id} share it)`);
  });
  const out: ConnectionConfig = {
    id: id ?? '?', gateway, protocol: protocol ?? 'modbus-tcp', host: host ?? '?', port,
    timeoutMs: int(p, `${path}.timeoutMs`, o.timeoutMs, 10, 60_000, d.timeoutMs),
    retries: int(p, `${path}.retries`, o.retries, 0, 10, d.retries),
    interRequestDelayMs: int(p, `${path}.interRequestDelayMs`, o.interRequestDelayMs, 0, 10_000, serial ? d.interRequestDelayMsSerial : d.interRequestDelayMsTcp),
    maxRegistersPerRequest,
    maxBitsPerRequest: int(p, `${path}.maxBitsPerRequest`, o.maxBitsPerRequest, 1, 2000, d.maxBitsPerRequest),
    maxGap: int(p, `${path}.maxGap`, o.maxGap, 0, 124, d.maxGap),
    backoff: { baseMs, maxMs },
    devices,
  };
  return out;
}

/** Validates parsed gateway configuration data against the park model; returns it frozen with defaults filled in. */
export function parseGatewayConfig(data: unknown, model: ParkModel): GatewayConfig {
  const p = new Problems();
  const root = p.obj('(root)', data) ?? {};
  p.keys('(root)', root, ['profiles', 'gateways']);
  const profiles = parseProfiles(p, root.profiles);
  const seen: Seen = { devices: new Map(), endpoints: new Map(), connections: new Map(), kindChecks: new Set() };
  const gateways = new Map<string, GatewaySpec>();
  for (const [id, raw] of Object.entries(p.obj('gateways', root.gateways) ?? {})) {
    const path = `gateways.${id}`;
    if (!GATEWAY_ID_PATTERN.test(id)) p.add(path, id, `a gateway id matching ${GATEWAY_ID_PATTERN}`);
    else if (!model.gateways.has(id)) p.add(path, id, `a gateway declared in the park model's gateways list (${[...model.gateways.keys()].join(', ') || 'none'})`);
    const g = p.obj(path, raw);
    if (!g) continue;
    p.keys(path, g, ['connections', 'description']);
    const connections = p.arr(`${path}.connections`, g.connections)
      .map((c, i) => connection(p, `${path}.connections[${i}]`, c, id, profiles, model, seen))
      .filter((c): c is ConnectionConfig => c !== undefined);
    gateways.set(id, { id, connections });
  }
  if (isObj(root.gateways) && gateways.size === 0) p.add('gateways', root.gateways, 'at least one gateway');
  if (p.list.length > 0) {
    throw new PlatformError('SP_ERR_CONFIG', `gateway config refused (${p.list.length} problem${p.list.length > 1 ? 's' : ''}):\n  ${p.list.join('\n  ')}`);
  }
  return deepFreeze({ profiles, gateways });
}

/** The part of the configuration one gateway runs. */
export function selectGateway(config: GatewayConfig, id: string): GatewaySpec {
  const g = config.gateways.get(id);
  if (!g) throw new PlatformError('SP_ERR_CONFIG', `gateway ${JSON.stringify(id)} is not in the gateway config — expected one of ${[...config.gateways.keys()].join(', ')}`);
  return g;
}
