/**
 * The console's pages as the API serves them: built by esbuild when stale (and not again when
 * fresh), index at / with a strict Content-Security-Policy, the bundle pre-compressed (brotli for
 * browsers that take it), OpenAPI docs still served beside them, nothing loaded from a CDN.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import { bundleStale, CONSOLE_SRC, ensureConsoleBundle } from '../api/console/bundle.ts';
import { KeyStore } from '../api/key-store.ts';
import { LiveHub } from '../api/live-hub.ts';
import { InfluxClient } from '../core/influx/client.ts';
import { loadParkModel } from '../core/model-file.ts';
import { ROOT } from './harness/platform.ts';

// A copy of the console's sources inside the repo (so esbuild finds node_modules), built to its own
// dist: the real console/dist, which other tests' APIs serve, is never rebuilt under them.
const SRC = join(ROOT, 'test/output', `console-pages-${process.pid}`);
const DIST = join(SRC, 'dist');
let app: FastifyInstance;

beforeAll(async () => {
  mkdirSync(SRC, { recursive: true });
  cpSync(join(CONSOLE_SRC, 'src'), join(SRC, 'src'), { recursive: true });
  cpSync(join(CONSOLE_SRC, 'index.html'), join(SRC, 'index.html'));
  expect(bundleStale(SRC, DIST)).toBe(true); // nothing built yet
  const r = await ensureConsoleBundle(SRC, DIST);
  expect(r).toMatchObject({ built: true, dir: DIST });
  const model = loadParkModel();
  app = buildApp({
    model, influx: new InfluxClient({ url: inject('influxUrl'), token: inject('influxToken') || undefined, db: 'unused' }), live: new LiveHub(model), keys: new KeyStore([]),
    console: { users: { check: () => undefined }, staticDir: DIST },
  });
  await app.ready();
}, 60_000);
afterAll(async () => {
  await app?.close();
  rmSync(SRC, { recursive: true, force: true });
});

describe('console pages', () => {
  it('are rebuilt only when a source is newer than the bundle', async () => {
    expect(bundleStale(SRC, DIST)).toBe(false);
    expect((await ensureConsoleBundle(SRC, DIST)).built).toBe(false);
    const src = join(SRC, 'src/i18n.ts');
    utimesSync(src, new Date(), new Date(Date.now() + 5000)); // edited after the build
    expect(bundleStale(SRC, DIST)).toBe(true);
    const r = await ensureConsoleBundle(SRC, DIST);
    expect(r.built).toBe(true);
    expect(r.bytes!['app.js']!).toBeGreaterThan(100_000); // ECharts is bundled in, not fetched
    expect(r.bytes!['app.js.br']!).toBeLessThan(r.bytes!['app.js']! / 2);
  }, 60_000);

  it('serve index at / with a CSP, the bundle pre-compressed, and /docs beside them', async () => {
    const index = await app.inject({ method: 'GET', url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
    expect(index.body).toContain('/console/app.js');
    expect(index.body).not.toMatch(/https?:\/\//); // no CDN
    const br = await app.inject({ method: 'GET', url: '/console/app.js', headers: { 'accept-encoding': 'br, gzip' } });
    expect(br.statusCode).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.rawPayload.length).toBe(statSync(join(DIST, 'app.js.br')).size);
    const plain = await app.inject({ method: 'GET', url: '/console/app.js' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(readFileSync(join(DIST, 'app.js'), 'utf8'));
    expect((await app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
    expect((await app.inject({ method: 'GET', url: '/console/../api/auth.ts' })).statusCode).toBe(404);
  });
});
