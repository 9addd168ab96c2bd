/**
 * Fault injection for tests, with real servers on both sides (nothing here imitates them):
 *
 *  - FaultProxy: an HTTP server in front of the real influxd. Each `/write` request takes the
 *    next fault of a schedule: pass, delay then pass, answer 5xx without forwarding, forward
 *    (the points ARE stored) and then answer 5xx, drop the connection before or after
 *    forwarding, or forward with a bad line appended (influxd itself answers 400 partial write
 *    and stores the good lines). Other paths (/query, /ping) pass through.
 *  - TcpLink: a TCP relay between a client and a server that can be cut (sockets destroyed,
 *    new connections reset) and restored, to take a device offline without touching it.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';

export type Fault =
  | { kind: 'pass' }
  /** Wait, then forward. */
  | { kind: 'delay'; ms: number }
  /** Answer this status without forwarding: nothing is stored. */
  | { kind: 'status'; status: number; error?: string }
  /** Forward (the points are stored), then answer this status instead of influxd's. */
  | { kind: 'status-after'; status: number; error?: string }
  /** Destroy the connection without forwarding or answering. */
  | { kind: 'drop' }
  /** Forward (the points are stored), then destroy the connection without answering. */
  | { kind: 'drop-after' }
  /** Forward with one unparsable line appended: influxd answers 400 (partial write) and stores the rest. */
  | { kind: 'bad-line' };

export type FaultKind = Fault['kind'];

export interface FaultProxyOptions {
  /** Base URL of the real InfluxDB. */
  target: string;
  /** The fault for the n-th /write request (0-based); default: pass. */
  schedule?: (n: number) => Fault;
}

export class FaultProxy {
  private server: Server | undefined;
  private writes = 0;
  /** How many /write requests met each fault. */
  readonly applied: Record<FaultKind, number> = { pass: 0, delay: 0, status: 0, 'status-after': 0, drop: 0, 'drop-after': 0, 'bad-line': 0 };
  /** Replace to change the schedule while running. */
  schedule: (n: number) => Fault;
  url = '';

  constructor(private readonly opts: FaultProxyOptions) {
    this.schedule = opts.schedule ?? (() => ({ kind: 'pass' }));
  }

  /** Number of /write requests seen. */
  get writeRequests(): number {
    return this.writes;
  }

  async start(port = 0): Promise<string> {
    this.server = createHttpServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private async forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Headers; text: string }> {
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'authorization']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
    const r = await fetch(`${this.opts.target}${req.url}`, {
      method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : new Uint8Array(body),
    });
    return { status: r.status, headers: r.headers, text: await r.text() };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    const isWrite = req.url?.startsWith('/write') ?? false;
    const fault: Fault = isWrite ? this.schedule(this.writes++) : { kind: 'pass' };
    if (isWrite) this.applied[fault.kind]++;
    const answer = (status: number, text: string, type = 'application/json') => {
      res.statusCode = status;
      if (text) res.setHeader('content-type', type);
      res.end(text);
    };
    switch (fault.kind) {
      case 'drop':
        res.socket?.destroy();
        return;
      case 'status':
        return answer(fault.status, JSON.stringify({ error: fault.error ?? `injected ${fault.status}` }));
      case 'delay':
        await new Promise((r) => setTimeout(r, fault.ms));
        break;
      case 'bad-line':
        body = Buffer.concat([body, Buffer.from('this is not line protocol\n')]);
        break;
      default:
    }
    const up = await this.forward(req, body);
    if (fault.kind === 'drop-after') {
      res.socket?.destroy();
      return;
    }
    if (fault.kind === 'status-after') return answer(fault.status, JSON.stringify({ error: fault.error ?? `injected ${fault.status}` }));
    answer(up.status, up.text, up.headers.get('content-type') ?? 'application/json');
  }
}

/** A TCP relay that can be cut and restored. */
export class TcpLink {
  private server: NetServer | undefined;
  private readonly sockets = new Set<Socket>();
  private up = true;
  port = 0;
  /** Connections accepted and relayed while up. */
  connections = 0;

  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  async start(): Promise<number> {
    this.server = createNetServer((client) => {
      client.on('error', () => {});
      if (!this.up) {
        client.resetAndDestroy();
        return;
      }
      this.connections++;
      const server = netConnect(this.targetPort, this.targetHost);
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
      this.sockets.add(client).add(server);
      client.once('close', () => this.sockets.delete(client));
      server.once('close', () => this.sockets.delete(server));
      client.pipe(server).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  /** Cuts every relayed connection (as a network failure would) and resets new ones until restore(). */
  cut(): void {
    this.up = false;
    for (const s of this.sockets) s.resetAndDestroy();
  }

  restore(): void {
    this.up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
