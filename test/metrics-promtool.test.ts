/**
 * Every service's /metrics is prom-client's exposition and passes `promtool check metrics`
 * (Debian's prometheus package; test.sh installs it): counters typed as counters with _total,
 * a HELP that says something for every metric, histograms for write latency, publish → stored
 * and API request duration, and the default process metrics.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../core/metrics.ts';
import { describeGatewayMetrics } from '../gateway/service.ts';
import { startApiApp, ROLE_KEYS, type ApiApp } from './harness/api-app.ts';
import { deviceTopic } from '../core/contract.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

const promtool = spawnSync('promtool', ['--version']).status === 0;

function lint(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** Names whose HELP is only the name spelled out (the fallback for a metric nobody described). */
function undescribed(text: string): string[] {
  return [...text.matchAll(/^# HELP (\S+) (.*)$/gm)].filter(([, n, h]) => h === n!.replace(/_/g, ' ')).map(([, n]) => n!);
}

let p: TestPlatform;
let api: ApiApp;
const texts: Record<string, string> = {};

beforeAll(async () => {
  p = await new TestPlatform().start(); // with ingest
  const dev = [...p.model.devices.values()].find((d) => [...d.kind.metrics.values()].some((m) => m.type === 'number'))!;
  const metric = [...dev.kind.metrics.entries()].find(([, m]) => m.type === 'number')![0] as string;
  const c = await p.connect(dev.id);
  const now = Date.now();
  for (let i = 0; i < 20; i++) await c.publishAsync(deviceTopic(dev, 'telemetry'), JSON.stringify({ ts: now - 1000 + i, seq: i, metrics: { [metric]: i } }), { qos: 1 });
  await waitFor('readings stored', async () => ((await (await fetch(`http://127.0.0.1:${p.ingestHttp}/stats`)).json()) as Record<string, number>).ingest_points_written_total! >= 20);
  texts.broker = await p.broker.metrics.toPrometheus();
  texts.ingest = await (await fetch(`http://127.0.0.1:${p.ingestHttp}/metrics`)).text();
  api = await startApiApp(p.model, [], 'metrics');
  await api.app.inject({ url: '/api/v1/park', headers: { 'x-api-key': ROLE_KEYS.viewer } });
  await api.app.inject({ url: '/api/v1/park', headers: { 'x-api-key': 'wrong' } });
  texts.api = await api.app.stats.metrics.toPrometheus();
  const gw = describeGatewayMetrics(new Registry({ processMetrics: true }));
  gw.inc('gateway_requests_total', { connection: 'rs485' });
  gw.inc('gateway_request_errors_total', { connection: 'rs485', kind: 'timeout' });
  texts.gateway = await gw.toPrometheus();
}, 60_000);

afterAll(async () => {
  await api?.stop();
  await p?.stop();
});

describe('Prometheus metrics', () => {
  it.runIf(promtool).each(['broker', 'ingest', 'api', 'gateway'])('%s: promtool check metrics is clean', (service) => {
    const r = lint(texts[service]!);
    expect(r.out, service).toBe('');
    expect(r.status, service).toBe(0);
  });

  it.each(['broker', 'ingest', 'api', 'gateway'])('%s: process metrics, counters as counters, every metric described', (service) => {
    const t = texts[service]!;
    expect(t).toMatch(/^process_cpu_seconds_total \d/m);
    expect(t).toMatch(/^nodejs_eventloop_lag_seconds /m);
    for (const [, name, type] of t.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      if (name!.endsWith('_total')) expect(type, name).toBe('counter');
      if (type === 'counter') expect(name, name).toMatch(/_total$/);
    }
    expect(undescribed(t), `${service}: metrics without a HELP of their own`).toEqual([]);
  });

  it('histograms: ingest write duration and publish → stored, API request duration by route', () => {
    expect(texts.ingest).toMatch(/^# TYPE ingest_write_duration_seconds histogram$/m);
    expect(texts.ingest).toMatch(/^ingest_write_duration_seconds_count [1-9]/m);
    expect(texts.ingest).toMatch(/^ingest_publish_to_stored_seconds_count (\d+)$/m);
    expect(Number(/^ingest_publish_to_stored_seconds_count (\d+)$/m.exec(texts.ingest!)![1]!)).toBeGreaterThanOrEqual(20);
    expect(texts.api).toMatch(/^api_request_duration_seconds_count\{method="GET",route="\/api\/v1\/park",status_code="200"\} 1$/m);
    expect(texts.api).toMatch(/^api_requests_total\{method="GET",route="\/api\/v1\/park",status_code="401"\} 1$/m);
    expect(texts.api).toMatch(/^api_refused_total\{code="SP_ERR_API_KEY"\} 1$/m);
  });

  it('exposes label sets declared up front before their first event', async () => {
    const m = new Registry().describe('x_refused_total', 'Refusals by code', [{ code: 'A' }, { code: 'B' }]);
    m.inc('x_refused_total', { code: 'A' });
    const t = await m.toPrometheus();
    expect(t).toContain('x_refused_total{code="A"} 1');
    expect(t).toContain('x_refused_total{code="B"} 0');
    expect(m.toJSON()).toEqual({ 'x_refused_total{code="A"}': 1, 'x_refused_total{code="B"}': 0 });
  });
});
