/**
 * The console in a real browser (Debian's chromium via playwright-core) against the real API,
 * InfluxDB, broker and ingest, with simulated devices publishing over MQTT: log in; a live value
 * changes on screen; an alarm raised by a simulated fault (spikes) appears without a reload and an
 * engineer acknowledges it (the API then shows it acknowledged); a viewer sees no acknowledge
 * button and a forged ack from the viewer's session is refused; a wrong password is refused and
 * then limited; English changes the labels; the monthly report downloads and its cells equal the
 * KPI API. Screenshots of each page and load figures go to test/output/console/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_DIST } from '../api/console/bundle.ts';
import { UserStore } from '../api/console/user-store.ts';
import { launchBrowser, logIn, newSession, OUTPUT_DIR, screenshot } from './harness/browser.ts';
import { ROOT, TestPlatform, waitFor } from './harness/platform.ts';

const PW = { viewer: 'viewer-pw-123', engineer: 'engineer-pw-123', admin: 'admin-pw-123', trial: 'trial-pw-123' } as const;
const WS = 'banqiao/aolong/vaccine';
const SIMULATED = ['al-cold-2', 'al-bio-1', 'al-ahu-1', 'al-em-main', 'al-sm-main'];
const figures: Record<string, unknown> = {};

let p: TestPlatform;
let sim: ChildProcess | undefined;
let browser: Browser;

function startSimulator(): ChildProcess {
  const secrets = join(p.dir, 'device-secrets.json');
  writeFileSync(secrets, JSON.stringify(p.secrets));
  const log = openSync(join(p.dir, 'sim.log'), 'a');
  return spawn(process.execPath, [
    '--import', 'tsx', 'simulators/main.ts', '--url', p.mqttUrl, '--secrets', secrets, '--devices', SIMULATED.join(','),
    '--interval-ms', '1000', '--faults', 'spike=0.25,spike-factor=8', '--duration', '0', '--quiet',
  ], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', log, log] });
}

beforeAll(async () => {
  const rules = join(await import('node:os').then((os) => os.tmpdir()), `sp-console-rules-${process.pid}.yaml`);
  writeFileSync(rules, 'rules:\n  - { id: cold-room-temp, type: threshold, kind: cold_room, metric: temp, above: { rated: highC, default: 8 }, below: { rated: lowC, default: 2 }, for: 0, severity: critical }\n');
  p = await new TestPlatform({ ingestEnv: { INGEST_ALARMS_FILE: rules } }).start();
  const users = UserStore.open(join(p.dir, 'console-users.json')).store; // beside the API's key file: no first-run admin
  for (const [name, pw] of Object.entries(PW)) users.add(name, name === 'trial' ? 'viewer' : (name as 'viewer'), pw);
  await p.startApi(undefined, { CONSOLE_LOGIN_FREE_FAILURES: '3' });
  sim = startSimulator();
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  if (browser) writeFileSync(join(OUTPUT_DIR, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  await browser?.close();
  sim?.kill('SIGTERM');
  await p?.stop();
});

describe('console in a browser', () => {
  it('a wrong password is refused, then limited; the right one logs in; the page loads fast enough to measure', async () => {
    const { page, context } = await newSession(browser);
    const assets: Record<string, { encoding?: string; status: number }> = {};
    page.on('response', (r) => { const u = new URL(r.url()); if (u.pathname.startsWith('/console/')) assets[u.pathname] = { encoding: r.headers()['content-encoding'], status: r.status() }; });
    const t0 = Date.now();
    await page.goto(p.apiUrl);
    await page.waitForSelector('[data-testid=login-form]');
    const nav = await page.evaluate(() => { const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming; return { domContentLoadedMs: Math.round(n.domContentLoadedEventEnd), loadMs: Math.round(n.loadEventEnd) }; });
    figures.loginPage = { ...nav, toFormMs: Date.now() - t0 };
    expect(assets['/console/app.js']).toEqual({ encoding: 'br', status: 200 }); // the pre-compressed bundle
    const csp = (await page.request.get(p.apiUrl)).headers()['content-security-policy'];
    expect(csp).toContain("default-src 'self'"); // nothing from elsewhere, even if injected
    await screenshot(page, '01-login');
    for (let i = 0; i < 3; i++) {
      await page.fill('[data-testid=username]', 'trial');
      await page.fill('[data-testid=password]', `wrong-${i}`);
      await page.click('[data-testid=login-submit]');
      await page.waitForFunction((n) => document.querySelector('[data-testid=login-error]')?.getAttribute('data-code') === 'SP_ERR_API_LOGIN' && (window as any).__n !== n, i);
      await page.evaluate((n) => { (window as any).__n = n; document.querySelector('[data-testid=login-error]')!.removeAttribute('data-code'); }, i);
    }
    expect(await page.textContent('[data-testid=login-error]')).toBe('用户名或密码错误');
    await page.fill('[data-testid=password]', PW.trial); // right password, but too soon
    await page.click('[data-testid=login-submit]');
    await page.waitForSelector('[data-testid=login-error][data-code=SP_ERR_API_LOGIN_LIMITED]');
    expect(await page.textContent('[data-testid=login-error]')).toMatch(/^登录失败次数过多/);
    expect((await p.apiGet('/api/v1/stats')).body.refused).toMatchObject({ SP_ERR_API_LOGIN: 3, SP_ERR_API_LOGIN_LIMITED: 1 });
    const t1 = Date.now();
    await logIn(page, p.apiUrl, 'engineer', PW.engineer);
    await page.waitForSelector('[data-testid=tile-coal] .value');
    figures.loginToOverviewMs = Date.now() - t1;
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'sp_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('sp_session'); // HttpOnly: no script sees it
    await context.close();
  }, 60_000);

  it('an engineer sees a live value change on the workshop page, and the zone overview', async () => {
    const { page, context } = await newSession(browser);
    await logIn(page, p.apiUrl, 'engineer', PW.engineer);
    await page.waitForSelector('[data-testid=tile-online] .value');
    expect(await page.textContent('[data-testid=tile-online] .label')).toBe('设备在线率');
    await screenshot(page, '02-overview');
    await page.goto(`${p.apiUrl}/#/workshop?ws=${WS}`);
    const cell = '[data-testid=live-al-bio-1-temp]';
    await page.waitForSelector(cell);
    await page.waitForFunction((sel) => /\d/.test(document.querySelector(sel)?.textContent ?? ''), cell, { timeout: 20_000 });
    const first = await page.textContent(cell);
    await page.waitForFunction(([sel, v]) => document.querySelector(sel!)?.textContent !== v, [cell, first] as const, { timeout: 20_000 });
    const second = await page.textContent(cell);
    expect(second).not.toBe(first);
    expect(second).toMatch(/\d/);
    await screenshot(page, '03-workshop');
    await page.goto(`${p.apiUrl}/#/device?id=al-bio-1&range=-1h`);
    await page.waitForSelector('[data-testid=telemetry-chart] canvas', { timeout: 20_000 });
    expect(Number(await page.getAttribute('[data-testid=telemetry-chart]', 'data-points'))).toBeGreaterThan(0);
    await screenshot(page, '04-device');
    await context.close();
  }, 90_000);

  it('an alarm raised by a simulated fault appears without a reload, and the engineer acknowledges it with a comment', async () => {
    const { page, context } = await newSession(browser);
    await logIn(page, p.apiUrl, 'engineer', PW.engineer);
    await page.goto(`${p.apiUrl}/#/alarms`);
    await page.waitForSelector('[data-testid=alarms-table][data-live=ready]'); // list loaded, live feed open
    await page.evaluate(() => { (window as any).__sameDocument = true; });
    const before = await page.$$eval('[data-testid^="alarm-cold-room-temp:"]', (els) => els.map((e) => e.getAttribute('data-testid')));
    // a new raise arrives over the WebSocket while the page stays open
    await page.waitForFunction((known) => [...document.querySelectorAll('[data-testid^="alarm-cold-room-temp:al-cold-2:"]')].some((e) => !known.includes(e.getAttribute('data-testid'))), before, { timeout: 45_000 });
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true); // no reload
    expect(await page.$$eval('[data-testid=alarm-arrivals] li', (l) => l.length)).toBeGreaterThan(0);
    const rowId = (await page.$$eval('[data-testid^="alarm-cold-room-temp:al-cold-2:"]', (els, known) => els.map((e) => e.getAttribute('data-testid')!).filter((x) => !known.includes(x)), before))[0]!;
    const id = rowId.slice('alarm-'.length);
    await screenshot(page, '05-alarms');
    await page.fill(`[data-testid="ack-note-${id}"]`, '已现场检查 checked on site');
    await page.click(`[data-testid="ack-${id}"]`);
    await page.waitForSelector(`[data-testid="acked-${id}"]`);
    expect(await page.textContent(`[data-testid="acked-${id}"]`)).toContain('engineer');
    const listed = (await p.apiGet('/api/v1/alarms?state=all&device=al-cold-2&from=-1h')).body.alarms.find((a: { id: string }) => a.id === id);
    expect(listed).toMatchObject({ id, acknowledged: true, ackedBy: 'engineer', ackNote: '已现场检查 checked on site' });
    figures.alarmId = id;
    await context.close();
  }, 90_000);

  it('a viewer sees no acknowledge button, and an ack forged from the viewer session is refused', async () => {
    const { page, context } = await newSession(browser);
    await logIn(page, p.apiUrl, 'viewer', PW.viewer);
    await page.goto(`${p.apiUrl}/#/alarms?view=history`);
    await page.waitForSelector('[data-testid^="alarm-cold-room-temp:"]', { timeout: 20_000 });
    expect(await page.$$('[data-testid="alarms-table"] button')).toHaveLength(0);
    expect(await page.$$('[data-testid^="ack-"]')).toHaveLength(0);
    const open = (await p.apiGet('/api/v1/alarms?state=all&from=-1h')).body.alarms.find((a: { acknowledged: boolean }) => !a.acknowledged);
    expect(open).toBeDefined();
    const forged = await page.evaluate(async (alarmId) => {
      const me = await (await fetch('/api/v1/session')).json();
      const r = await fetch(`/api/v1/alarms/${encodeURIComponent(alarmId)}/ack`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf }, body: '{"note":"forged"}' });
      return { status: r.status, body: await r.json() };
    }, open.id as string);
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe('SP_ERR_API_ROLE');
    const after = (await p.apiGet('/api/v1/alarms?state=all&from=-1h')).body.alarms.find((a: { id: string }) => a.id === open.id);
    expect(after.acknowledged).toBe(false);
    // the admin page is not offered, and telemetry history (engineer) is refused with a message
    expect(await page.$$('[data-testid=nav-devices]')).toHaveLength(0);
    await page.goto(`${p.apiUrl}/#/device?id=al-bio-1`);
    await page.waitForSelector('[data-testid=telemetry-refused]');
    expect(await page.textContent('[data-testid=telemetry-refused]')).toBe('查看历史数据需要工程师及以上角色');
    await context.close();
  }, 60_000);

  it('switching to English changes the labels', async () => {
    const { page, context } = await newSession(browser);
    await logIn(page, p.apiUrl, 'admin', PW.admin);
    expect(await page.textContent('[data-testid=nav-overview]')).toBe('园区总览');
    await page.click('[data-testid=lang]');
    await page.waitForSelector('[data-testid=tile-online] .label');
    expect(await page.textContent('[data-testid=nav-overview]')).toBe('Zone overview');
    expect(await page.textContent('[data-testid=tile-online] .label')).toBe('Device online rate');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await page.goto(`${p.apiUrl}/#/devices`);
    await page.waitForSelector('[data-testid=admin-table]');
    expect(await page.textContent('[data-testid=nav-devices]')).toBe('Devices');
    await screenshot(page, '06-devices-en');
    await page.goto(`${p.apiUrl}/#/energy?period=day`);
    await page.waitForSelector('[data-testid=products-table]');
    await screenshot(page, '07-energy-en');
    await context.close();
  }, 60_000);

  it('the monthly energy report downloads and its cells equal the KPI API', async () => {
    sim?.kill('SIGTERM'); // the month's figures must not move between the download and the KPI call
    await new Promise((r) => sim!.once('exit', r));
    await new Promise((r) => setTimeout(r, 1500)); // ingest flushes every 100 ms
    const { page, context } = await newSession(browser);
    await logIn(page, p.apiUrl, 'engineer', PW.engineer);
    await page.goto(`${p.apiUrl}/#/energy`);
    await page.waitForSelector('[data-testid=report-enterprise]');
    await page.selectOption('[data-testid=report-enterprise]', 'banqiao/aolong');
    const month = await page.inputValue('[data-testid=report-month]');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=report-download]')]);
    const file = join(OUTPUT_DIR, 'energy-report.xlsx');
    await download.saveAs(file);
    expect(download.suggestedFilename()).toBe(`energy-banqiao-aolong-${month}.xlsx`);
    const kpi = (await p.apiGet(`/api/v1/kpi/summary?park=banqiao&enterprise=aolong&period=month&date=${month}`)).body;
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const summary = new Map<string, unknown>();
    wb.getWorksheet('Summary 汇总')!.eachRow((r, i) => { if (i > 1) summary.set(String(r.getCell(4).value), r.getCell(2).value); });
    expect(kpi.energy.comprehensive.kgce).toBeGreaterThan(0);
    expect(summary.get('energy.comprehensive.tce')).toBe(kpi.energy.comprehensive.tce);
    expect(summary.get('energy.comprehensive.kgce')).toBe(kpi.energy.comprehensive.kgce);
    expect(summary.get('carbon.tCO2')).toBe(kpi.carbon.tCO2);
    expect(summary.get('intensity.outputValueYuan')).toBe(kpi.intensity.outputValueYuan);
    expect(summary.get('intensity.tcePer10kYuan')).toBe(kpi.intensity.tcePer10kYuan);
    const energy = wb.getWorksheet('Energy 能源')!;
    kpi.energy.carriers.forEach((c: { carrier: string; quantity: number; kgce: number }, i: number) => {
      const row = energy.getRow(i + 2);
      expect([row.getCell(1).value, row.getCell(2).value, row.getCell(4).value]).toEqual([c.carrier, c.quantity, c.kgce]);
    });
    await context.close();
  }, 60_000);

  it('reports the bundle size', () => {
    const js = statSync(join(CONSOLE_DIST, 'app.js')).size;
    figures.bundleBytes = { 'app.js': js, 'app.css': statSync(join(CONSOLE_DIST, 'app.css')).size };
    expect(js).toBeGreaterThan(100_000); // ECharts is in it: nothing comes from a CDN
    expect(readFileSync(join(CONSOLE_DIST, 'index.html'), 'utf8')).not.toMatch(/https?:\/\//);
  });
});
