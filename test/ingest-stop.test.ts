/**
 * A service stops on SIGTERM even when the broker it talks to no longer answers: ingest used to wait
 * for the PUBACK of a publish in flight (a dead letter) from a frozen broker, and lived on — orphans
 * of earlier test runs were found still running. Now its MQTT client is closed after 1 s, and any
 * stop is cut at 10 s (core/shutdown.ts); what was acknowledged is on disk either way.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deviceTopic } from '../core/contract.ts';
import { TestPlatform, waitFor } from './harness/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await new TestPlatform({ brokerProcess: true }).start();
}, 60_000);
afterAll(async () => {
  p?.brokerChild?.kill('SIGCONT');
  await p?.stop();
});

it('ingest stops on SIGTERM while a publish of its own waits on a frozen broker', async () => {
  const d = [...p.model.devices.values()][0]!;
  const dev = await p.connect(d.id);
  await dev.publishAsync(deviceTopic(d, 'telemetry'), 'not json', { qos: 1 }); // refused: a dead letter to publish
  await waitFor('ingest refused it', async () => (await p.ingestStat('ingest_messages_refused_total{code="SP_ERR_PAYLOAD_JSON"}')) >= 1, 10_000, 5);
  p.brokerChild!.kill('SIGSTOP'); // the dead letter's PUBLISH (after the writer's flush) is never acknowledged
  await new Promise((r) => setTimeout(r, 500));
  const child = p.ingest!;
  const t0 = Date.now();
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const stopped = await Promise.race([gone.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20_000))]);
  if (!stopped) child.kill('SIGKILL');
  expect(stopped, 'ingest still running 20 s after SIGTERM').toBe(true);
  expect(Date.now() - t0).toBeLessThan(16_000); // the 10 s deadline, plus a loaded machine's exit
  p.ingest = undefined;
}, 45_000);
