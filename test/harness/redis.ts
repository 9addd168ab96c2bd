/**
 * Starts Debian's `redis-server` as a child process on a free loopback port with its data in a
 * given folder (modelled on scripts/influxd.ts), for tests and benchmarks of the durable broker
 * profile. Durable by default: append-only file on, fsync'ed before every reply
 * (`appendfsync always`), no RDB snapshots.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../scripts/influxd.ts';

export interface RunningRedis {
  /** redis://127.0.0.1:PORT/0 */
  url: string;
  port: number;
  dataDir: string;
  process: ChildProcess;
  /** SIGTERM (Redis flushes and exits), then SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** One command over a fresh connection, reply as text (e.g. `command('DBSIZE')` → ':42'). */
  command(...args: string[]): Promise<string>;
  /** One command, reply decoded: status/bulk → string, integer → number, nil → null, array → array. */
  query(...args: string[]): Promise<RespValue>;
}

export type RespValue = string | number | null | RespValue[];

/** Decodes one RESP reply at `pos`; undefined while incomplete. */
function decodeResp(buf: Buffer, pos = 0): { value: RespValue; end: number } | undefined {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', pos + 1, eol);
  switch (String.fromCharCode(buf[pos]!)) {
    case '+': return { value: line, end: eol + 2 };
    case '-': throw new Error(`redis: ${line}`);
    case ':': return { value: Number(line), end: eol + 2 };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + n + 2) return undefined;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + n), end: eol + 2 + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: RespValue[] = [];
      let at = eol + 2;
      for (let i = 0; i < n; i++) {
        const r = decodeResp(buf, at);
        if (!r) return undefined;
        items.push(r.value);
        at = r.end;
      }
      return { value: items, end: at };
    }
    default: throw new Error(`redis: unexpected reply ${line.slice(0, 40)}`);
  }
}

function redisQuery(port: number, args: string[], timeoutMs = 2000): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`redis on ${port}: no answer to ${args[0]}`)); }, timeoutMs);
    sock.on('error', (e) => { clearTimeout(t); reject(e); });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      try {
        const r = decodeResp(buf);
        if (!r) return;
        clearTimeout(t);
        sock.destroy();
        resolve(r.value);
      } catch (e) {
        clearTimeout(t);
        sock.destroy();
        reject(e);
      }
    });
    sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

export interface RedisOptions {
  dataDir: string;
  /** TCP port; a free one when omitted. */
  port?: number;
  binary?: string;
  /** `always` (default: fsync before each reply), `everysec` or `no`. */
  appendfsync?: 'always' | 'everysec' | 'no';
  startTimeoutMs?: number;
}

/** Sends one command in RESP and resolves with the first reply line (no bulk decoding beyond that). */
function redisCommand(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`redis on ${port}: no answer to ${args[0]}`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', (e) => { clearTimeout(t); reject(e); });
    sock.on('data', (d: string) => {
      buf += d;
      const end = buf.indexOf('\r\n');
      if (end < 0) return;
      clearTimeout(t);
      sock.destroy();
      if (buf.startsWith('$') && buf.slice(1, end) !== '-1') {
        // bulk string: return its content (read the rest if needed)
        const len = Number(buf.slice(1, end));
        const rest = buf.slice(end + 2);
        resolve(rest.slice(0, len));
      } else resolve(buf.slice(0, end));
    });
    sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

export async function startRedis(opts: RedisOptions): Promise<RunningRedis> {
  const port = opts.port ?? (await freePort());
  mkdirSync(opts.dataDir, { recursive: true });
  const log = openSync(join(opts.dataDir, 'redis.log'), 'a');
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--daemonize', 'no',
    '--dir', opts.dataDir, '--save', '', '--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'always',
    '--logfile', '',
  ];
  const proc = spawn(opts.binary ?? 'redis-server', args, { stdio: ['ignore', log, log] });
  let exited = false;
  // a script that ends (or calls process.exit) without stop() must not leave redis-server behind
  const reap = () => { if (!exited) proc.kill('SIGKILL'); };
  process.once('exit', reap);
  proc.once('exit', () => { exited = true; process.removeListener('exit', reap); });
  proc.once('error', () => { exited = true; });
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  for (;;) {
    if (exited) throw new Error(`redis-server exited at start-up; see ${join(opts.dataDir, 'redis.log')}`);
    try {
      // while loading the AOF Redis answers -LOADING: wait for +PONG
      if ((await redisCommand(port, ['PING'], 500)) === '+PONG') break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on 127.0.0.1:${port} within ${opts.startTimeoutMs ?? 15_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}/0`, port, dataDir: opts.dataDir, process: proc,
    command: (...a: string[]) => redisCommand(port, a),
    query: (...a: string[]) => redisQuery(port, a),
    stop: () => new Promise<void>((resolve) => {
      if (exited) return resolve();
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      proc.once('exit', () => { clearTimeout(t); resolve(); });
      proc.kill('SIGTERM');
    }),
  };
}
