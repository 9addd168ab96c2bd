/**
 * Console login (people; machines use API keys):
 *   POST   /api/v1/session {username, password}  -> sets the sp_session cookie; {user, role, csrf, expiresAt}
 *   GET    /api/v1/session                       -> who am I (+ csrf for the session), viewer
 *   DELETE /api/v1/session                       -> logout (needs x-csrf-token)
 * Wrong password or unknown user: 401 SP_ERR_API_LOGIN (one answer for both). Too many failures for
 * the username or the address: 429 SP_ERR_API_LOGIN_LIMITED with Retry-After, before any check.
 */
import type { FastifyPluginAsync } from 'fastify';
import { checkOrigin, SECURITY } from '../auth.ts';
import { cookieValue, SESSION_COOKIE, sessionCookie } from '../console/sessions.ts';
import { ApiError } from '../errors.ts';

const err = { $ref: 'ApiError#' };
const who = {
  type: 'object', required: ['user', 'role', 'via'],
  properties: {
    user: { type: 'string' }, role: { type: 'string', enum: ['viewer', 'engineer', 'admin'] },
    via: { type: 'string', enum: ['session', 'key'] },
    csrf: { type: 'string', description: 'send as x-csrf-token on every request that changes something' },
    expiresAt: { type: 'integer' },
  },
} as const;

export const sessionRoutes: FastifyPluginAsync = async (app) => {
  const c = app.consoleServices;

  app.post<{ Body: { username: string; password: string } }>('/session', {
    config: { public: true },
    schema: {
      summary: 'Console login: sets the sp_session cookie (HttpOnly, SameSite=Strict)',
      tags: ['console'],
      body: {
        type: 'object', additionalProperties: false, required: ['username', 'password'],
        properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 256 } },
      },
      response: { 200: who, 400: err, 401: err, 403: err, 429: err },
    },
  }, async (req, reply) => {
    checkOrigin(req); // login CSRF: a foreign page may not log a browser in
    const { username, password } = req.body;
    const wait = c.limit.wait(username, req.ip);
    if (wait > 0) {
      reply.header('retry-after', String(Math.ceil(wait / 1000)));
      throw new ApiError('SP_ERR_API_LOGIN_LIMITED', `too many failed logins for "${username}" or from this address; try again in ${Math.ceil(wait / 1000)} s`);
    }
    const user = c.users.check(username, password);
    if (!user) {
      c.limit.failed(username, req.ip);
      throw new ApiError('SP_ERR_API_LOGIN', 'wrong username or password');
    }
    c.limit.succeeded(username);
    const { id, session } = c.sessions.create(user.name, user.role);
    reply.header('set-cookie', sessionCookie(id, c.sessionTtlMs, req.protocol === 'https'));
    reply.header('cache-control', 'no-store');
    return { user: session.user, role: session.role, via: 'session', csrf: session.csrf, expiresAt: session.expiresAt };
  });

  app.get('/session', {
    config: { role: 'viewer' },
    schema: { summary: 'Who is logged in (session or API key), with the CSRF token of a session', tags: ['console'], security: SECURITY, response: { 200: who, 401: err } },
  }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const s = req.consoleSession;
    if (s) return { user: s.user, role: s.role, via: 'session', csrf: s.csrf, expiresAt: s.expiresAt };
    return { user: req.apiKey!.id, role: req.apiKey!.role, via: 'key' };
  });

  app.delete('/session', {
    config: { role: 'viewer' },
    schema: { summary: 'Console logout: ends the session and clears the cookie', tags: ['console'], security: SECURITY, response: { 200: { type: 'object', properties: { loggedOut: { type: 'boolean' } } }, 401: err, 403: err } },
  }, async (req, reply) => {
    const sid = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const loggedOut = req.consoleSession !== null && sid !== undefined && c.sessions.delete(sid);
    reply.header('set-cookie', sessionCookie('', 0, req.protocol === 'https'));
    return { loggedOut };
  });
};
