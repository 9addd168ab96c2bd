/** Gateway entry: read config, park model and field configuration, start, stop on signals. */
import pino from 'pino';
import { loadGatewayConfig } from '../core/fieldbus/config-file.ts';
import { selectGateway } from '../core/fieldbus/config.ts';
import { loadParkModel } from '../core/model-file.ts';
import { gatewayConfig } from './config.ts';
import { startGateway } from './service.ts';
import { stopOnSignals } from '../core/shutdown.ts';

const log = pino({ name: 'gateway', level: process.env.LOG_LEVEL ?? 'info' });
const cfg = gatewayConfig();
const spec = selectGateway(loadGatewayConfig(loadParkModel(), cfg.configFile), cfg.gatewayId);
const gw = await startGateway(cfg, spec, {
  info: (msg, data) => log.info(data ?? {}, msg),
  warn: (msg, data) => log.warn(data ?? {}, msg),
});
log.info({ gateway: cfg.gatewayId, connections: spec.connections.length, httpPort: gw.httpPort, buffer: cfg.bufferDir }, 'gateway running');
stopOnSignals('gateway', () => gw.stop(), log, 15_000); // its stop drains up to 2 s
