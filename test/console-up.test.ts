/**
 * The newcomer's path, for real: `npm run up`'s script (scripts/up.ts, free ports, a temporary data
 * folder) prints the console URL and the first-run admin credentials; Chromium opens that URL,
 * logs in with them and sees a live value change; the admin rotates a device's secret on the
 * devices page (shown once), with effect on the running broker (old secret refused). Screenshots
 * of the whole simulated park for docs/img.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, expect, it } from 'vitest';
import { launchBrowser, newSession, screenshot } from './harness/browser.ts';
import { ROOT, upEnv, waitFor } from './harness/platform.ts';

const dir = mkdtempSync(join(tmpdir(), 'sp-console-up-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('npm run up prints the console URL and first-run credentials that log in to a live console; device admin reaches the broker', async () => {
  const { ports, env } = await upEnv(dir, ['GATEWAY_HTTP_PORT']);
  delete env.INFLUX_URL;
  let out = '';
  const up = spawn(process.execPath, ['--import', 'tsx', 'scripts/up.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  up.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const browser = await launchBrowser();
  try {
    await waitFor('the platform to be up', () => out.includes('Ctrl-C stops everything'), 90_000, 200);
    const url = out.match(/Operator console +(http:\/\/\S+)/)?.[1];
    expect(url).toBe(`http://127.0.0.1:${ports.API_PORT}/`);
    const [, user, password] = out.match(/first-run login: (\S+) \/ (\S+)/) ?? [];
    expect(user).toBe('admin');
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);

    const { page } = await newSession(browser);
    await page.goto(url!);
    await page.fill('[data-testid=username]', user!);
    await page.fill('[data-testid=password]', password!);
    await page.click('[data-testid=login-submit]');
    await page.waitForSelector('[data-testid=tile-online] .value');
    await page.goto(`${url}#/workshop?ws=guangfu/weimei/tile`);
    const cell = '[data-testid=live-wm-press-1-pressure]';
    await page.waitForFunction((sel) => /\d/.test(document.querySelector(sel)?.textContent ?? ''), cell, { timeout: 30_000 });
    const first = await page.textContent(cell);
    await page.waitForFunction(([sel, v]) => document.querySelector(sel!)?.textContent !== v, [cell, first] as const, { timeout: 30_000 });
    await screenshot(page, 'up-workshop');
    await page.goto(`${url}#/overview`);
    await page.waitForSelector('[data-testid=tile-online] .value');
    await waitFor('devices online', async () => Number((await page.textContent('[data-testid=tile-online] .unit'))?.split('/')[0]) > 0, 30_000, 1000);
    await screenshot(page, 'up-overview');

    // rotate a simulated device's secret from the devices page: the broker (its own process) takes it at once
    const secrets = JSON.parse(readFileSync(join(dir, 'secrets', 'credentials.json'), 'utf8')) as Record<string, string>;
    await page.goto(`${url}#/devices`);
    await page.click('[data-testid=rotate-wm-mill-2]');
    await page.waitForSelector('[data-testid=secret-value]');
    const shown = (await page.textContent('[data-testid=secret-value]'))!;
    expect(shown).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await screenshot(page, 'up-devices');
    const attempt = (secret: string) => mqtt.connectAsync(`mqtt://127.0.0.1:${ports.MQTT_PORT}`, { clientId: 'wm-mill-2', username: 'wm-mill-2', password: secret, reconnectPeriod: 0, connectTimeout: 5000 })
      .then(async (c) => { await c.endAsync(); return 'accepted'; }, (e: Error) => e.message);
    expect(await attempt(secrets['wm-mill-2']!)).not.toBe('accepted');
    expect(await attempt(shown)).toBe('accepted');
  } finally {
    await browser.close();
    const gone = new Promise((r) => up.once('exit', r));
    up.kill('SIGINT');
    await gone;
  }
  expect(up.exitCode).toBe(0);
}, 180_000);
