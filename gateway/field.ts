/** Builds the field side of one gateway: per connection a socket, its protocol client, a line and its poll jobs. */
import type { ConnectionConfig, GatewaySpec } from '../core/fieldbus/config.ts';
import type { Registry } from '../core/metrics.ts';
import { Dlt645Client } from './dlt645-client.ts';
import { FieldSocket } from './field-socket.ts';
import { Line, type LineEvents } from './line.ts';
import { ModbusClient } from './modbus-client.ts';
import { dlt645Jobs, modbusJobs } from './pollers.ts';

export interface FieldConnection { config: ConnectionConfig; socket: FieldSocket; line: Line }

export function buildField(spec: GatewaySpec, metrics: Registry, events: LineEvents): FieldConnection[] {
  return spec.connections.map((conn) => {
    const socket = new FieldSocket({
      host: conn.host, port: conn.port, backoff: conn.backoff, connectTimeoutMs: Math.max(1000, conn.timeoutMs * 3),
    });
    let settle: (ms: number) => Promise<void>;
    const jobs = [];
    if (conn.protocol === 'dlt645-tcp') {
      const client = new Dlt645Client(socket);
      settle = (ms) => client.settle(ms);
      for (const b of conn.devices) if (b.protocol === 'dlt645') jobs.push(...dlt645Jobs(conn, b, client));
    } else {
      const client = new ModbusClient(socket, conn.protocol === 'modbus-tcp' ? 'tcp' : 'rtu');
      settle = (ms) => client.settle(ms);
      for (const b of conn.devices) if (b.protocol === 'modbus') jobs.push(...modbusJobs(conn, b, client));
    }
    const line = new Line({
      id: conn.id, socket, settle, timeoutMs: conn.timeoutMs, retries: conn.retries,
      interRequestDelayMs: conn.interRequestDelayMs, backoff: conn.backoff, metrics, events,
    });
    for (const j of jobs) line.add(j);
    socket.on('up', () => metrics.inc('gateway_connects_total', { connection: conn.id }));
    socket.on('down', (reason) => metrics.inc('gateway_connection_failures_total', { connection: conn.id, reason }));
    return { config: conn, socket, line };
  });
}
