/**
 * Stopping a service when what it talks to is gone. A clean stop waits for the broker (the
 * DISCONNECT, the last PUBACKs); a broker that is down must not keep the process alive: every
 * entry stops within a deadline whatever its dependencies do. Exiting then is as safe as a kill -9,
 * which the durability tests prove: what was acknowledged is on disk.
 */
import type { MqttClient } from 'mqtt';

/** Ends an MQTT client cleanly if the broker answers within graceMs, else closes the socket. */
export async function endClient(client: MqttClient, graceMs = 1000): Promise<void> {
  const ended = client.endAsync(false).then(() => true, () => true);
  const timer = new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref());
  if (!(await Promise.race([ended, timer]))) await client.endAsync(true).catch(() => undefined);
}

/** A promise that gives up after ms (resolving undefined) instead of waiting for a broker that is gone. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

interface Log { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }

/**
 * SIGINT/SIGTERM: runs `stop`, then exits 0. A second signal exits at once; a stop that has not
 * finished after deadlineMs exits 1 with a line saying so.
 */
export function stopOnSignals(name: string, stop: () => Promise<void>, log: Log, deadlineMs = 10_000): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, `${name}: second signal, leaving now`);
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    setTimeout(() => {
      log.warn({ deadlineMs }, `${name} did not stop within the deadline (broker or InfluxDB gone?); leaving: what was acknowledged is on disk`);
      process.exit(1);
    }, deadlineMs).unref();
    stop().then(() => process.exit(0), (err: Error) => {
      log.warn({ err: err.message }, `${name}: stopping failed`);
      process.exit(1);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
