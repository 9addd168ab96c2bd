/**
 * The OpenAPI document is complete and valid: a real validator (@apidevtools/swagger-parser)
 * accepts it, every operation has an operationId, its security (explicitly none on public
 * routes) and a declared success answer, and /openapi.json serves it.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParkModel } from '../core/model-file.ts';
import { ROLE_KEYS, startApiApp, type ApiApp } from './harness/api-app.ts';

let api: ApiApp;
let doc: any;
beforeAll(async () => {
  api = await startApiApp(loadParkModel(), [], 'openapi');
  doc = api.app.swagger();
});
afterAll(async () => api?.stop());

const operations = () => Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
  Object.entries(ops).filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map(([method, op]) => ({ path, method, op })));

describe('OpenAPI document', () => {
  it('is valid OpenAPI 3 for swagger-parser (schemas and $refs resolved)', async () => {
    const api3 = await SwaggerParser.validate(structuredClone(doc));
    expect((api3 as { openapi?: string }).openapi).toMatch(/^3\./);
    expect(doc.servers?.length).toBeGreaterThan(0);
    expect(doc.info.license?.name).toBe('Apache-2.0');
  });

  it('gives every operation a unique operationId, its security and a success answer', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThanOrEqual(18);
    const ids = ops.map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]+$/.test(id)), JSON.stringify(ids)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, method, op } of ops) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(Array.isArray(op.security), `${where} declares security`).toBe(true);
      const codes = Object.keys(op.responses ?? {});
      expect(codes.some((c) => /^2\d\d$/.test(c) || c === '101'), `${where} declares a success answer: ${codes}`).toBe(true);
      if (path.startsWith('/api/v1') && op.security.length > 0) expect(codes, where).toEqual(expect.arrayContaining(['401', '403', '500']));
    }
    const health = ops.find((o) => o.path === '/health')!;
    expect(health.op.security).toEqual([]);
    const devices = ops.find((o) => o.path === '/api/v1/devices' && o.method === 'get')!;
    expect(devices.op.security).toEqual(expect.arrayContaining([{ apiKey: [] }, { bearer: [] }]));
    expect(devices.op.operationId).toBe('getDevices');
    expect(ops.find((o) => o.path === '/api/v1/devices/{id}/telemetry')!.op.operationId).toBe('getDevicesByIdTelemetry');
    expect(Object.keys(ops.find((o) => o.path === '/api/v1/live')!.op.responses)).toContain('101');
  });

  it('is served at /openapi.json without a key', async () => {
    const r = await api.app.inject({ url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual(JSON.parse(JSON.stringify(doc)));
  });
});

describe('CORS', () => {
  const preflight = (a: ApiApp, origin: string) => a.app.inject({
    method: 'OPTIONS', url: '/api/v1/devices',
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key' },
  });

  it('is off by default: no cross-origin headers, so browsers on other origins are refused', async () => {
    const r = await preflight(api, 'https://scada.example');
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    const g = await api.app.inject({ url: '/api/v1/park', headers: { origin: 'https://scada.example', 'x-api-key': ROLE_KEYS.viewer } });
    expect(g.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('when configured, answers the preflight of a listed origin only, and never allows cookies', async () => {
    const withCors = await startApiApp(loadParkModel(), [], 'cors', { corsOrigins: ['https://scada.example'] });
    try {
      const ok = await preflight(withCors, 'https://scada.example');
      expect(ok.statusCode).toBe(204);
      expect(ok.headers['access-control-allow-origin']).toBe('https://scada.example');
      expect(String(ok.headers['access-control-allow-headers'])).toContain('x-api-key');
      expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
      const other = await preflight(withCors, 'https://evil.example');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      const g = await withCors.app.inject({ url: '/api/v1/park', headers: { origin: 'https://scada.example', 'x-api-key': ROLE_KEYS.viewer } });
      expect(g.statusCode).toBe(200);
      expect(g.headers['access-control-allow-origin']).toBe('https://scada.example');
    } finally {
      await withCors.stop();
    }
  });
});

