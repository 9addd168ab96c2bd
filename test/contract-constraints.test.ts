/**
 * What a vendor reads is what ingest enforces: /api/v1/kinds shows each metric's value schema
 * (core/contract.ts metricConstraints), and every bound in it is the one checkMetric applies —
 * a value at the bound accepted, one past it refused. docs/contract.md's numbers are the
 * code's and the model's.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMetric, DEFAULT_LIMITS, metricConstraints, STATUS_INFO_MAX_LENGTH } from '../core/contract.ts';
import { loadParkModel } from '../core/model-file.ts';
import { TEXT_MAX_LENGTH_DEFAULT, type MetricDef } from '../core/model.ts';
import { ROLE_KEYS, startApiApp, type ApiApp } from './harness/api-app.ts';

const model = loadParkModel();
const metrics = [...model.kinds.values()].flatMap((k) => [...k.metrics.values()].map((m) => ({ kind: k.id, m })));
let api: ApiApp;
beforeAll(async () => { api = await startApiApp(model, [], 'constraints'); });
afterAll(async () => { await api?.stop(); });

/** Values just inside and just outside every bound the schema states. */
function probes(m: MetricDef, s: Record<string, unknown>): { ok: unknown[]; bad: unknown[] } {
  switch (s.type) {
    case 'number': return s.minimum === 0 ? { ok: [0, 1.5, 1e12], bad: [-0.001, '1', null] } : { ok: [-1e9, 0, 3.25], bad: ['1', true] };
    case 'integer': return { ok: [s.minimum, 0, s.maximum], bad: [1.5, (s.maximum as number) + 2, '3'] };
    case 'boolean': return { ok: [true, false], bad: [0, 'true'] };
    default: break;
  }
  if (s.enum) return { ok: s.enum as string[], bad: ['not-a-value', 1] };
  const n = s.maxLength as number;
  return { ok: ['', 'x'.repeat(n)], bad: ['x'.repeat(n + 1), 'a\u0000b', 7] };
  void m;
}

describe('metric constraints', () => {
  it('/api/v1/kinds shows every metric with the value schema ingest enforces', async () => {
    const r = await api.app.inject({ url: '/api/v1/kinds', headers: { 'x-api-key': ROLE_KEYS.viewer } });
    expect(r.statusCode).toBe(200);
    const kinds = r.json().kinds as { id: string; metrics: { name: string; value: unknown; maxLength?: number }[] }[];
    for (const { kind, m } of metrics) {
      const shown = kinds.find((k) => k.id === kind)!.metrics.find((x) => x.name === m.name)!;
      expect(shown.value, `${kind}.${m.name}`).toEqual(metricConstraints(m));
      if (m.type === 'text') expect(shown.maxLength).toBe(m.maxLength);
    }
    const batch = kinds.find((k) => k.id === 'bioreactor')!.metrics.find((x) => x.name === 'batch_id')!;
    expect(batch).toMatchObject({ maxLength: 64, value: { type: 'string', maxLength: 64 } });
  });

  it('accepts every value at a stated bound and refuses every value past it', () => {
    let n = 0;
    for (const { kind, m } of metrics) {
      const { ok, bad } = probes(m, metricConstraints(m));
      for (const v of ok) expect(checkMetric(m, v), `${kind}.${m.name} = ${String(v).slice(0, 20)}`).toBeUndefined();
      for (const v of bad) expect(checkMetric(m, v)?.ok, `${kind}.${m.name} = ${String(v).slice(0, 20)}`).toBe(false);
      n++;
    }
    expect(n).toBeGreaterThan(100);
  });

  it("docs/contract.md's figures are the code's and the model's", () => {
    const doc = readFileSync('docs/contract.md', 'utf8');
    expect(doc).toContain(`at most ${DEFAULT_LIMITS.maxPayloadBytes / 1024} KiB`);
    expect(doc).toContain(`1–${DEFAULT_LIMITS.maxBatch} readings`);
    expect(doc).toContain(`At most ${DEFAULT_LIMITS.maxFutureMs / 60_000} minutes ahead`);
    expect(doc).toContain(`at most ${DEFAULT_LIMITS.maxPastMs / 86_400_000} days old`);
    expect(doc).toContain(`(default ${TEXT_MAX_LENGTH_DEFAULT})`);
    expect(doc).toContain(`(text, ≤ ${STATUS_INFO_MAX_LENGTH} characters)`);
    // the table of text metrics with their own length: exactly those of the model
    const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| `([a-z_]+)` \| (\d+) \|$/gm)].map((x) => `${x[1]}.${x[2]}=${x[3]}`).sort();
    const declared = metrics.filter(({ m }) => m.type === 'text' && m.maxLength !== TEXT_MAX_LENGTH_DEFAULT)
      .map(({ kind, m }) => `${kind}.${m.name}=${m.maxLength}`).sort();
    expect(declared.length).toBeGreaterThan(0);
    expect(rows).toEqual(declared);
  });
});
