/**
 * aedes-persistence's own abstract test suite passes against our persistence
 * (broker/aedes/outgoing-persistence.ts: our outgoing queue over AsyncMemory / aedes-persistence-redis),
 * in both profiles. The suite is node:test, so it runs in a child: node --import tsx --test.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RunningRedis } from './harness/redis.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SUITE = 'test/abstract/aedes-persistence.ts';
/** Tests in aedes-persistence 11.0.0's abstract.js. */
const SUITE_TESTS = 50;

function runSuite(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', SUITE], { cwd: ROOT, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('close', (code) => done({ code, out }));
  });
}
const count = (out: string, what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(out)?.[1] ?? NaN);

let redis: RunningRedis;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sp-abstract-'));
  redis = await startRedis({ dataDir: dir });
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(['memory', 'redis'])("aedes-persistence's abstract suite, %s profile", (profile) => {
  it(`passes all ${SUITE_TESTS} tests against our persistence`, async () => {
    const { code, out } = await runSuite(profile === 'redis' ? { SP_ABSTRACT_REDIS_URL: redis.url } : {});
    const failures = out.split('\n').filter((l) => /^\s*not ok /.test(l));
    expect(failures).toEqual([]);
    expect(count(out, 'fail')).toBe(0);
    expect(count(out, 'tests')).toBe(SUITE_TESTS);
    expect(count(out, 'pass')).toBe(SUITE_TESTS);
    expect(code).toBe(0);
  }, 120_000);
});
