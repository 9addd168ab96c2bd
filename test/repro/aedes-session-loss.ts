/**
 * Reproduces QoS 1 loss in aedes 1.2.0: a persistent-session (clean=false) subscriber is killed and
 * restarted with the same client id while publishers keep sending. See docs/aedes-patches.md.
 *
 *   node --import tsx test/repro/aedes-session-loss.ts [options]
 *
 *   --fix             give the broker our outgoing session queue (broker/aedes/outgoing-persistence.ts)
 *   --inproc          in-process subscriber, dropped with stream.destroy() (no DISCONNECT; fast).
 *                     Default: a child-process subscriber killed with SIGKILL, then respawned
 *   --trials N        (5)        --pubs N (20)       --messages N  total messages (50000)
 *   --window N        in-flight publishes per publisher (20)
 *   --rate N          overall publish rate in msg/s, 0 = unthrottled (child: 10000, inproc: 0)
 *   --kills N         subscriber kills per trial (child: 1, inproc: 6)
 *   --kill-at F       kill k happens once F*k of the messages are published (child: 0.4);
 *                     0 = spread evenly
 *   --kill-every-ms N instead: kill every N ms while publishers are still running
 *   --min-recv N      after a restart, wait for N more messages before the next kill (200)
 *   --down-ms N       pause between kill and restart (200)
 *   --stall-ms N      before each kill the subscriber stops reading its socket for N ms, like a
 *                     busy process (0)
 *   --timeout-s N     hard limit per trial (120)
 *
 * Examples:
 *   original scenario (20 publishers, 50k msgs, kill -9 at ~20k, restart with the same id):
 *     node --import tsx test/repro/aedes-session-loss.ts --trials 10 [--fix]
 *   fast, high-probability variant (what test/aedes-session-replay.test.ts does):
 *     node --import tsx test/repro/aedes-session-loss.ts --inproc --trials 5 --pubs 10 --window 100 \
 *       --kill-every-ms 150 --kills 100 --stall-ms 100 --down-ms 0 [--fix]
 *
 * Prints per trial: published, unique received, lost, duplicates, kills, "no such packet" errors.
 * Everything binds to 127.0.0.1; each trial is bounded by --timeout-s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { openPersistence } from '../../broker/persistence.ts';

const SUB_ID = 'repro-persistent-sub';
const TOPIC = 'repro/load';
const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const num = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : NaN;
  return Number.isFinite(v) ? v : def;
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/* ---------------- child subscriber ---------------- */
// Records every message id synchronously BEFORE mqtt.js sends the PUBACK ('message' is emitted
// first), so whatever the broker considers delivered is on disk even after SIGKILL.
function runChildSubscriber(port: number, recordFile: string): void {
  let count = 0;
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: SUB_ID, clean: false, reconnectPeriod: 200, keepalive: 30, resubscribe: false,
  });
  c.on('connect', (connack) => {
    const ready = () => process.send?.({ type: 'ready' });
    if (connack.sessionPresent) ready();
    else c.subscribe(TOPIC, { qos: 1 }, ready);
  });
  c.on('message', (_t, payload) => {
    appendFileSync(recordFile, payload.toString() + '\n');
    if (++count % 200 === 0) process.send?.({ type: 'count', count });
  });
  c.on('error', () => {});
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stall') stallStream(c);
  });
}

/** Stop reading the socket (unread data piles up in the kernel buffers, as in a busy process). */
function stallStream(c: MqttClient): void {
  const s = c.stream as net.Socket | undefined;
  s?.unpipe();
  s?.pause();
}

/* ---------------- subscriber handles used by the parent ---------------- */
interface Subscriber {
  /** resolves when connected and subscribed (or session restored) */
  ready: Promise<void>;
  stall(): void;
  kill(): void;
  stop(): void;
}

