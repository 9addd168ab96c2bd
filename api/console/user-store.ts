/**
 * Console users (people, not machines) in a JSON file under data/secrets:
 *   { "users": [ { "name": "alice", "role": "engineer", "hash": "scrypt$N$r$p$<salt b64url>$<key b64url>" } ] }
 * Passwords are hashed with scrypt (node:crypto). Roles are the API key roles (api/key-store.ts), so a
 * session resolves to the same role model as a key. Nothing is read at import time.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PlatformError } from '../../core/errors.ts';
import { ROLES, type Role } from '../key-store.ts';

export interface UserEntry { name: string; role: Role; hash: string }

const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32 } as const; // cost params, ~16 MB, ~40 ms here
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MAX_PASSWORD_LENGTH = 256; // characters; longer is refused before hashing

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, SCRYPT.keyLen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export function verifyPassword(password: string, hash: string): boolean {
  if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) return false;
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(hash);
  const [, n, r, p, salt, key] = m ?? [];
  if (!n || !r || !p || !salt || !key) return false;
  const want = Buffer.from(key, 'base64url');
  const got = scryptSync(password, Buffer.from(salt, 'base64url'), want.length, { N: Number(n), r: Number(r), p: Number(p) });
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Problems of a users file, each naming the path, the value and what was expected. */
export function checkUsers(raw: unknown): string[] {
  const problems: string[] = [];
  const users = (raw as { users?: unknown } | null)?.users;
  if (!Array.isArray(users)) return ['users: expected an array'];
  const seen = new Set<string>();
  users.forEach((u: Partial<UserEntry>, i) => {
    if (typeof u?.name !== 'string' || !NAME_RE.test(u.name)) problems.push(`users[${i}].name: ${JSON.stringify(u?.name)}, expected ${NAME_RE}`);
    else if (seen.has(u.name)) problems.push(`users[${i}].name: "${u.name}" appears twice`);
    else seen.add(u.name);
    if (!ROLES.includes(u?.role as Role)) problems.push(`users[${i}].role: ${JSON.stringify(u?.role)}, expected one of ${ROLES.join(', ')}`);
    if (typeof u?.hash !== 'string' || !u.hash.startsWith('scrypt$')) problems.push(`users[${i}].hash: expected "scrypt$..."`);
  });
  return problems;
}

export class UserStore {
  private users: UserEntry[];
  private loadedMtimeMs = -1;
  constructor(private readonly file: string, users: UserEntry[]) {
    this.users = users;
    this.loadedMtimeMs = mtime(file);
  }

  /** Takes up a change of the file (api/console/users.ts) at the next login; a bad file keeps the users in force. */
  private refresh(): void {
    const m = mtime(this.file);
    if (m === this.loadedMtimeMs || m < 0) return;
    this.loadedMtimeMs = m;
    try {
      const raw: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
      if (checkUsers(raw).length === 0) this.users = (raw as { users: UserEntry[] }).users;
    } catch { /* keep the users in force */ }
  }

  /** Loads the file; when it is missing, creates it with one admin and returns the generated password (print it once). */
  static open(file: string): { store: UserStore; firstAdminPassword?: string } {
    if (!existsSync(file)) {
      const password = randomBytes(12).toString('base64url');
      const store = new UserStore(file, [{ name: 'admin', role: 'admin', hash: hashPassword(password) }]);
      store.save();
      return { store, firstAdminPassword: password };
    }
    const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const problems = checkUsers(raw);
    if (problems.length > 0) throw new PlatformError('SP_ERR_CONFIG', `users file ${file} is invalid: ${problems.join('; ')}`);
    return { store: new UserStore(file, (raw as { users: UserEntry[] }).users) };
  }

  /** The user's name and role when the password is right; scrypt runs even for unknown names. */
  check(name: string, password: string): { name: string; role: Role } | undefined {
    this.refresh();
    const u = this.users.find((x) => x.name === name);
    const ok = verifyPassword(password, u?.hash ?? DUMMY_HASH_OF());
    return u && ok ? { name: u.name, role: u.role } : undefined;
  }

  add(name: string, role: Role, password: string): void {
    const next = [...this.users.filter((u) => u.name !== name), { name, role, hash: hashPassword(password) }];
    const problems = checkUsers({ users: next });
    if (problems.length > 0) throw new PlatformError('SP_ERR_CONFIG', problems.join('; '));
    this.users = next;
    this.save();
  }

  /** Removes a user; false when there was none of that name. */
  remove(name: string): boolean {
    const next = this.users.filter((u) => u.name !== name);
    if (next.length === this.users.length) return false;
    this.users = next;
    this.save();
    return true;
  }

  list(): { name: string; role: Role }[] {
    return this.users.map((u) => ({ name: u.name, role: u.role }));
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ users: this.users }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.loadedMtimeMs = mtime(this.file);
  }
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

let dummyHash: string | undefined; // compared against for unknown names, made on first use
const DUMMY_HASH_OF = () => (dummyHash ??= hashPassword(randomBytes(9).toString('base64url')));
