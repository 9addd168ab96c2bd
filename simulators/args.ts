/** Command-line arguments of simulators/main.ts → fleet options, validated with named errors. */
import { parseArgs } from 'node:util';
import { DEFAULT_LIMITS } from '../core/contract.ts';
import { PlatformError } from '../core/errors.ts';
import { DEFAULT_PARK_MODEL } from '../core/model-file.ts';
import { DEFAULTS, parseDurationMs } from './config.ts';
import { parseFaults } from './faults.ts';
import type { FleetOptions } from './fleet-options.ts';

export const USAGE = `Usage: node --import tsx simulators/main.ts [options]

Simulated devices of the park model publishing telemetry over MQTT, as foreign devices would.

  --url URL            broker (default env MQTT_URL or ${DEFAULTS.url})
  --secrets FILE       device passwords {"<deviceId>": "<password>"} (default env DEVICE_SECRETS_FILE,
                       else ${DEFAULTS.secretsFile}, else ${DEFAULTS.secretsFallbackFile})
  --model FILE         park model (default env PARK_MODEL or config/park.yaml)
  --devices IDS        comma-separated device ids (default: all)
  --park, --enterprise, --workshop, --kind LIST
                       comma-separated filters, combined with AND
  --without-gateway-devices
                       leave out the devices an edge gateway reads (their field simulators
                       answer Modbus and DL/T 645 instead: simulators/field-main.ts)
  --without IDS        comma-separated device ids to leave out (e.g. those a Sparkplug edge node
                       carries: simulators/sparkplug/main.ts)
  --interval-ms N      reporting interval of every device (default: each kind's intervalMs)
  --rate X             reporting rate multiplier (default 1; 10 = ten times as often)
  --duration D         live run length: 60s, 10m, 2h; 0 = until Ctrl-C (default 0)
  --readings N         reporting slots per device, then stop
  --seed S             seed of all randomness (default ${DEFAULTS.seed})
  --batch N            readings per message (default ${DEFAULTS.batch} live, ${DEFAULTS.backfillBatch} backfill; max ${DEFAULT_LIMITS.maxBatch})
  --max-inflight N     unacknowledged messages per device (default ${DEFAULTS.maxInflight})
  --faults SPEC        e.g. dropout=0.01,spike=0.005,stuck=0.01,skew=0.001,malformed=0.002
                       more keys: dropout-ms, disconnect, stuck-ms, skew-ms, spike-factor,
                       malformed-types=not_json|bad_shape|bad_ts|empty_metrics|unknown_metric|
                       wrong_type|string_number|non_finite|bad_enum|negative_counter
  --backfill RANGE     simulate a past range as fast as the broker accepts: 24h (the last 24 h)
                       or FROM..TO with ISO times, "now" or -DURATION (within the last 7 days)
  --summary FILE       write the summary as JSON
  --progress-ms N      progress line interval on stderr (default ${DEFAULTS.progressIntervalMs})
  --quiet              no progress lines
  --help               this text
`;

export interface CliConfig {
  help: boolean;
  modelFile: string;
  summaryFile?: string;
  quiet: boolean;
  fleet: Omit<FleetOptions, 'model' | 'signal' | 'onProgress'>;
}

const list = (v: string | undefined): string[] | undefined => v?.split(',').map((s) => s.trim()).filter(Boolean);

function number(key: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new PlatformError('SP_ERR_CONFIG', `--${key}: ${JSON.stringify(v)} — expected a number`);
  return n;
}

function instant(text: string, now: number): number {
  const t = text.trim();
  if (t === 'now') return now;
  if (t.startsWith('-')) return now - parseDurationMs(t.slice(1), '--backfill');
  const ms = Date.parse(t);
  if (!Number.isFinite(ms)) throw new PlatformError('SP_ERR_CONFIG', `--backfill: ${JSON.stringify(text)} — expected an ISO time (2025-01-31T08:00:00Z), "now" or -DURATION`);
  return ms;
}

/** "24h" → the last 24 hours; "FROM..TO" → that range. */
export function parseBackfill(text: string, now = Date.now()): { fromMs: number; toMs: number } {
  if (text.includes('..')) {
    const [from = '', to = ''] = text.split('..', 2);
    return { fromMs: instant(from, now), toMs: instant(to, now) };
  }
  const end = Math.floor(now / 1000) * 1000;
  return { fromMs: end - parseDurationMs(text, '--backfill'), toMs: end };
}

export function parseCli(argv: readonly string[], now = Date.now()): CliConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv], strict: true, allowPositionals: false,
      options: {
        url: { type: 'string' }, secrets: { type: 'string' }, model: { type: 'string' }, devices: { type: 'string' },
        park: { type: 'string' }, enterprise: { type: 'string' }, workshop: { type: 'string' }, kind: { type: 'string' },
        'interval-ms': { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' }, readings: { type: 'string' },
        seed: { type: 'string' }, batch: { type: 'string' }, 'max-inflight': { type: 'string' }, faults: { type: 'string' },
        backfill: { type: 'string' }, summary: { type: 'string' }, 'progress-ms': { type: 'string' },
        quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, 'without-gateway-devices': { type: 'boolean' },
        without: { type: 'string' },
      },
    }));
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `${(e as Error).message} — see --help`);
  }
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const fleet: CliConfig['fleet'] = {
    url: s('url'),
    secrets: s('secrets'),
    select: { ids: list(s('devices')), parks: list(s('park')), enterprises: list(s('enterprise')), workshops: list(s('workshop')), kinds: list(s('kind')), withoutGatewayDevices: values['without-gateway-devices'] === true, without: list(s('without')) },
    intervalMs: number('interval-ms', s('interval-ms')),
    rate: number('rate', s('rate')),
    durationMs: s('duration') === undefined ? undefined : parseDurationMs(s('duration') as string, '--duration'),
    readings: number('readings', s('readings')),
    seed: s('seed'),
    batch: number('batch', s('batch')),
    maxInflight: number('max-inflight', s('max-inflight')),
    faults: s('faults') === undefined ? undefined : parseFaults(s('faults') as string),
    backfill: s('backfill') === undefined ? undefined : parseBackfill(s('backfill') as string, now),
    progressIntervalMs: number('progress-ms', s('progress-ms')),
  };
  return {
    help: values.help === true,
    modelFile: s('model') ?? process.env.PARK_MODEL ?? DEFAULT_PARK_MODEL,
    summaryFile: s('summary'),
    quiet: values.quiet === true,
    fleet,
  };
}
