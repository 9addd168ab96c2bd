/** Broker entry: read config, load the model and credentials, start, stop on signals. */
import pino from 'pino';
import { loadParkModel } from '../core/model-file.ts';
import { brokerConfig } from './config.ts';
import { readStore } from './credentials.ts';
import { startBroker } from './server.ts';

const log = pino({ name: 'broker', level: process.env.LOG_LEVEL ?? 'info' });
const config = brokerConfig();
const model = loadParkModel();
let store = readStore(config.credentialsFile);
const broker = await startBroker({
  config, model, store: () => store,
  onRefused: (r) => log.warn({ code: r.code, clientId: r.clientId, ip: r.ip }, r.detail),
  onError: (where, err) => log.debug({ where, err: err.message }, 'client error'),
  onWarning: (msg) => log.warn(msg),
});
log.info({ ...broker.ports, host: config.host, devices: model.devices.size, persistence: broker.persistence }, 'broker listening');
process.on('SIGHUP', () => {
  try {
    store = readStore(config.credentialsFile);
    log.info('credential store reloaded');
  } catch (e) {
    log.error({ err: (e as Error).message }, 'credential store reload failed; keeping the old one');
  }
});
const stop = async () => {
  log.info('broker stopping');
  await broker.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
