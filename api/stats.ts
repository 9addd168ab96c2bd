/** Throughput counters of the API (served by GET /api/v1/stats), counted rather than logged. */
import type { ApiErrorCode } from './errors.ts';

export class ApiStats {
  readonly startedAt = Date.now();
  requests = 0;
  readonly byStatus: Record<string, number> = {};
  readonly refused: Partial<Record<ApiErrorCode, number>> = {};
  liveClients = 0;
  liveConnections = 0;
  liveSent = 0;
  /** Messages not sent to a slow live client (its socket buffer was over the limit). */
  liveDropped = 0;

  response(status: number): void {
    this.requests++;
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
  }

  refusal(code: ApiErrorCode): void {
    this.refused[code] = (this.refused[code] ?? 0) + 1;
  }
}
