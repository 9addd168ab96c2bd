/**
 * A real browser for console tests: Debian's chromium (installed by scripts/test.sh when missing)
 * driven by playwright-core, which downloads nothing. Screenshots go to test/output/console/
 * (gitignored). CHROMIUM_PATH overrides the executable.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './platform.ts';

export const OUTPUT_DIR = join(ROOT, 'test/output/console');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  // --no-sandbox: the suite runs as root in CI, where Chromium's sandbox refuses to start
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** A fresh browser profile (own cookies) at a desktop size, downloads allowed. */
export async function newSession(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, acceptDownloads: true, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  return { context, page };
}

/** Logs in through the login form; resolves when the first page after login is shown. */
export async function logIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.fill('[data-testid=username]', username);
  await page.fill('[data-testid=password]', password);
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector('[data-testid=page-overview]');
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const file = join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
