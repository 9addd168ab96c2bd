/** Sparkplug B host application entry: read config, the park model and the mapping, start, stop on signals. */
import pino from 'pino';
import { loadParkModel } from '../../core/model-file.ts';
import { loadSparkplugConfig } from '../../core/sparkplug/config.ts';
import { sparkplugHostConfig } from './config.ts';
import { startSparkplugHost } from './service.ts';
import { stopOnSignals } from '../../core/shutdown.ts';

const log = pino({ name: 'sparkplug-host', level: process.env.LOG_LEVEL ?? 'info' });
const cfg = sparkplugHostConfig();
const mapping = loadSparkplugConfig(loadParkModel(), cfg.mappingFile);
const host = await startSparkplugHost(cfg, mapping, {
  info: (msg, data) => log.info(data ?? {}, msg),
  warn: (msg, data) => log.warn(data ?? {}, msg),
  fatal: (msg, err) => {
    log.fatal({ err: err.message }, msg);
    process.exit(1);
  },
});
log.info({ httpPort: host.httpPort, spool: cfg.spoolDir, hostId: mapping.hostId, edgeNodes: mapping.nodes.size }, 'Sparkplug host running');
stopOnSignals('Sparkplug host', () => host.stop(), log);
