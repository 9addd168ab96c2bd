/**
 * One InfluxDB for the whole run: INFLUX_URL when given (e.g. an InfluxDB 2.7 with its v1 API),
 * else Debian's influxd started on a free loopback port with a temporary data folder, stopped
 * after. Each test file uses its own database (see harness/influx.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'vitest';
import type { TestProject } from 'vitest/node';
import { startInfluxd, type RunningInfluxd } from '../../scripts/influxd.ts';

declare module 'vitest' {
  export interface ProvidedContext { influxUrl: string }
}

let influxd: RunningInfluxd | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.INFLUX_URL;
  if (!url) {
    dir = mkdtempSync(join(tmpdir(), 'sp-influxd-'));
    influxd = await startInfluxd({ dataDir: dir });
    url = influxd.url;
  }
  project.provide('influxUrl', url);
}

export async function teardown(): Promise<void> {
  await influxd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
