/** Ingest entry: read config and the park model, start (as a cluster worker when MQTT_JETSTREAM_URL is set), stop on signals. */
import pino from 'pino';
import { loadParkModel } from '../core/model-file.ts';
import { isClusterWorker, workerConfig } from './cluster/config.ts';
import { startIngestWorker } from './cluster/worker.ts';
import { ingestConfig } from './config.ts';
import { startIngest, type IngestEvents } from './service.ts';
import { stopOnSignals } from '../core/shutdown.ts';

const log = pino({ name: 'ingest', level: process.env.LOG_LEVEL ?? 'info' });
const events: IngestEvents = {
  info: (msg, data) => log.info(data ?? {}, msg),
  warn: (msg, data) => log.warn(data ?? {}, msg),
  fatal: (msg, err) => {
    log.fatal({ err: err.message }, msg);
    process.exit(1);
  },
};
let ingest: { httpPort: number; stop(): Promise<void> };
if (isClusterWorker()) {
  const cfg = workerConfig();
  ingest = await startIngestWorker(cfg, loadParkModel(), events);
  log.info({ httpPort: ingest.httpPort, worker: cfg.workerId, partitions: cfg.partitions, nats: cfg.jetstreamUrl }, 'ingest worker running');
} else {
  const cfg = ingestConfig();
  ingest = await startIngest(cfg, loadParkModel(), events);
  log.info({ httpPort: ingest.httpPort, spool: cfg.spoolDir, topics: cfg.topics }, 'ingest running');
}
stopOnSignals('ingest', () => ingest.stop(), log);