function startInprocSubscriber(url: string, received: string[]): Subscriber {
  const c: MqttClient = mqtt.connect(url, {
    clientId: SUB_ID, clean: false, reconnectPeriod: 200, keepalive: 30, resubscribe: false,
  });
  const ready = new Promise<void>((resolve) => {
    c.on('connect', (connack) => {
      if (connack.sessionPresent) resolve();
      else c.subscribe(TOPIC, { qos: 1 }, () => resolve());
    });
  });
  c.on('message', (_t, payload) => { received.push(payload.toString()); });
  c.on('error', () => {});
  return {
    ready,
    stall: () => stallStream(c),
    // abrupt: the socket goes away without DISCONNECT, like kill -9; this client instance is dead
    kill: () => { c.stream?.destroy(); c.end(true); },
    stop: () => { c.end(true); },
  };
}

function startChildSubscriber(port: number, recordFile: string, onCount: (n: number) => void): Subscriber {
  const self = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', self, '--child-subscriber', String(port), recordFile], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type?: string; count?: number }) => {
      if (m.type === 'ready') resolve();
      if (m.type === 'count' && m.count) onCount(m.count);
    });
    child.on('exit', () => reject(new Error('subscriber exited before ready')));
  });
  ready.catch(() => {});
  return {
    ready,
    stall: () => child.send?.({ type: 'stall' }),
    kill: () => child.kill('SIGKILL'),
    stop: () => child.kill('SIGKILL'),
  };
}

/* ---------------- one trial ---------------- */
export interface TrialResult {
  published: number; unique: number; lost: number; duplicates: number;
  kills: number; noSuchPacket: number; ms: number; lostSample: string[];
}

export async function runTrial(o: {
  fix: boolean; inproc: boolean; pubs: number; messages: number; window: number;
  kills: number; downMs: number; stallMs: number; timeoutS: number; killEveryMs: number; minRecv: number; rate: number; killAt: number;
}): Promise<TrialResult> {
  const t0 = Date.now();
  const deadline = t0 + o.timeoutS * 1000;
  // memory profile, with our queue (--fix) or aedes-persistence's own
  const { persistence } = await openPersistence('', { sessionFix: o.fix });
  const broker = await Aedes.createBroker({ heartbeatInterval: 60_000, persistence: persistence as never });
  let noSuchPacket = 0;
  broker.on('clientError', (_c, err) => { if (/no such packet/.test(err.message)) noSuchPacket++; });
  const server = net.createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const url = `mqtt://127.0.0.1:${port}`;

  const dir = mkdtempSync(join(tmpdir(), 'aedes-repro-'));
  const recordFile = join(dir, 'received.txt');
  const inprocReceived: string[] = [];
  let childCount = 0; // per child incarnation, approximate (progress only)
  const receivedCount = () => (o.inproc ? inprocReceived.length : childCount);
  const startSub = () => o.inproc
    ? startInprocSubscriber(url, inprocReceived)
    : startChildSubscriber(port, recordFile, (n) => { childCount = n; });

  let sub = startSub();
  await sub.ready;

  const published: string[] = [];
  const publishers = await Promise.all(Array.from({ length: o.pubs }, (_, i) =>
    mqtt.connectAsync(url, { clientId: `repro-pub-${i}`, reconnectPeriod: 200 })));
  const perPub = Math.ceil(o.messages / o.pubs);
  // optional global pacing (messages/s over all publishers), so publishing spans the restart
  let nextSlot = Date.now();
  const pace = async () => {
    if (o.rate <= 0) return;
    nextSlot = Math.max(nextSlot + 1000 / o.rate, Date.now() - 50);
    const wait = nextSlot - Date.now();
    if (wait >= 1) await sleep(wait);
  };
  let pubsFinished = false;
  const pubDone = Promise.all(publishers.map(async (p, i) => {
    let seq = 0;
    const lane = async () => {
      while (seq < perPub && Date.now() < deadline) {
        await pace();
        if (seq >= perPub) break;
        const id = `${i}:${seq++}`;
        try { await p.publishAsync(TOPIC, id, { qos: 1 }); published.push(id); } catch { /* not acked = not published */ }
      }
    };
    await Promise.all(Array.from({ length: o.window }, lane));
  })).then(() => { pubsFinished = true; });

  let kills = 0;
  const killer = (async () => {
    for (let k = 0; k < o.kills; k++) {
      if (o.killEveryMs > 0) {
        await sleep(o.killEveryMs);
        if (pubsFinished) break;
      } else {
        const target = o.killAt > 0 ? o.messages * o.killAt * (k + 1) : (o.messages * (k + 1)) / (o.kills + 1);
        while (published.length < target && Date.now() < deadline) await sleep(2);
      }
      if (o.stallMs > 0) { sub.stall(); await sleep(o.stallMs); }
      if (process.env.REPRO_DEBUG) {
        const q = await (broker as unknown as { persistence: { outgoingStream(c: object): { toArray(): Promise<{ messageId?: number }[]> } } })
          .persistence.outgoingStream({ id: SUB_ID, connected: true }).toArray();
        console.log(`  kill ${k}: published=${published.length} received=${receivedCount()} queued=${q.length} inflight=${q.filter((x) => x.messageId !== undefined).length}`);
      }
      sub.kill(); kills++;
      await sleep(o.downMs);
      childCount = 0;
      sub = startSub();
      await Promise.race([sub.ready, sleep(Math.max(0, deadline - Date.now()))]);
      // let the replay and live traffic run a little before the next kill
      const base = receivedCount();
      while (receivedCount() < base + o.minRecv && !pubsFinished && Date.now() < deadline) await sleep(2);
    }
  })();

  await Promise.all([pubDone, killer]);
  const readReceived = () => (o.inproc ? inprocReceived : readFileSync(recordFile, 'utf8').split('\n').filter(Boolean));
  // drain: until every published id has arrived, or 3 s without progress, or the deadline
  let last = -1; let idleSince = Date.now();
  for (;;) {
    const got = new Set(readReceived());
    if (published.every((id) => got.has(id))) break;
    if (got.size !== last) { last = got.size; idleSince = Date.now(); }
    if (Date.now() - idleSince > 3000 || Date.now() > deadline) break;
    await sleep(100);
  }
  const received = readReceived();
  const unique = new Set(received);
  const lost = published.filter((id) => !unique.has(id));

  sub.stop();
  for (const p of publishers) p.end(true);
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
  return {
    published: published.length, unique: unique.size, lost: lost.length,
    duplicates: received.length - unique.size, kills, noSuchPacket, ms: Date.now() - t0, lostSample: lost.slice(0, 5),
  };
}

