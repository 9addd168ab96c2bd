/** Which devices a fleet runs, and their passwords. */
import { existsSync, readFileSync } from 'node:fs';
import { PlatformError } from '../core/errors.ts';
import type { DeviceModel, ParkModel } from '../core/model.ts';
import { DEFAULTS } from './config.ts';

export interface DeviceFilter {
  ids?: readonly string[];
  parks?: readonly string[];
  enterprises?: readonly string[];
  workshops?: readonly string[];
  kinds?: readonly string[];
  /** Leave out the devices an edge gateway reads (they speak Modbus or DL/T 645, not MQTT: simulators/field-main.ts). */
  withoutGatewayDevices?: boolean;
  /** Leave out these device ids (e.g. those a Sparkplug edge node carries: simulators/sparkplug/). */
  without?: readonly string[];
}

const FIELDS = [['parks', 'park'], ['enterprises', 'enterprise'], ['workshops', 'workshop']] as const;

/** Devices matching every given filter (all devices when none is given), in model order. */
export function selectDevices(model: ParkModel, f: DeviceFilter = {}): DeviceModel[] {
  const all = [...model.devices.values()];
  const unknown = (f.ids ?? []).filter((id) => !model.devices.has(id));
  if (unknown.length) throw new PlatformError('SP_ERR_CONFIG', `devices: ${unknown.join(', ')} not in the park model — expected ids such as ${all.slice(0, 3).map((d) => d.id).join(', ')}`);
  for (const [key, field] of FIELDS) {
    const known = new Set(all.map((d) => d[field]));
    const bad = (f[key] ?? []).filter((v) => !known.has(v));
    if (bad.length) throw new PlatformError('SP_ERR_CONFIG', `${key}: ${bad.join(', ')} not in the park model — expected one of ${[...known].join(', ')}`);
  }
  const badKinds = (f.kinds ?? []).filter((k) => !model.kinds.has(k));
  if (badKinds.length) throw new PlatformError('SP_ERR_CONFIG', `kinds: ${badKinds.join(', ')} not declared — expected one of ${[...model.kinds.keys()].join(', ')}`);
  const has = (list: readonly string[] | undefined, v: string): boolean => !list || list.length === 0 || list.includes(v);
  const out = all.filter((d) => has(f.ids, d.id) && has(f.parks, d.park) && has(f.enterprises, d.enterprise)
    && has(f.workshops, d.workshop) && has(f.kinds, d.kind.id) && !(f.withoutGatewayDevices && d.gateway !== undefined) && !f.without?.includes(d.id));
  if (out.length === 0) throw new PlatformError('SP_ERR_CONFIG', `device selection ${JSON.stringify(f)} matches no device`);
  return out;
}

export type DeviceSecrets = Readonly<Record<string, string>>;

/**
 * The passwords file: DEVICE_SECRETS_FILE, else data/secrets/devices.json, else the plain
 * secrets broker/provision.ts writes (data/secrets/credentials.json, same format).
 */
export function defaultSecretsFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DEVICE_SECRETS_FILE) return env.DEVICE_SECRETS_FILE;
  if (!existsSync(DEFAULTS.secretsFile) && existsSync(DEFAULTS.secretsFallbackFile)) return DEFAULTS.secretsFallbackFile;
  return DEFAULTS.secretsFile;
}

/** Reads `{ "<deviceId>": "<password>", ... }`. */
export function loadSecrets(file: string = defaultSecretsFile()): DeviceSecrets {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `device secrets ${file}: ${(e as Error).message} — expected a JSON file {"<deviceId>": "<password>", ...} (set --secrets or DEVICE_SECRETS_FILE; npm run credentials provisions ${DEFAULTS.secretsFallbackFile})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !Object.values(data).every((v) => typeof v === 'string')) {
    throw new PlatformError('SP_ERR_CONFIG', `device secrets ${file}: expected a JSON object of device id → password strings`);
  }
  return data as DeviceSecrets;
}

/** Fails fast when a selected device has no password. */
export function checkSecrets(devices: readonly DeviceModel[], secrets: DeviceSecrets, source: string): void {
  const missing = devices.filter((d) => typeof secrets[d.id] !== 'string').map((d) => d.id);
  if (missing.length) {
    throw new PlatformError('SP_ERR_CONFIG', `device secrets ${source}: no password for ${missing.length} device(s): ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''} — provision them or narrow the selection`);
  }
}
