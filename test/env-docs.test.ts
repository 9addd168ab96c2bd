/**
 * The env tables are the one source: README tables and .env.example are generated from them, every
 * variable a service's code reads is declared in its table, and a bad environment is refused with
 * every problem named at once.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envTable, readEnv } from '../core/env.ts';
import { drift, envExampleText, SERVICES } from '../scripts/env-docs.ts';

const tmp = mkdtempSync(join(tmpdir(), 'env-docs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Variables a folder's code reads (`env.X`, `env['X']`, `secretFromEnv(env, 'X'`), outside tests. */
function readIn(dir: string, skip: string[] = []): Set<string> {
  const names = new Set<string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (!skip.includes(p)) walk(p);
      }
      else if (e.name.endsWith('.ts')) {
        const src = readFileSync(p, 'utf8');
        for (const m of src.matchAll(/env(?:\.|\[['"])([A-Z][A-Z0-9_]+)/g)) names.add(m[1]!);
      }
    }
  };
  walk(dir);
  return names;
}

/** Read for a library's own debugging or by a helper script, not service configuration. */
const NOT_CONFIG = new Set(['DEBUG', 'SECRETS_FILE', 'DEVICE_SECRETS_FILE', 'DATA_DIR']);

describe('env tables', () => {
  it('generate exactly the committed README tables and .env.example', () => {
    expect(drift().map((d) => d.file)).toEqual([]);
  });

  it('notice a README edited by hand and an .env.example that lost a key', () => {
    for (const f of ['broker/README.md', 'ingest/README.md', 'api/README.md', 'gateway/README.md', '.env.example']) cpSync(f, join(tmp, f), { recursive: true });
    const readme = join(tmp, 'broker/README.md');
    writeFileSync(readme, readFileSync(readme, 'utf8').replace('| `MQTT_PORT` | `1883` |', '| `MQTT_PORT` | `1884` |'));
    writeFileSync(join(tmp, '.env.example'), envExampleText().replace(/^# INGEST_BATCH_BYTES=.*\n/m, ''));
    expect(drift(tmp).map((d) => d.file)).toEqual(['broker/README.md', '.env.example']);
  });

  it.each(SERVICES.map((s) => [s.name, s] as const))('declare every variable %s reads', (_, s) => {
    const undeclared = [...readIn(s.dir, s.own)].filter((n) => !(n in s.table) && !NOT_CONFIG.has(n));
    expect(undeclared).toEqual([]);
    expect(envExampleText()).toContain(Object.keys(s.table)[0]);
  });

  it('refuse a bad environment naming every problem, and keep secrets out of the message', () => {
    const t = envTable({
      A_PORT: { type: 'int', default: 1, range: [0, 10], doc: '' },
      A_MODE: { type: 'enum', default: 'x', values: ['x', 'y'], doc: '' },
      A_URL: { type: 'url', default: 'http://h', protocols: ['http:'], doc: '' },
      A_SECRET: { type: 'text', default: '', secret: true, check: (v) => (v.length >= 8 ? undefined : 'at least 8 characters'), doc: '' },
    });
    expect(readEnv(t, {})).toEqual({ A_PORT: 1, A_MODE: 'x', A_URL: 'http://h', A_SECRET: '' });
    expect(Object.isFrozen(readEnv(t, { A_PORT: '10' }))).toBe(true);
    let msg = '';
    try {
      readEnv(t, { A_PORT: '11', A_MODE: 'z', A_URL: 'ftp://h', A_SECRET: 'hunter2' }, 'test env');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('test env refused (4 problems)');
    expect(msg).toContain('A_PORT="11": expected an integer from 0 to 10');
    expect(msg).toContain('A_MODE="z": expected one of x, y');
    expect(msg).toContain('A_URL="ftp://h": expected a URL with scheme http:');
    expect(msg).toContain('A_SECRET=(secret): expected at least 8 characters');
    expect(msg).not.toContain('hunter2');
    const f = join(tmp, 'secret');
    writeFileSync(f, 'long-enough-secret\n');
    expect(readEnv(t, { A_SECRET_FILE: f }).A_SECRET).toBe('long-enough-secret');
    expect(() => readEnv(t, { A_SECRET_FILE: join(tmp, 'missing') })).toThrow(/A_SECRET_FILE=".*missing": expected a readable file holding A_SECRET \(ENOENT\)/);
  });
});
