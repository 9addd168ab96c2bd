/**
 * Entry point: parse arguments, load the park model, run the fleet, print the summary.
 *   node --import tsx simulators/main.ts --help
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import { PlatformError } from '../core/errors.ts';
import { loadParkModel } from '../core/model-file.ts';
import { parseCli, USAGE } from './args.ts';
import { runFleet, type FleetProgress } from './fleet.ts';
import { formatSummary } from './summary.ts';

const log = pino({ name: 'simulators' }, pino.destination(2));

function progressLine(p: FleetProgress): string {
  const states = Object.entries(p.states).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  const done = p.done === undefined ? '' : ` · ${(100 * p.done).toFixed(1)} % of range`;
  return `published ${p.readingsPublished} · acked ${p.readingsAcked} · ${p.messagesPerS.toFixed(0)} msg/s · ${states}${done}`;
}

async function main(): Promise<number> {
  const cli = parseCli(process.argv.slice(2));
  if (cli.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const model = loadParkModel(cli.modelFile);
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) process.exit(130); // a second Ctrl-C: leave now
    log.info({ signal: sig }, 'stopping: publishing offline status and waiting for acknowledgements');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const summary = await runFleet({
    ...cli.fleet, model, signal: stop.signal,
    onProgress: cli.quiet ? undefined : (p) => log.info(p, progressLine(p)),
  });
  if (cli.summaryFile) {
    mkdirSync(dirname(cli.summaryFile), { recursive: true });
    writeFileSync(cli.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  }
  process.stdout.write(`${formatSummary(summary)}\n`);
  for (const d of summary.devices) if (d.lastError) log.warn({ device: d.device, errors: d.errors }, d.lastError);
  return summary.failedDevices.length > 0 ? 2 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  if (e instanceof PlatformError) {
    log.error({ code: e.code }, e.message);
    process.exit(1);
  }
  log.fatal({ err: e }, 'simulator crashed');
  process.exit(1);
});
