/**
 * The API's error replies: every one is `{ "error": { "code", "message", "param"? } }` with a code
 * from core/errors.ts. Routes throw `ApiError`; `toApiError` turns anything else (Fastify schema
 * validation, body parsing, InfluxDB failures) into one.
 */
import type { FastifyError } from 'fastify';
import { ERROR_CODES, PlatformError } from '../core/errors.ts';
import { InfluxQueryError } from '../core/influx/client.ts';

export const API_ERROR_CODES = [
  'SP_ERR_API_PARAM', 'SP_ERR_API_KEY', 'SP_ERR_API_ROLE', 'SP_ERR_API_NOT_FOUND', 'SP_ERR_API_UPSTREAM', 'SP_ERR_API_INTERNAL',
  'SP_ERR_API_LOGIN', 'SP_ERR_API_LOGIN_LIMITED', 'SP_ERR_API_SESSION', 'SP_ERR_API_CSRF',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

const STATUS: Record<ApiErrorCode, number> = {
  SP_ERR_API_PARAM: 400,
  SP_ERR_API_KEY: 401,
  SP_ERR_API_ROLE: 403,
  SP_ERR_API_NOT_FOUND: 404,
  SP_ERR_API_UPSTREAM: 502,
  SP_ERR_API_INTERNAL: 500,
  SP_ERR_API_LOGIN: 401,
  SP_ERR_API_LOGIN_LIMITED: 429,
  SP_ERR_API_SESSION: 401,
  SP_ERR_API_CSRF: 403,
};

export class ApiError extends PlatformError {
  declare readonly code: ApiErrorCode;
  readonly statusCode: number;
  constructor(code: ApiErrorCode, message: string, readonly param?: string, statusCode?: number) {
    super(code, message);
    this.name = 'ApiError';
    this.statusCode = statusCode ?? STATUS[code];
  }
}

/** A 400 naming the parameter and what was wrong with it. */
export const badParam = (param: string, message: string): ApiError => new ApiError('SP_ERR_API_PARAM', message, param);
export const notFound = (message: string, param?: string): ApiError => new ApiError('SP_ERR_API_NOT_FOUND', message, param);

export interface ErrorBody { error: { code: ApiErrorCode; message: string; param?: string } }

export function errorBody(e: ApiError): ErrorBody {
  return { error: e.param === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, param: e.param } };
}

/** JSON schema of the error body; added once with `addSchema` and referenced as `ApiError#`. */
export const errorSchema = {
  $id: 'ApiError',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: [...API_ERROR_CODES], description: 'Stable error code (see core/errors.ts)' },
        message: { type: 'string', description: 'What was wrong and what to do' },
        param: { type: 'string', description: 'The request parameter at fault, for SP_ERR_API_PARAM' },
      },
    },
  },
} as const;

export const errorDescriptions: Record<ApiErrorCode, string> = Object.fromEntries(
  API_ERROR_CODES.map((c) => [c, ERROR_CODES[c]]),
) as Record<ApiErrorCode, string>;

interface AjvIssue { keyword: string; instancePath: string; params: Record<string, unknown>; message?: string }

/** One Ajv validation failure as a 400 naming the parameter. */
function fromValidation(issues: AjvIssue[], context: string | undefined): ApiError {
  const v = issues[0];
  const where = context === 'params' ? 'path parameter' : context === 'querystring' ? 'query parameter' : context ?? 'parameter';
  if (!v) return badParam('(request)', 'the request is invalid');
  if (v.keyword === 'required') {
    const p = String(v.params.missingProperty);
    return badParam(p, `${where} "${p}" is required`);
  }
  if (v.keyword === 'additionalProperties') {
    const p = String(v.params.additionalProperty);
    return badParam(p, `unknown ${where} "${p}"; see /docs for the parameters of this route`);
  }
  const p = v.instancePath.replace(/^\//, '').split('/')[0] || '(request)';
  let why = v.message ?? 'is invalid';
  if (v.keyword === 'pattern') why = `has the wrong form (must match ${String(v.params.pattern)})`;
  if (v.keyword === 'enum') why = `must be one of ${(v.params.allowedValues as unknown[]).join(', ')}`;
  return badParam(p, `${where} "${p}" ${why}`);
}

/** Maps anything a route or hook threw to an ApiError. Unknown failures become 500 (to be logged). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as Partial<FastifyError> & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(fe.validation)) return fromValidation(fe.validation, fe.validationContext);
  if (err instanceof InfluxQueryError) {
    return new ApiError('SP_ERR_API_UPSTREAM', `InfluxDB did not answer the query (${err.message.slice(0, 200)}); try again later`);
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    return new ApiError('SP_ERR_API_PARAM', fe.message ?? 'the request is invalid', '(request)', status);
  }
  // A defect of ours: the client gets the code, the log gets the stack (api/app.ts).
  return new ApiError('SP_ERR_API_INTERNAL', 'the API failed to answer; the failure is in its log', undefined, 500);
}
