/**
 * Throughput counters of the API, counted rather than logged: JSON at GET /api/v1/stats (admin),
 * Prometheus text on the metrics port (API_METRICS_PORT, like the other services' /metrics).
 */
import { Registry, type Distribution } from '../core/metrics.ts';
import type { ApiErrorCode } from './errors.ts';

export class ApiStats {
  readonly metrics = new Registry({ processMetrics: true })
    .describe('api_requests_total', 'HTTP requests answered, by method, route (the pattern, not the URL) and status code')
    .describe('api_refused_total', 'Requests refused, by error code');
  private readonly duration: Distribution = this.metrics.histogram('api_request_duration_seconds',
    'Time from request received to response sent, by method, route and status code',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], ['method', 'route', 'status_code']);
  constructor() {
    this.metrics.describe('api_live_clients', 'WebSocket clients of the live feed connected now');
    this.metrics.gauge('api_live_clients', () => this.liveClients);
    this.metrics.describe('api_live_messages_sent_total', 'Messages sent to live-feed clients');
    this.metrics.gauge('api_live_messages_sent_total', () => this.liveSent, 'counter');
    this.metrics.describe('api_live_messages_dropped_total', 'Messages not sent to a slow live client (its socket buffer was over API_WS_MAX_BUFFERED_BYTES)');
    this.metrics.gauge('api_live_messages_dropped_total', () => this.liveDropped, 'counter');
  }

  readonly startedAt = Date.now();
  requests = 0;
  readonly byStatus: Record<string, number> = {};
  readonly refused: Partial<Record<ApiErrorCode, number>> = {};
  liveClients = 0;
  liveConnections = 0;
  liveSent = 0;
  /** Messages not sent to a slow live client (its socket buffer was over the limit). */
  liveDropped = 0;

  response(status: number, method = '', route = '', seconds?: number): void {
    this.requests++;
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    if (seconds !== undefined) {
      const labels = { method, route: route || 'unmatched', status_code: String(status) };
      this.metrics.inc('api_requests_total', labels);
      this.duration.observe(seconds, labels);
    }
  }

  refusal(code: ApiErrorCode): void {
    this.refused[code] = (this.refused[code] ?? 0) + 1;
    this.metrics.inc('api_refused_total', { code });
  }
}
