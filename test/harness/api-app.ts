/**
 * The API app for route tests: built with buildApp() on a given park model, a database of its
 * own in the suite's InfluxDB (filled with the given line-protocol lines) and API keys per role.
 * Driven with app.inject(): no sockets where none are needed.
 */
import type { FastifyInstance } from 'fastify';
import { expect, inject } from 'vitest';
import { buildApp, type AppDeps } from '../../api/app.ts';
import { KeyStore } from '../../api/key-store.ts';
import { LiveHub } from '../../api/live-hub.ts';
import { InfluxClient } from '../../core/influx/client.ts';
import { ident, influxql } from '../../core/influx/influxql.ts';
import type { ParkModel } from '../../core/model.ts';
import { hashSecret } from '../../core/secrets.ts';

export const ROLE_KEYS = { viewer: 'viewer-key-0123456789', engineer: 'engineer-key-0123456789', admin: 'admin-key-0123456789' } as const;

export interface ApiApp { app: FastifyInstance; influx: InfluxClient; hub: LiveHub; stop(): Promise<void> }

export async function startApiApp(model: ParkModel, lines: readonly string[], name: string, extra: Partial<AppDeps> = {}): Promise<ApiApp> {
  const influx = new InfluxClient({ url: inject('influxUrl'), token: inject('influxToken') || undefined, db: `${name}_${process.pid}_${Date.now()}` });
  await influx.ensureDatabase();
  if (lines.length) expect(await influx.write(lines.join('\n'))).toEqual({ kind: 'ok' });
  const hub = new LiveHub(model);
  const keys = new KeyStore(Object.entries(ROLE_KEYS).map(([role, k]) => ({ id: role, role: role as 'viewer', hash: hashSecret(k) })));
  const app = buildApp({ model, influx, live: hub, keys, ...extra });
  await app.ready();
  return {
    app, influx, hub,
    stop: async () => {
      await app.close();
      await influx.query(influxql`DROP DATABASE ${ident(influx.config.db)}`, { db: null }).catch(() => {});
    },
  };
}
