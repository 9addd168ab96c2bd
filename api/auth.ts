/**
 * API-key authentication and role check for every route under /api/v1. The key comes from
 * `x-api-key`, `Authorization: Bearer <key>`, or (routes with `config.keyInQuery` only, i.e. the
 * WebSocket) `?key=`. Missing or unknown key: 401 SP_ERR_API_KEY; role too low: 403 SP_ERR_API_ROLE.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ApiError } from './errors.ts';
import { roleAllows } from './key-store.ts';

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

export const requireApiKey: onRequestAsyncHookHandler = async function (request) {
  const need = request.routeOptions.config.role ?? 'admin';
  const key = presentedKey(request);
  if (key === undefined) {
    throw new ApiError('SP_ERR_API_KEY', 'missing API key: send it in the x-api-key header or as "Authorization: Bearer <key>"');
  }
  const found = this.keys.find(key);
  if (!found) throw new ApiError('SP_ERR_API_KEY', 'unknown API key');
  if (!roleAllows(found.role, need)) {
    throw new ApiError('SP_ERR_API_ROLE', `this route needs role ${need} or higher; key "${found.id}" has role ${found.role}`);
  }
  request.apiKey = found;
};

/** Securities for the OpenAPI document of a protected route. */
export const SECURITY: { [scheme: string]: string[] }[] = [{ apiKey: [] }, { bearer: [] }];
