/** Counters and health over HTTP: /metrics (Prometheus), /stats (JSON), /health. */
import { createServer } from 'node:http';
import { serveMetrics, type Registry } from '../../core/metrics.ts';
import { closeServer, listen, type Listener } from './listener.ts';

export async function listenHttp(metrics: Registry, connectedClients: () => number, port: number, host: string): Promise<Listener> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      serveMetrics(metrics, res);
    } else if (req.url === '/stats') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(metrics.toJSON()));
    } else if (req.url === '/health') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'ok', clients: connectedClients() }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  return { port: await listen(server, port, host), close: () => closeServer(server) };
}
