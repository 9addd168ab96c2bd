/**
 * Console login against the real app (buildApp + inject, a real InfluxDB database of its own):
 * session cookie flags, who-am-I with the CSRF token, the same role checks as API keys, CSRF
 * (token and Origin) on changing requests, logout and expiry, and failed logins refused, limited
 * and counted. API keys keep working unchanged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { buildApp } from '../api/app.ts';
import { sessionCookie } from '../api/console/sessions.ts';
import { UserStore } from '../api/console/user-store.ts';
import { KeyStore } from '../api/key-store.ts';
import { LiveHub } from '../api/live-hub.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { ident, influxql } from '../core/influx/influxql.ts';
import { loadParkModel } from '../core/model-file.ts';
import { hashSecret } from '../core/secrets.ts';

const HOST = '127.0.0.1:8080';
const ORIGIN = `http://${HOST}`;
const PW = { viewer: 'viewer-pass-1', engineer: 'engineer-pass-1', admin: 'admin-pass-1' } as const;
const ADMIN_KEY = 'admin-key-0123456789';

let app: FastifyInstance;
let influx: InfluxClient;
let dir: string;
let clock = Date.now();

const login = (username: string, password: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/api/v1/session', headers: { host: HOST, ...headers }, payload: { username, password } });

async function session(user: keyof typeof PW): Promise<{ cookie: string; csrf: string }> {
  const r = await login(user, PW[user]);
  expect(r.statusCode).toBe(200);
  const cookie = String(r.headers['set-cookie']).split(';')[0]!;
  return { cookie, csrf: r.json().csrf };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sp-console-session-'));
  const users = UserStore.open(join(dir, 'console-users.json')).store;
  for (const [name, pw] of Object.entries(PW)) users.add(name, name as 'viewer', pw);
  const model = loadParkModel();
  influx = new InfluxClient({ url: inject('influxUrl'), token: inject('influxToken') || undefined, db: `console_session_${process.pid}` });
  await influx.ensureDatabase();
  app = buildApp({
    model, influx, live: new LiveHub(model), keys: new KeyStore([{ id: 'ops', role: 'admin', hash: hashSecret(ADMIN_KEY) }]),
    console: { users, sessionTtlMs: 3600_000, now: () => clock, login: { freeFailures: 3, addressFailures: 1000, delayMinMs: 1000, delayMaxMs: 8000 } },
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await influx?.query(influxql`DROP DATABASE ${ident(influx.config.db)}`, { db: null }).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

describe('console session', () => {
  it('login sets an HttpOnly SameSite=Strict cookie on Path=/, and GET /session says who and gives the CSRF token', async () => {
    const r = await login('engineer', PW.engineer);
    expect(r.statusCode).toBe(200);
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/^sp_session=[A-Za-z0-9_-]{43}; /);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).toContain('Path=/');
    expect(set).toContain('Max-Age=3600');
    expect(set).not.toContain('Secure'); // plain HTTP here; over TLS the flag is set:
    expect(sessionCookie('x', 1000, true)).toMatch(/; Secure$/);
    const { csrf } = r.json();
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const me = await app.inject({ method: 'GET', url: '/api/v1/session', headers: { host: HOST, cookie: set.split(';')[0]! } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ user: 'engineer', role: 'engineer', via: 'session', csrf });
  });

  it('a session gets exactly the role checks of an API key of its role', async () => {
    const viewer = await session('viewer');
    const admin = await session('admin');
    const stats = (cookie: string) => app.inject({ method: 'GET', url: '/api/v1/stats', headers: { host: HOST, cookie } });
    const refused = await stats(viewer.cookie);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('SP_ERR_API_ROLE');
    expect((await stats(admin.cookie)).statusCode).toBe(200);
    const park = await app.inject({ method: 'GET', url: '/api/v1/park', headers: { host: HOST, cookie: viewer.cookie } });
    expect(park.statusCode).toBe(200);
    // API keys unchanged
    expect((await app.inject({ method: 'GET', url: '/api/v1/stats', headers: { 'x-api-key': ADMIN_KEY } })).statusCode).toBe(200);
    const noKey = await app.inject({ method: 'GET', url: '/api/v1/park' });
    expect(noKey.statusCode).toBe(401);
    expect(noKey.json().error.code).toBe('SP_ERR_API_KEY');
    const forged = await app.inject({ method: 'GET', url: '/api/v1/park', headers: { cookie: 'sp_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.code).toBe('SP_ERR_API_SESSION');
  });

  it('a changing request with a session needs the CSRF token and this origin; a viewer is refused the ack even with both', async () => {
    const eng = await session('engineer');
    const ack = (headers: Record<string, string>) => app.inject({
      method: 'POST', url: '/api/v1/alarms/kiln_overtemp:wm-kiln-1:1700000000000/ack', headers: { host: HOST, cookie: eng.cookie, ...headers }, payload: { note: 'x' },
    });
    const noToken = await ack({ origin: ORIGIN });
    expect(noToken.statusCode).toBe(403);
    expect(noToken.json().error.code).toBe('SP_ERR_API_CSRF');
    const wrongToken = await ack({ origin: ORIGIN, 'x-csrf-token': `${eng.csrf.slice(0, -1)}A` });
    expect(wrongToken.json().error.code).toBe('SP_ERR_API_CSRF');
    const noOrigin = await ack({ 'x-csrf-token': eng.csrf });
    expect(noOrigin.json().error.code).toBe('SP_ERR_API_CSRF');
    const foreign = await ack({ origin: 'http://evil.example', 'x-csrf-token': eng.csrf });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().error.code).toBe('SP_ERR_API_CSRF');
    const ok = await ack({ origin: ORIGIN, 'x-csrf-token': eng.csrf });
    expect(ok.statusCode).toBe(404); // passed auth and CSRF: that alarm was never raised
    expect(ok.json().error.code).toBe('SP_ERR_API_NOT_FOUND');
    const viewer = await session('viewer');
    const forgedByViewer = await app.inject({
      method: 'POST', url: '/api/v1/alarms/kiln_overtemp:wm-kiln-1:1700000000000/ack',
      headers: { host: HOST, cookie: viewer.cookie, origin: ORIGIN, 'x-csrf-token': viewer.csrf }, payload: {},
    });
    expect(forgedByViewer.statusCode).toBe(403);
    expect(forgedByViewer.json().error.code).toBe('SP_ERR_API_ROLE');
    // a foreign page cannot read data with the cookie either (WebSocket hijacking, GET)
    const foreignGet = await app.inject({ method: 'GET', url: '/api/v1/park', headers: { host: HOST, cookie: eng.cookie, origin: 'http://evil.example' } });
    expect(foreignGet.json().error.code).toBe('SP_ERR_API_CSRF');
  });

  it('logout ends the session (CSRF-checked); a session expires after its TTL', async () => {
    const s = await session('viewer');
    const out = (headers: Record<string, string>) => app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { host: HOST, cookie: s.cookie, ...headers } });
    expect((await out({ origin: ORIGIN })).statusCode).toBe(403);
    const r = await out({ origin: ORIGIN, 'x-csrf-token': s.csrf });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ loggedOut: true });
    expect(String(r.headers['set-cookie'])).toContain('Max-Age=0');
    const after = await app.inject({ method: 'GET', url: '/api/v1/session', headers: { host: HOST, cookie: s.cookie } });
    expect(after.json().error.code).toBe('SP_ERR_API_SESSION');

    const t = await session('viewer');
    clock += 3600_000 - 1;
    expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: { host: HOST, cookie: t.cookie } })).statusCode).toBe(200);
    clock += 1;
    const expired = await app.inject({ method: 'GET', url: '/api/v1/session', headers: { host: HOST, cookie: t.cookie } });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe('SP_ERR_API_SESSION');
  });

  it('wrong passwords are refused with one code, then limited per username (429 + Retry-After, even for the right password), and counted', async () => {
    const unknown = await login('nobody', 'x');
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().error.code).toBe('SP_ERR_API_LOGIN');
    for (let i = 0; i < 3; i++) {
      const r = await login('admin', `wrong-${i}`);
      expect(r.statusCode).toBe(401);
      expect(r.json().error).toEqual({ code: 'SP_ERR_API_LOGIN', message: 'wrong username or password' });
    }
    const limited = await login('admin', PW.admin);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('SP_ERR_API_LOGIN_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBe(1);
    expect(limited.headers['set-cookie']).toBeUndefined();
    // another username is not affected
    expect((await login('engineer', PW.engineer)).statusCode).toBe(200);
    clock += 1000;
    expect((await login('admin', 'wrong-again')).statusCode).toBe(401); // checked at its turn; the spacing doubles
    clock += 1999;
    expect((await login('admin', PW.admin)).statusCode).toBe(429);
    clock += 1;
    expect((await login('admin', PW.admin)).statusCode).toBe(200); // the owner gets in at the next turn; the count is cleared
    expect((await login('admin', 'one-wrong')).statusCode).toBe(401);
    const stats = (await app.inject({ method: 'GET', url: '/api/v1/stats', headers: { 'x-api-key': ADMIN_KEY } })).json();
    expect(stats.refused.SP_ERR_API_LOGIN).toBe(6);
    expect(stats.refused.SP_ERR_API_LOGIN_LIMITED).toBe(2);
  });

  it('a user added with the users CLI can log in without an API restart', async () => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'api/console/users.ts', 'add', '--name', 'carol', '--role', 'engineer', '--file', join(dir, 'console-users.json')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const password = out.trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const r = await login('carol', password);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ user: 'carol', role: 'engineer' });
  });

  it('a foreign page cannot log a browser in (login CSRF)', async () => {
    const r = await login('viewer', PW.viewer, { origin: 'http://evil.example' });
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('SP_ERR_API_CSRF');
  });
});
