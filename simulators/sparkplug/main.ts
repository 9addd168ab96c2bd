/**
 * Simulated Sparkplug B edge nodes: one per edge node of config/sparkplug.yaml (or the ones
 * named), each carrying its mapped park devices.
 *   node --import tsx simulators/sparkplug/main.ts [--node GROUP/NODE,...] [--interval-ms N] [--duration D] [--quiet]
 * Passwords: DEVICE_SECRETS_FILE (the plain secrets `npm run credentials` writes hold the edge
 * nodes' accounts too). MQTT_URL, SPARKPLUG_CONFIG as for the host.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { PlatformError } from '../../core/errors.ts';
import { loadParkModel } from '../../core/model-file.ts';
import { loadSparkplugConfig } from '../../core/sparkplug/config.ts';
import { DEFAULTS, parseDurationMs } from '../config.ts';
import { defaultSecretsFile, loadSecrets } from '../select.ts';
import { SimulatedEdgeNode } from './edge-node.ts';

const log = pino({ name: 'sparkplug-edge-sim', level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
const { values } = parseArgs({
  options: {
    node: { type: 'string' }, 'interval-ms': { type: 'string' }, duration: { type: 'string', default: '0' },
    secrets: { type: 'string' }, seed: { type: 'string', default: DEFAULTS.seed }, quiet: { type: 'boolean', default: false },
  },
});
const model = loadParkModel();
const mapping = loadSparkplugConfig(model);
const wanted = values.node?.split(',').filter(Boolean);
const nodes = [...mapping.nodes.values()].filter((n) => !wanted || wanted.includes(`${n.group}/${n.node}`));
if (nodes.length === 0) throw new PlatformError('SP_ERR_CONFIG', `--node ${values.node}: expected one of ${[...mapping.nodes.keys()].join(', ')}`);
const intervalMs = values['interval-ms'] === undefined ? undefined : Number(values['interval-ms']);
if (intervalMs !== undefined && !(Number.isInteger(intervalMs) && intervalMs >= 100)) throw new PlatformError('SP_ERR_CONFIG', `--interval-ms ${values['interval-ms']}: expected an integer >= 100`);
const secrets = loadSecrets(values.secrets ?? defaultSecretsFile());
const sims = nodes.map((node) => {
  const password = secrets[node.account];
  if (!password) throw new PlatformError('SP_ERR_CONFIG', `no password for Sparkplug edge node account ${node.account} — provision it (npm run credentials)`);
  return new SimulatedEdgeNode({ url: process.env.MQTT_URL ?? DEFAULTS.url, node, password, model, seed: values.seed!, intervalMs });
});
await Promise.all(sims.map((s) => s.start()));
log.info({ nodes: nodes.map((n) => `${n.group}/${n.node}`) }, 'Sparkplug edge nodes running');
const progress = values.quiet ? undefined : setInterval(() => log.info({ counts: sims.map((s) => s.counts) }, 'edge nodes'), 10_000);
const stop = async () => {
  clearInterval(progress);
  await Promise.all(sims.map((s) => s.stop()));
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
const durationMs = parseDurationMs(values.duration!, '--duration');
if (durationMs > 0) setTimeout(stop, durationMs);
