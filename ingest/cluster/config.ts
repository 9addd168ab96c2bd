/**
 * Configuration of an ingest worker in the cluster profile (MQTT_JETSTREAM_URL set): the keys of
 * ingest/config.ts (InfluxDB, spool, batching, alarms, the MQTT account used to publish dead letters
 * and alarm events) plus these. Validated once, frozen.
 */
import { hostname } from 'node:os';
import { envTable, readEnv } from '../../core/env.ts';
import { isId } from '../../core/ids.ts';
import { ingestConfig, type IngestConfig } from '../config.ts';

export const WORKER_ENV = envTable({
  MQTT_JETSTREAM_URL: { type: 'text', default: '', check: (v) => (v.split(',').every((u) => /^nats:\/\/[^\s,]+$/.test(u)) ? undefined : 'comma-separated nats://host:port URLs'), doc: 'cluster profile: the NATS servers. Set: ingest runs as a worker reading the JetStream stream `TELE` (ingest/cluster/) instead of subscribing over MQTT' },
  MQTT_JETSTREAM_PARTITIONS: { type: 'int', default: 16, range: [1, 1024], unit: 'count', doc: 'partitions of `TELE`; the same as the brokers\' (checked against the stream)' },
  INGEST_WORKER_ID: { type: 'text', default: '', check: (v) => (isId(v) ? undefined : 'an id (a-z, 0-9, _ -, at most 48)'), doc: 'this worker\'s name in the lease table; unset = `<hostname>-<pid>`' },
  INGEST_LEASE_TTL_MS: { type: 'int', default: 20_000, range: [1000, 600_000], unit: 'ms', doc: 'a partition whose owner stopped renewing is taken over after this long (renewed every third of it); longer than a NATS leader election (4–9 s in 2.9), so that a NATS failover does not move partitions' },
  INGEST_ACK_WAIT_MS: { type: 'int', default: 30_000, range: [1000, 3_600_000], unit: 'ms', doc: 'JetStream redelivers a message not acknowledged within this (the worker extends it while the write is pending)' },
  INGEST_MAX_ACK_PENDING: { type: 'int', default: 2000, range: [1, 1_000_000], unit: 'messages', doc: 'messages of one partition delivered and not yet acknowledged (in the spool or being written); bounds a worker\'s memory and spool when InfluxDB is slow' },
});

export interface WorkerConfig extends IngestConfig {
  jetstreamUrl: string;
  partitions: number;
  workerId: string;
  leaseTtlMs: number;
  ackWaitMs: number;
  maxAckPending: number;
}

/** True when MQTT_JETSTREAM_URL is set: ingest runs as a cluster worker. */
export function isClusterWorker(env: NodeJS.ProcessEnv = process.env): boolean {
  return readEnv(WORKER_ENV, env, 'ingest worker environment').MQTT_JETSTREAM_URL !== '';
}

export function workerConfig(env: NodeJS.ProcessEnv = process.env): Readonly<WorkerConfig> {
  const base = ingestConfig(env);
  const v = readEnv(WORKER_ENV, env, 'ingest worker environment');
  const fallbackId = `${hostname().toLowerCase().replace(/[^a-z0-9_-]/g, '-')}-${process.pid}`.replace(/^[^a-z0-9]+/, '').slice(-48);
  return Object.freeze({
    ...base,
    jetstreamUrl: v.MQTT_JETSTREAM_URL,
    partitions: v.MQTT_JETSTREAM_PARTITIONS,
    workerId: v.INGEST_WORKER_ID || fallbackId,
    leaseTtlMs: v.INGEST_LEASE_TTL_MS,
    ackWaitMs: v.INGEST_ACK_WAIT_MS,
    maxAckPending: v.INGEST_MAX_ACK_PENDING,
  });
}
