/** Ingest entry: read config and the park model, start, stop on signals. */
import pino from 'pino';
import { loadParkModel } from '../core/model-file.ts';
import { ingestConfig } from './config.ts';
import { startIngest } from './service.ts';

const log = pino({ name: 'ingest', level: process.env.LOG_LEVEL ?? 'info' });
const cfg = ingestConfig();
const ingest = await startIngest(cfg, loadParkModel(), {
  info: (msg, data) => log.info(data ?? {}, msg),
  warn: (msg, data) => log.warn(data ?? {}, msg),
  fatal: (msg, err) => {
    log.fatal({ err: err.message }, msg);
    process.exit(1);
  },
});
log.info({ httpPort: ingest.httpPort, spool: cfg.spoolDir, topics: cfg.topics }, 'ingest running');
const stop = async () => {
  log.info('ingest stopping');
  await ingest.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
