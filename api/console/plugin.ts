/**
 * What the console adds to the API, decorated once on the root instance: the users, the live
 * sessions, the failed-login limit and (when the API may administer devices) the device admin.
 * Built from injected parts like the rest of the app (api/app.ts); nothing here reads a file.
 */
import { API_ENV } from '../env.ts';
import fp from 'fastify-plugin';
import type { DeviceAdmin } from './device-admin.ts';
import { LoginLimit, type LoginLimitOptions } from './login-limit.ts';
import { SessionStore, type Session } from './sessions.ts';
import { UserStore } from './user-store.ts';

export interface ConsoleDeps {
  users: Pick<UserStore, 'check'>;
  sessionTtlMs?: number;
  login?: Partial<LoginLimitOptions>;
  /** Device disable/enable/rotate (api/routes/device-admin.ts); without it those routes answer 404. */
  devices?: DeviceAdmin;
  /** Folder of the built console (index.html, app.js); served at / when given. */
  staticDir?: string;
  /** Clock of sessions and the login limit (tests). */
  now?: () => number;
}

export interface ConsoleServices {
  users: Pick<UserStore, 'check'>;
  sessions: SessionStore;
  limit: LoginLimit;
  sessionTtlMs: number;
  devices?: DeviceAdmin;
}

/** For an app built without the API's config (tests): the env table's defaults, and the login spacing. */
export const CONSOLE_DEFAULTS = Object.freeze({
  sessionTtlMs: API_ENV.CONSOLE_SESSION_TTL_MS.default,
  login: {
    freeFailures: API_ENV.CONSOLE_LOGIN_FREE_FAILURES.default, addressFailures: API_ENV.CONSOLE_LOGIN_ADDRESS_FAILURES.default,
    windowMs: API_ENV.CONSOLE_LOGIN_WINDOW_MS.default, delayMinMs: 1000, delayMaxMs: 60_000,
  },
});

declare module 'fastify' {
  interface FastifyInstance {
    consoleServices: ConsoleServices;
  }
  interface FastifyRequest {
    /** The console session that authenticated this request (null for API keys). */
    consoleSession: Session | null;
  }
}

/** No users: nobody can log in (apps built without a console, e.g. route tests). */
export const NO_USERS: ConsoleDeps['users'] = { check: () => undefined };

export const consolePlugin = fp<ConsoleDeps>(async (app, deps) => {
  const sessionTtlMs = deps.sessionTtlMs ?? CONSOLE_DEFAULTS.sessionTtlMs;
  app.decorate('consoleServices', {
    users: deps.users,
    sessions: new SessionStore({ ttlMs: sessionTtlMs, ...(deps.now ? { now: deps.now } : {}) }),
    limit: new LoginLimit({ ...CONSOLE_DEFAULTS.login, ...(deps.now ? { now: deps.now } : {}), ...deps.login }),
    sessionTtlMs,
    ...(deps.devices ? { devices: deps.devices } : {}),
  });
  app.decorateRequest('consoleSession', null);
}, { name: 'sp-console', fastify: '5.x' });
