/**
 * Entry point of the field simulators: the devices of config/gateway.yaml behind their Modbus
 * TCP, Modbus RTU-over-TCP and DL/T 645 listeners, until SIGINT/SIGTERM; then the per-listener
 * request counts on stdout.
 *   node --import tsx simulators/field-main.ts --help
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { PlatformError } from '../core/errors.ts';
import { DEFAULT_GATEWAY_CONFIG, loadGatewayConfig } from '../core/fieldbus/config-file.ts';
import { selectGateway } from '../core/fieldbus/config.ts';
import { DEFAULT_PARK_MODEL, loadParkModel } from '../core/model-file.ts';
import { FIELD_DEFAULTS, startFieldSimulators } from './field/fleet.ts';
import type { FieldListener } from './field/listener.ts';

const USAGE = `Usage: node --import tsx simulators/field-main.ts [options]

Simulated field devices (PLCs, meters) answering Modbus TCP, Modbus RTU over TCP and DL/T 645
on the listeners of the gateway config, with the physical models of the MQTT simulators.

  --gateway-config FILE  gateway config (default env GATEWAY_CONFIG or config/gateway.yaml)
  --model FILE           park model (default env PARK_MODEL or config/park.yaml)
  --only IDS             comma-separated gateway ids (default: all)
  --seed S               seed of the physics (default ${FIELD_DEFAULTS.seed})
  --scan-ms N            register refresh period (default ${FIELD_DEFAULTS.scanMs})
  --line-delay-ms N      extra time per answer on serial lines (default ${FIELD_DEFAULTS.lineDelayMs})
  --quiet                no start-up lines
  --help                 this text
`;

const log = pino({ name: 'field-sim' }, pino.destination(2));

function int(key: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new PlatformError('SP_ERR_CONFIG', `--${key}: ${JSON.stringify(v)} — expected a non-negative integer`);
  return n;
}

function countsTable(listeners: readonly FieldListener[]): string {
  const head = ['listener', 'protocol', 'port', 'requests', 'answered', 'exceptions', 'silent', 'garbage', 'notForUs', 'badFrames'];
  const rows = listeners.map((l) => {
    const c = l.counters;
    return [l.connection.id, l.connection.protocol, l.port, c.requests, c.answered, c.exceptions, c.silent, c.garbage, c.notForUs, c.badFrames].map(String);
  });
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  return [head, ...rows].map((r) => r.map((x, i) => x.padEnd(w[i] as number)).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2), strict: true, allowPositionals: false,
      options: {
        'gateway-config': { type: 'string' }, model: { type: 'string' }, only: { type: 'string' }, seed: { type: 'string' },
        'scan-ms': { type: 'string' }, 'line-delay-ms': { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean' },
      },
    }));
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `${(e as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const model = loadParkModel((values.model as string | undefined) ?? process.env.PARK_MODEL ?? DEFAULT_PARK_MODEL);
  const config = loadGatewayConfig(model, (values['gateway-config'] as string | undefined) ?? process.env.GATEWAY_CONFIG ?? DEFAULT_GATEWAY_CONFIG);
  const only = (values.only as string | undefined)?.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of only ?? []) selectGateway(config, id);
  const sims = await startFieldSimulators({
    config, model, gateways: only, ports: 'config', seed: values.seed as string | undefined,
    scanMs: int('scan-ms', values['scan-ms'] as string | undefined, FIELD_DEFAULTS.scanMs) || 1,
    lineDelayMs: int('line-delay-ms', values['line-delay-ms'] as string | undefined, FIELD_DEFAULTS.lineDelayMs),
  });
  if (!values.quiet) {
    for (const l of sims.listeners) {
      log.info({ connection: l.connection.id, protocol: l.connection.protocol, host: l.host, port: l.port, devices: l.devices.map((d) => d.id) }, 'listening');
    }
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await sims.close();
  process.stdout.write(`${countsTable(sims.listeners)}\n`);
}

main().then(() => process.exit(0), (e: unknown) => {
  if (e instanceof PlatformError) log.error({ code: e.code }, e.message);
  else log.fatal({ err: e }, 'field simulator crashed');
  process.exit(1);
});
