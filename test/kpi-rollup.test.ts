/**
 * The API process writes the hourly KPI facts the dashboards read (kpi_hourly, api/kpi/rollup.ts):
 * at start it catches up, then on every tick it recomputes the open hours, so a late reading
 * changes its hour's facts in place. Real broker, ingest, API child process and InfluxDB; the
 * figures are hand-computed from the meter readings published here.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deviceTopic } from '../core/contract.ts';
import { loadStandards } from '../core/kpi/config-file.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

const H = 3_600_000;
const METER = 'wm-em-main'; // Weimei's main electricity meter (kWh)
let p: TestPlatform;
const hour = Math.floor(Date.now() / H) * H - H; // the previous whole hour: late data still recomputed

beforeAll(async () => {
  p = await new TestPlatform().start();
}, 60_000);
afterAll(async () => {
  await p?.stop();
});

async function publish(readings: { ts: number; energy: number }[]): Promise<void> {
  const c = await p.connect(METER);
  await c.publishAsync(deviceTopic(p.model.devices.get(METER)!, 'telemetry'),
    JSON.stringify({ readings: readings.map((r) => ({ ts: r.ts, metrics: { energy: r.energy } })) }), { qos: 1 });
  await c.endAsync();
}

/** kpi_hourly of Weimei at `hour`: electricity (kWh) and kgce. */
async function weimei(): Promise<{ electricity?: number; kgce?: number; enterprises: number }> {
  const [series] = await p.influx.query(`SELECT "electricity", "kgce", "enterprise" FROM "kpi_hourly" WHERE "level" = 'enterprise' AND time = ${hour}ms`);
  const rows = (series?.[0]?.values ?? []).map((r) => ({ electricity: r[1] as number | undefined, kgce: r[2] as number | undefined, enterprise: r[3] }));
  const w = rows.find((r) => r.enterprise === 'weimei');
  return { electricity: w?.electricity ?? undefined, kgce: w?.kgce ?? undefined, enterprises: rows.length };
}

it('writes each enterprise\'s hour, and rewrites it when a late reading arrives', async () => {
  // 1000 kWh before the hour (baseline), 1200 at :05 (+200), 1300 at :30 (+100) → 300 kWh in the hour
  await publish([{ ts: hour - 10 * 60_000, energy: 1000 }, { ts: hour + 5 * 60_000, energy: 1200 }, { ts: hour + 30 * 60_000, energy: 1300 }]);
  await waitFor('readings stored', async () => (await p.count(METER, 'energy')) === 3, 20_000, 100);
  await p.startApi(undefined, { API_KPI_ROLLUP_INTERVAL_MS: '300', API_KPI_ROLLUP_LATE_HOURS: '2', API_KPI_ROLLUP_CATCHUP_HOURS: '3' });
  const kgcePerKWh = loadStandards().carriers.get('electricity')!.kgcePerUnit;
  await waitFor('the hour rolled up', async () => (await weimei()).electricity === 300, 30_000, 200);
  const first = await weimei();
  expect(first.enterprises).toBe(p.model.parks.flatMap((x) => x.enterprises).length);
  expect(first.kgce).toBeCloseTo(300 * kgcePerKWh, 3);

  // a late reading at :50 (+50): the next tick rewrites the hour in place
  await publish([{ ts: hour + 50 * 60_000, energy: 1350 }]);
  await waitFor('the late reading rolled up', async () => (await weimei()).electricity === 350, 30_000, 200);
  const [count] = await p.influx.query(`SELECT count("kgce") FROM "kpi_hourly" WHERE "level" = 'enterprise' AND "enterprise" = 'weimei' AND time = ${hour}ms`);
  expect(count?.[0]?.values[0]?.[1]).toBe(1);
  expect((await weimei()).kgce).toBeCloseTo(350 * kgcePerKWh, 3);
}, 120_000);
