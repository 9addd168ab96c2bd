/**
 * Authentication and role check for every route under /api/v1, by API key (machines) or console
 * session (people) — one role check for both, so the console grants nothing the API would refuse.
 *
 * - Key: `x-api-key`, `Authorization: Bearer <key>`, or (routes with `config.keyInQuery` only, i.e.
 *   the WebSocket) `?key=`. Missing: 401 SP_ERR_API_KEY; unknown: 401 SP_ERR_API_KEY.
 * - Session: the `sp_session` cookie (api/console/sessions.ts), used only when no key is sent.
 *   Unknown or expired: 401 SP_ERR_API_SESSION. A request whose Origin is not this API's is refused
 *   (403 SP_ERR_API_CSRF); one that changes something (not GET/HEAD) must also carry an Origin and
 *   the session's token in `x-csrf-token` (double submit), else 403 SP_ERR_API_CSRF.
 * - Role too low: 403 SP_ERR_API_ROLE. Routes with `config.public` (login) skip all of this.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { csrfMatches, cookieValue, SESSION_COOKIE, type Session } from './console/sessions.ts';
import { ApiError } from './errors.ts';
import { roleAllows } from './key-store.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No authentication (the console login route). */
    public?: boolean;
  }
}

function presentedKey(request: FastifyRequest): string | undefined {
  const h = request.headers['x-api-key'];
  if (typeof h === 'string' && h.length > 0) return h;
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  if (request.routeOptions.config.keyInQuery) {
    const q = (request.query as Record<string, unknown> | undefined)?.key;
    if (typeof q === 'string' && q.length > 0) return q;
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `scheme://host[:port]` the browser shows for this API (Host header as received). */
export function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** Refuses a request whose Origin header names another origin than this API's. */
export function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== ownOrigin(request)) {
    throw new ApiError('SP_ERR_API_CSRF', `request from origin ${origin.slice(0, 100)} refused: the console is only valid from ${ownOrigin(request)}`);
  }
}

/**
 * Refuses a cookie-authenticated request from another origin, and a changing one without Origin
 * and the CSRF token. SameSite=Strict already keeps the cookie off cross-site requests; this is
 * the second lock (older browsers, same-site subdomains).
 */
export function checkCsrf(request: FastifyRequest, session: Session): void {
  checkOrigin(request);
  const origin = request.headers.origin;
  if (SAFE_METHODS.has(request.method)) return;
  if (origin === undefined) throw new ApiError('SP_ERR_API_CSRF', 'a request that changes something with a console session must carry an Origin header');
  if (!csrfMatches(request.headers['x-csrf-token'], session)) {
    throw new ApiError('SP_ERR_API_CSRF', 'missing or wrong x-csrf-token header: send the csrf value of GET /api/v1/session');
  }
}

export const requireApiKey: onRequestAsyncHookHandler = async function (request) {
  if (request.routeOptions.config.public) return;
  const need = request.routeOptions.config.role ?? 'admin';
  const key = presentedKey(request);
  let who: { id: string; role: typeof need };
  let kind: string;
  if (key !== undefined) {
    const found = this.keys.find(key);
    if (!found) throw new ApiError('SP_ERR_API_KEY', 'unknown API key');
    who = found;
    kind = 'key';
  } else {
    const sid = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (sid === undefined) {
      throw new ApiError('SP_ERR_API_KEY', 'missing API key: send it in the x-api-key header or as "Authorization: Bearer <key>" (people: log in to the console)');
    }
    const session = this.consoleServices.sessions.get(sid);
    if (!session) throw new ApiError('SP_ERR_API_SESSION', 'the console session is unknown or expired; log in again (POST /api/v1/session)');
    checkCsrf(request, session);
    who = { id: session.user, role: session.role };
    kind = 'user';
    request.consoleSession = session;
  }
  if (!roleAllows(who.role, need)) {
    throw new ApiError('SP_ERR_API_ROLE', `this route needs role ${need} or higher; ${kind} "${who.id}" has role ${who.role}`);
  }
  request.apiKey = who;
};

/**
 * Securities for the OpenAPI document of a protected route: the machine ones. The console's
 * cookie (`session` in components.securitySchemes) is accepted on every one of them too.
 */
export const SECURITY: { [scheme: string]: string[] }[] = [{ apiKey: [] }, { bearer: [] }];
