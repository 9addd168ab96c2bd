/**
 * /health (503 while not healthy), /stats (JSON) and /metrics (Prometheus text, prom-client) of a
 * service: ingest, its cluster worker, the Sparkplug host, the gateway. Port -1: none.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveMetrics, type Registry } from './metrics.ts';

export interface StatsServer { port: number; close(): Promise<void> }

export async function startStatsServer(
  port: number, host: string, metrics: Registry, stats: () => Record<string, unknown>, healthy: () => { ok: boolean; status: string },
): Promise<StatsServer | undefined> {
  if (port < 0) return undefined;
  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics') {
      return serveMetrics(metrics, res);
    }
    if (req.url === '/stats' || req.url === '/health') {
      res.setHeader('content-type', 'application/json');
      const h = healthy();
      res.statusCode = req.url === '/health' && !h.ok ? 503 : 200;
      return res.end(JSON.stringify(req.url === '/health' ? { status: h.status } : stats()));
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
