/**
 * One InfluxDB for the whole run, chosen by harness/influx-backend.ts: Debian's influxd started on
 * a free loopback port with a temporary data folder (the default), INFLUX_URL when given, or an
 * InfluxDB 2.7 container (TEST_INFLUX=container, where Docker answers). Each test file uses its
 * own database (its client's ensureDatabase makes it, a bucket on 2.x).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'vitest';
import type { TestProject } from 'vitest/node';
import { startInfluxd } from '../../scripts/influxd.ts';
import { chooseInfluxBackend, startInfluxContainer } from './influx-backend.ts';

declare module 'vitest' {
  export interface ProvidedContext { influxUrl: string; influxToken: string }
}

let stop: (() => Promise<void>) | undefined;

export async function setup(project: TestProject): Promise<void> {
  const backend = chooseInfluxBackend(process.env);
  let url: string;
  let token = '';
  if (backend.kind === 'url') {
    url = backend.url;
    token = backend.token ?? '';
  } else if (backend.kind === 'container') {
    const c = await startInfluxContainer(backend.image, process.env);
    ({ url } = c);
    token = c.token ?? '';
    stop = c.stop;
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'sp-influxd-'));
    const influxd = await startInfluxd({ dataDir: dir });
    url = influxd.url;
    stop = async () => {
      await influxd.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  // Services the tests start as child processes read INFLUX_TOKEN like any deployment would.
  if (token) process.env.INFLUX_TOKEN = token;
  project.provide('influxUrl', url);
  project.provide('influxToken', token);
}

export async function teardown(): Promise<void> {
  await stop?.();
}
