/**
 * What every route sees: the park model, the InfluxDB client, the live feed, the key store, the
 * counters and the API's options, decorated once on the root instance (fastify-plugin) and typed
 * here. Also the per-route settings the auth hook reads (`config.role`, `config.keyInQuery`).
 */
import fp from 'fastify-plugin';
import type { InfluxClient } from '../core/influx/client.ts';
import type { ParkModel } from '../core/model.ts';
import type { KeyStore, Role } from './key-store.ts';
import type { LiveSource } from './live-hub.ts';
import { ApiStats } from './stats.ts';

export interface ApiOptions {
  /** How far back GET /devices looks for last values (InfluxQL duration, e.g. 1d). */
  lastValuesLookback: string;
  /** Most points one telemetry query may return. */
  maxPoints: number;
  /** Skip (and count) live messages for a WebSocket client with more than this many bytes unsent. */
  wsMaxBufferedBytes: number;
}

export const DEFAULT_API_OPTIONS: Readonly<ApiOptions> = Object.freeze({
  lastValuesLookback: '1d',
  maxPoints: 10_000,
  wsMaxBufferedBytes: 1024 * 1024, // bytes
});

export interface ApiContext {
  model: ParkModel;
  influx: InfluxClient;
  live: LiveSource;
  keys: KeyStore;
  options?: Partial<ApiOptions>;
}

declare module 'fastify' {
  interface FastifyInstance {
    model: ParkModel;
    influx: InfluxClient;
    live: LiveSource;
    keys: KeyStore;
    stats: ApiStats;
    apiOptions: Readonly<ApiOptions>;
  }
  interface FastifyContextConfig {
    /** Least role a key needs for this route (routes under /api/v1 default to admin). */
    role?: Role;
    /** Also accept the key as `?key=` (WebSocket clients cannot set headers in browsers). */
    keyInQuery?: boolean;
  }
  interface FastifyRequest {
    /** The key that authenticated this request, under /api/v1. */
    apiKey: { id: string; role: Role } | null;
  }
}

export const contextPlugin = fp<ApiContext>(async (app, ctx) => {
  app.decorate('model', ctx.model);
  app.decorate('influx', ctx.influx);
  app.decorate('live', ctx.live);
  app.decorate('keys', ctx.keys);
  app.decorate('stats', new ApiStats());
  app.decorate('apiOptions', Object.freeze({ ...DEFAULT_API_OPTIONS, ...ctx.options }));
  app.decorateRequest('apiKey', null);
}, { name: 'sp-context', fastify: '5.x' });
