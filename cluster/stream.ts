/**
 * Creates (or checks and adjusts) the TELE stream the brokers write and the ingest workers read:
 * subjects tele.>, file storage, R3 by default, work-queue retention (a message leaves the stream
 * once its partition's worker acknowledged it — after InfluxDB confirmed the write), discard:new at
 * max_bytes (at the limit a publish fails: the broker then withholds the PUBACK), and the duplicate
 * window within which a Nats-Msg-Id is stored once.
 */
import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo } from 'nats';
import { PlatformError } from '../core/errors.ts';
import { partitionsOfDescription, streamDescription, TELE_ROOT, TELE_STREAM } from './subjects.ts';

export interface TeleStreamOptions {
  partitions: number;
  replicas: number;
  maxBytes: number;
  dedupWindowMs: number;
}

function mismatch(info: StreamInfo, o: TeleStreamOptions): string | undefined {
  const parts = partitionsOfDescription(info.config.description);
  if (parts !== o.partitions) return `it was created for ${parts ?? 'an unknown number of'} partitions, this process is configured for ${o.partitions} (MQTT_JETSTREAM_PARTITIONS must be the same everywhere)`;
  if (info.config.retention !== RetentionPolicy.Workqueue) return `its retention is ${info.config.retention}, expected workqueue`;
  return undefined;
}

/** Ensures the stream; throws SP_ERR_NATS_STREAM when one of that name exists with an incompatible layout. */
export async function ensureTeleStream(jsm: JetStreamManager, o: TeleStreamOptions): Promise<StreamInfo> {
  const want = {
    name: TELE_STREAM, subjects: [`${TELE_ROOT}.>`], description: streamDescription(o.partitions),
    storage: StorageType.File, num_replicas: o.replicas, retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.New, max_bytes: o.maxBytes, duplicate_window: nanos(o.dedupWindowMs),
  };
  let info = await jsm.streams.info(TELE_STREAM).catch((e: Error) => {
    if (/stream not found/i.test(e.message)) return undefined;
    throw e;
  });
  if (!info) {
    info = await jsm.streams.add(want).catch(async (e: Error) => {
      if (!/already in use/i.test(e.message)) throw e;
      return jsm.streams.info(TELE_STREAM); // another broker created it first
    });
  }
  const bad = mismatch(info, o);
  if (bad) throw new PlatformError('SP_ERR_NATS_STREAM', `JetStream stream ${TELE_STREAM} cannot be used: ${bad}; remove it (nats stream rm ${TELE_STREAM}) or fix the configuration`);
  if (info.config.max_bytes !== o.maxBytes || info.config.duplicate_window !== want.duplicate_window) {
    info = await jsm.streams.update(TELE_STREAM, { max_bytes: o.maxBytes, duplicate_window: want.duplicate_window });
  }
  return info;
}
