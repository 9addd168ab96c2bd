/**
 * Our field simulators (simulators/field) on ephemeral ports, for a gateway under test: the
 * profiles of config/gateway.yaml, one gateway's connections with test timings, validated
 * against the platform's park model exactly as the gateway will validate them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { parseGatewayConfig } from '../../core/fieldbus/config.ts';
import type { ParkModel } from '../../core/model.ts';
import { startFieldSimulators, withListenerPorts, type FieldSimulators } from '../../simulators/field/fleet.ts';
import { ROOT } from './platform.ts';

/**
 * The park model with every device reporting every intervalMs, as PARK_MODEL for this test file
 * (the platform, its broker, and the gateway child read it): a gateway may poll no faster than a
 * device's interval in the park model, and a test cannot wait 5–10 s a poll. Call before
 * `new TestPlatform()`; returns the file.
 */
export function useFastParkModel(intervalMs: number): string {
  const park = parse(readFileSync(join(ROOT, 'config/park.yaml'), 'utf8'));
  const walk = (devices: { intervalMs?: number }[] | undefined) => devices?.forEach((d) => { d.intervalMs = intervalMs; });
  for (const pk of park.parks) for (const e of pk.enterprises) for (const w of e.workshops) {
    walk(w.devices);
    for (const l of w.lines ?? []) walk(l.devices);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sp-park-'));
  const file = join(dir, 'park.yaml');
  writeFileSync(file, stringify(park));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  process.env.PARK_MODEL = file;
  return file;
}

export const GATEWAY_YAML = (): { profiles: Record<string, any>; gateways: Record<string, any> } =>
  parse(readFileSync(join(ROOT, 'config/gateway.yaml'), 'utf8'));

/** Every poll group of the given profiles set to intervalMs. */
export function withIntervals(profiles: Record<string, any>, intervalMs: number): Record<string, any> {
  const out = structuredClone(profiles);
  for (const p of Object.values(out)) {
    for (const g of Object.values(p.pollGroups ?? { default: {} }) as { intervalMs: number }[]) g.intervalMs = intervalMs;
    p.pollGroups ??= { default: { intervalMs } };
  }
  return out;
}

export interface SimulatedField {
  sims: FieldSimulators;
  /** The gateway config data pointing at the simulators. */
  config: unknown;
}

/** Starts simulators for `data` (profiles + gateways) and returns the config with their ports. */
export async function startSimulatedField(model: ParkModel, data: unknown, opts: { now?: () => number; lineDelayMs?: number } = {}): Promise<SimulatedField> {
  const sims = await startFieldSimulators({ config: parseGatewayConfig(data, model), model, ports: 'ephemeral', ...opts });
  return { sims, config: withListenerPorts(data, sims.ports()) };
}