async function main(): Promise<void> {
  const inproc = flag('inproc');
  const opts = {
    fix: flag('fix'), inproc,
    pubs: num('pubs', 20), messages: num('messages', 50_000), window: num('window', 20),
    kills: num('kills', inproc ? 6 : 1), downMs: num('down-ms', 200), stallMs: num('stall-ms', 0),
    timeoutS: num('timeout-s', 120), killEveryMs: num('kill-every-ms', 0), minRecv: num('min-recv', 200),
    rate: num('rate', inproc ? 0 : 10_000), killAt: num('kill-at', inproc ? 0 : 0.4),
  };
  const trials = num('trials', 5);
  console.log(`aedes session-loss repro: ${JSON.stringify(opts)} trials=${trials}`);
  let failed = 0; let totalLost = 0;
  for (let t = 1; t <= trials; t++) {
    const r = await runTrial(opts);
    if (r.lost > 0) failed++;
    totalLost += r.lost;
    console.log(`trial ${t}: published=${r.published} unique=${r.unique} lost=${r.lost} dup=${r.duplicates} ` +
      `kills=${r.kills} noSuchPacket=${r.noSuchPacket} ${r.ms}ms${r.lost ? ' e.g. ' + r.lostSample.join(',') : ''}`);
  }
  console.log(`summary: fix=${opts.fix} trials with loss ${failed}/${trials}, messages lost ${totalLost}`);
}

if (argv[0] === '--child-subscriber') {
  runChildSubscriber(Number(argv[1]), String(argv[2]));
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const hard = setTimeout(() => { console.error('global timeout'); process.exit(2); }, 30 * 60_000);
  hard.unref();
  main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
}
