/**
 * API keys and their roles, from the JSON file named by API_KEYS_FILE:
 *   { "keys": [ { "id": "ops", "role": "viewer", "hash": "sha256$<salt>$<hash>" } ] }
 * Only hashes are stored (core/secrets.ts). The file is validated when loaded; a bad entry is
 * refused with its index, value and what was expected.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PlatformError } from '../core/errors.ts';
import { isId, show } from '../core/ids.ts';
import { verifySecret } from '../core/secrets.ts';

export const ROLES = ['viewer', 'engineer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** True when a key of role `have` may use a route that needs `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface ApiKeyEntry { id: string; role: Role; hash: string }
export interface ApiKeyFile { keys: ApiKeyEntry[] }

/** Longest key accepted for checking: generated keys are 43 characters. */
const MAX_KEY_LENGTH = 256;

export class KeyStore {
  readonly entries: readonly Readonly<ApiKeyEntry>[];
  constructor(entries: readonly ApiKeyEntry[]) {
    this.entries = Object.freeze(entries.map((e) => Object.freeze({ ...e })));
  }

  /** The entry whose hash matches the presented key, if any. Checks every entry (no early exit on id). */
  find(key: string): { id: string; role: Role } | undefined {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) return undefined;
    let found: Readonly<ApiKeyEntry> | undefined;
    for (const e of this.entries) if (verifySecret(key, e.hash) && !found) found = e;
    return found && { id: found.id, role: found.role };
  }
}

export function parseKeyFile(data: unknown, where: string): ApiKeyFile {
  const bad = (path: string, v: unknown, expected: string): never => {
    throw new PlatformError('SP_ERR_CONFIG', `${where}: ${path}: ${show(v)} — expected ${expected}`);
  };
  if (typeof data !== 'object' || data === null || !Array.isArray((data as { keys?: unknown }).keys)) {
    bad('(root)', data, 'an object {"keys": [...]}');
  }
  const seen = new Set<string>();
  const keys = (data as { keys: unknown[] }).keys.map((raw, i): ApiKeyEntry => {
    const e = raw as Record<string, unknown>;
    if (typeof e !== 'object' || e === null) bad(`keys[${i}]`, raw, 'an object {id, role, hash}');
    if (!isId(e.id)) bad(`keys[${i}].id`, e.id, 'an id (lower-case letters, digits, - or _)');
    if (seen.has(e.id as string)) bad(`keys[${i}].id`, e.id, 'an id not used by another key');
    seen.add(e.id as string);
    if (!ROLES.includes(e.role as Role)) bad(`keys[${i}].role`, e.role, `one of ${ROLES.join(', ')}`);
    if (typeof e.hash !== 'string' || !/^(sha256\$[0-9a-f]+\$[0-9a-f]{64}|scrypt\$\d+\$\d+\$\d+\$[0-9a-f]+\$[0-9a-f]+)$/.test(e.hash)) {
      bad(`keys[${i}].hash`, e.hash, 'a hash made by core/secrets.ts (sha256$... or scrypt$...); add keys with api/keys.ts');
    }
    return { id: e.id as string, role: e.role as Role, hash: e.hash as string };
  });
  return { keys };
}

export function readKeyFile(file: string): ApiKeyFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `API_KEYS_FILE=${file}: cannot read it (${(e as Error).message}); create a key with: node --import tsx api/keys.ts add --id ops --role admin --file ${file}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `API_KEYS_FILE=${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseKeyFile(data, `API_KEYS_FILE=${file}`);
}

export function loadKeyStore(file: string): KeyStore {
  return new KeyStore(readKeyFile(file).keys);
}

/** Writes the key file atomically (temp file + rename), readable by its owner only. */
export function writeKeyFile(file: string, content: ApiKeyFile): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
