/**
 * The broker's credential store: one JSON file holding only hashes (core/secrets.ts).
 *   { "version": 1,
 *     "devices":  { "<deviceId>": "sha256$salt$hash", ... },
 *     "gateways": { "gw-<id>": "sha256$salt$hash", ... },
 *     "services": { "svc-ingest": { "role": "service", "hash": "..." }, ... } }
 * Plain secrets never reach this file. `npm run credentials` (broker/provision.ts) creates it.
 */
import { readFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PlatformError } from '../core/errors.ts';
import { isId } from '../core/ids.ts';
import { GATEWAY_PREFIX } from '../core/model.ts';

export const SERVICE_ROLES = ['service'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

export interface CredentialStore {
  version: 1;
  devices: Record<string, string>;
  /** Edge gateways of the park model (ids start with gw-). */
  gateways: Record<string, string>;
  services: Record<string, { role: ServiceRole; hash: string }>;
}

/** Service account names start with `svc-` so they can never collide with a device id. */
export const SERVICE_PREFIX = 'svc-';

export function emptyStore(): CredentialStore {
  return { version: 1, devices: {}, gateways: {}, services: {} };
}

export function validateStore(data: unknown, file: string): CredentialStore {
  const bad = (path: string, v: unknown, exp: string) =>
    new PlatformError('SP_ERR_CONFIG', `${file}: ${path}: ${JSON.stringify(v)?.slice(0, 40)} — expected ${exp}`);
  const o = data as Partial<CredentialStore>;
  if (typeof o !== 'object' || o === null || o.version !== 1) throw bad('version', o?.version, '1');
  const store = emptyStore();
  for (const [id, h] of Object.entries(o.devices ?? {})) {
    if (!isId(id) || id.startsWith(SERVICE_PREFIX)) throw bad(`devices.${id}`, id, 'a device id');
    if (typeof h !== 'string' || !/^(sha256|scrypt)\$/.test(h)) throw bad(`devices.${id}`, h, 'a hash sha256$... or scrypt$...');
    store.devices[id] = h;
  }
  for (const [id, h] of Object.entries(o.gateways ?? {})) {
    if (!isId(id) || !id.startsWith(GATEWAY_PREFIX)) throw bad(`gateways.${id}`, id, `a gateway id starting with ${GATEWAY_PREFIX}`);
    if (typeof h !== 'string' || !/^(sha256|scrypt)\$/.test(h)) throw bad(`gateways.${id}`, h, 'a hash sha256$... or scrypt$...');
    store.gateways[id] = h;
  }
  for (const [name, s] of Object.entries(o.services ?? {})) {
    if (!isId(name) || !name.startsWith(SERVICE_PREFIX)) throw bad(`services.${name}`, name, `an account name starting with ${SERVICE_PREFIX}`);
    if (!s || !(SERVICE_ROLES as readonly string[]).includes(s.role)) throw bad(`services.${name}.role`, s?.role, SERVICE_ROLES.join(' | '));
    if (typeof s.hash !== 'string' || !/^(sha256|scrypt)\$/.test(s.hash)) throw bad(`services.${name}.hash`, s.hash, 'a hash');
    store.services[name] = { role: s.role, hash: s.hash };
  }
  return store;
}

export function readStore(file: string): CredentialStore {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `cannot read credential store ${file}: ${(e as Error).message} (create it with npm run credentials)`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `${file} is not JSON: ${(e as Error).message}`);
  }
  return validateStore(data, file);
}

export function writeStore(file: string, store: CredentialStore): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export interface ProvisionOptions {
  storeFile: string;
  deviceIds: readonly string[];
  /** Edge gateway accounts (the park model's gateways). */
  gatewayIds?: readonly string[];
  serviceAccounts: readonly string[];
  /** Plain secrets of newly created accounts are merged into this JSON file (mode 0600), for simulators and services. */
  secretsFile?: string;
  /** Accounts whose secret is replaced even if one exists. */
  rotate?: readonly string[];
  generate: () => string;
  hash: (secret: string) => string;
}

/** Creates missing credentials (and rotates the named ones); returns the new plain secrets. */
export function provisionCredentials(o: ProvisionOptions): Record<string, string> {
  let store: CredentialStore;
  try {
    store = readStore(o.storeFile);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).message.includes('cannot read')) store = emptyStore();
    else throw e;
  }
  const created: Record<string, string> = {};
  const rotate = new Set(o.rotate ?? []);
  for (const id of o.deviceIds) {
    if (store.devices[id] && !rotate.has(id)) continue;
    created[id] = o.generate();
    store.devices[id] = o.hash(created[id]!);
  }
  for (const id of o.gatewayIds ?? []) {
    if (store.gateways[id] && !rotate.has(id)) continue;
    created[id] = o.generate();
    store.gateways[id] = o.hash(created[id]!);
  }
  for (const name of o.serviceAccounts) {
    if (!name.startsWith(SERVICE_PREFIX) || !isId(name)) throw new PlatformError('SP_ERR_CONFIG', `service account ${name} must be an id starting with ${SERVICE_PREFIX}`);
    if (store.services[name] && !rotate.has(name)) continue;
    created[name] = o.generate();
    store.services[name] = { role: 'service', hash: o.hash(created[name]!) };
  }
  writeStore(o.storeFile, store);
  if (o.secretsFile && Object.keys(created).length > 0) {
    let existing: Record<string, string> = {};
    try {
      existing = JSON.parse(readFileSync(o.secretsFile, 'utf8')) as Record<string, string>;
    } catch { /* new file */ }
    mkdirSync(dirname(o.secretsFile), { recursive: true, mode: 0o700 });
    writeFileSync(`${o.secretsFile}.tmp`, `${JSON.stringify({ ...existing, ...created }, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${o.secretsFile}.tmp`, o.secretsFile);
  }
  return created;
}
