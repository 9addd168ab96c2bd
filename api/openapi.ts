/**
 * The OpenAPI document's conventions, applied once to every route as @fastify/swagger builds it
 * (routes declare what is theirs: summary, parameters, bodies, their own responses):
 *   - operationId from method and path when a route gives none (GET /api/v1/devices/:id/telemetry
 *     → getDevicesByIdTelemetry), unique because method + path are;
 *   - security: `[]` on public routes (outside /api/v1, or `config.public`), the API key, bearer
 *     and console session schemes on every other one;
 *   - the error answers every protected route can give (400 with parameters, 401, 403, 500), and
 *     101 for the WebSocket route, so each operation declares every response it sends.
 * `GET /openapi.json` serves the document (as /docs/json does for the UI).
 */
import type { FastifyPluginAsync } from 'fastify';

type Schema = Record<string, unknown> & { response?: Record<string, unknown>; security?: unknown; operationId?: string; hide?: boolean };

const ERR = { $ref: 'ApiError#' };
const PROTECTED_SECURITY = [{ apiKey: [] }, { bearer: [] }, { session: [] }];

/** getDevicesByIdTelemetry: the method, then each path segment after /api/v1 (parameters as ByName). */
export function operationIdFor(method: string, url: string): string {
  const cap = (s: string) => s.replace(/(^|[-_.])([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
  const parts = url.replace(/^\/api\/v1(?=\/|$)/, '').split('/').filter(Boolean)
    .map((p) => (p.startsWith(':') ? `By${cap(p.slice(1))}` : cap(p)));
  return `${method.toLowerCase()}${parts.join('') || 'Root'}`;
}

interface TransformArgs { schema: Schema | undefined; url: string; route: { method: string | string[]; config?: { role?: string; public?: boolean }; wsHandler?: unknown } }

export function openApiTransform({ schema, url, route }: TransformArgs): { schema: Schema; url: string } {
  const s: Schema = { ...(schema ?? {}) };
  if (s.hide) return { schema: s, url };
  const method = Array.isArray(route.method) ? route.method[0]! : route.method;
  s.operationId ??= operationIdFor(method, url);
  const isPublic = !url.startsWith('/api/v1') || route.config?.public === true;
  s.security = isPublic ? [] : PROTECTED_SECURITY;
  const response: Record<string, unknown> = { ...(s.response ?? {}) };
  if (route.wsHandler) response[101] ??= { description: 'Switching Protocols: the WebSocket is open; messages as described above', type: 'null' };
  if (!isPublic) {
    response[401] ??= ERR;
    response[403] ??= ERR;
  }
  if (url.startsWith('/api/v1')) {
    const hasParams = Boolean(s.querystring || s.params || s.body);
    if (hasParams) response[400] ??= ERR;
    response[500] ??= ERR;
  }
  s.response = response;
  return { schema: s, url };
}

export const openApiJsonRoute: FastifyPluginAsync = async (app) => {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};
