/**
 * Console sessions, in memory: an unguessable id (the `sp_session` cookie) mapped to the user, its
 * role and a CSRF token (double submit: the page reads it from GET /api/v1/session and sends it as
 * `x-csrf-token`). A session ends at its absolute expiry (CONSOLE_SESSION_TTL_MS) or at logout; a
 * restart of the API ends them all (people log in again). Memory is bounded by `maxSessions`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from '../key-store.ts';

export interface Session { user: string; role: Role; csrf: string; createdAt: number; expiresAt: number }

export interface SessionOptions {
  ttlMs: number;
  /** Oldest sessions are dropped beyond this many. */
  maxSessions?: number;
  now?: () => number;
}

const digest = (id: string) => createHash('sha256').update(id).digest('base64url');

export class SessionStore {
  /** Keyed by sha256 of the cookie value, so a heap dump does not hand out live cookies. */
  private readonly byId = new Map<string, Session>();
  constructor(private readonly o: SessionOptions) {}

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  /** A new session for the user; returns the cookie value (shown to the browser only) and the session. */
  create(user: string, role: Role): { id: string; session: Session } {
    this.sweep();
    const max = this.o.maxSessions ?? 10_000;
    while (this.byId.size >= max) this.byId.delete(this.byId.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const now = this.now();
    const session: Session = { user, role, csrf: randomBytes(24).toString('base64url'), createdAt: now, expiresAt: now + this.o.ttlMs };
    this.byId.set(digest(id), session);
    return { id, session };
  }

  /** The live session of a cookie value; an expired one is forgotten. */
  get(id: string): Session | undefined {
    if (id.length === 0 || id.length > 128) return undefined;
    const key = digest(id);
    const s = this.byId.get(key);
    if (s && s.expiresAt <= this.now()) {
      this.byId.delete(key);
      return undefined;
    }
    return s;
  }

  delete(id: string): boolean {
    return this.byId.delete(digest(id));
  }

  get size(): number {
    return this.byId.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, s] of this.byId) if (s.expiresAt <= now) this.byId.delete(k);
  }
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(presented: unknown, session: Session): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const SESSION_COOKIE = 'sp_session';

/** The value of one cookie from a Cookie header (no decoding: our values are base64url). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for a session (HttpOnly, SameSite=Strict, Path=/, Secure over TLS); maxAgeMs 0 clears it. */
export function sessionCookie(id: string, maxAgeMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure ? '; Secure' : ''}`;
}
