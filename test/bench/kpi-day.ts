/**
 * KPI plausibility and speed on a simulated day (npm run bench:kpi, about 1–2 minutes):
 * backfills one whole local day of the simulated park through the real broker, ingest and
 * InfluxDB (runFleet, one enterprise at a time so a small machine's connects are not starved),
 * then asks the API for the zone's day summary ten times, and prints the figures beside the
 * quota values and the summary's latency. Flags figures outside industry-plausible ranges.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../api/app.ts';
import { KeyStore } from '../../api/key-store.ts';
import { LiveHub } from '../../api/live-hub.ts';
import { ident, influxql, join as joinFragments } from '../../core/influx/influxql.ts';
import { hashSecret } from '../../core/secrets.ts';
import { runFleet } from '../../simulators/fleet.ts';
import { startInfluxd } from '../../scripts/influxd.ts';
import { TestPlatform, waitFor } from '../harness/platform.ts';

const say = (s: string) => process.stderr.write(`${s}\n`);
const dir = mkdtempSync(join(tmpdir(), 'sp-kpi-'));
const influxd = await startInfluxd({ dataDir: dir });
const p = await new TestPlatform({ influxUrl: influxd.url }).start();
try {
  const DAY = 86_400_000;
  const offset = 8 * 3_600_000; // the park's local time, UTC+8 (config/production.yaml)
  const todayLocal = Math.floor((Date.now() + offset) / DAY) * DAY - offset;
  const from = todayLocal - DAY;
  const date = new Date(from + offset).toISOString().slice(0, 10);
  for (const e of p.model.parks.flatMap((x) => x.enterprises)) {
    say(`backfilling ${date} for ${e.id}…`);
    const s = await runFleet({ model: p.model, url: p.mqttUrl, secrets: p.secrets, seed: 'kpi-plausibility', select: { enterprises: [e.id] }, backfill: { fromMs: from - 600_000, toMs: todayLocal + 60_000 }, batch: 500 });
    if (s.failedDevices.length) throw new Error(`devices failed: ${s.failedDevices.join(', ')}`);
  }
  const kinds = joinFragments([...p.model.kinds.keys()].map((k) => ident(k)));
  const total = async () => ((await p.influx.query(influxql`SELECT count(${ident('seq')}) FROM ${kinds}`))[0] ?? []).reduce((a, s) => a + Number(s.values[0]?.[1] ?? 0), 0);
  let last = -1;
  await waitFor('stored counts stable', async () => { const n = await total(); const stable = n === last; last = n; say(`  stored ${n}`); return stable; }, 600_000, 5000);
  const app = buildApp({ model: p.model, influx: p.influx, live: new LiveHub(p.model), keys: new KeyStore([{ id: 'v', role: 'viewer', hash: hashSecret('k-0123456789') }]) });
  await app.ready();
  const times: number[] = [];
  let body: Record<string, any> = {};
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const r = await app.inject({ url: `/api/v1/kpi/summary?period=day&date=${date}`, headers: { 'x-api-key': 'k-0123456789' } });
    times.push(performance.now() - t0);
    body = r.json();
  }
  await app.close();
  times.sort((a, b) => a - b);
  const tile = body.products.find((x: any) => x.product === 'porcelain_tile');
  const flag = (ok: boolean) => (ok ? '' : '   <-- outside the plausible range');
  console.log(`\nKPI day benchmark (${date}, ${last} readings stored, ${new Date().toISOString()})`);
  console.log(`  zone day summary, 10 calls: min ${times[0]!.toFixed(0)} ms, median ${times[5]!.toFixed(0)} ms, max ${times[9]!.toFixed(0)} ms${flag(times[5]! < 1000)}`);
  console.log(`  comprehensive energy ${body.energy.comprehensive.tce} tce, carbon ${body.carbon.tCO2} tCO2`);
  for (const c of body.energy.carriers) console.log(`    ${c.carrier}: ${c.quantity} ${c.unit} = ${c.kgce} kgce`);
  for (const x of body.products) {
    console.log(`  ${x.product}: ${x.good} ${x.unit} good, ${x.perUnit.kgce} ${x.perUnit.unit} (${x.perUnit.electricityKWh} ${x.perUnit.electricityUnit})${x.quota ? `, GB 21252 grade ${x.quota.grade} (limits ${JSON.stringify(x.quota.limits)})` : ''}`);
  }
  console.log(`  tile kgce/m² plausible (1–10)${flag(tile && tile.perUnit.kgce > 1 && tile.perUnit.kgce < 10)}`);
  console.log(`  intensity: zone ${body.intensity.tcePer10kYuan} tce/10^4 yuan; ${body.intensity.byEnterprise.map((e: any) => `${e.enterprise} ${e.tcePer10kYuan}`).join(', ')}`);
  for (const o of body.oee) console.log(`  OEE ${o.product}: A=${o.availability} E=${o.effectiveness} Q=${o.quality} OEE=${o.oee}${flag(o.oee > 0.3 && o.oee <= 1.2)}`);
  console.log(`  online rate ${body.dataQuality.onlineRate}, completeness ${body.dataQuality.completeness}`);
} finally {
  await p.stop();
  await influxd.stop();
  rmSync(dir, { recursive: true, force: true });
}
