/**
 * The poll jobs of a device: one per poll group of its profile. A Modbus job reads the group's
 * blocks (points coalesced by core/fieldbus into as few requests as the connection's limits
 * allow) and decodes every point; a DL/T 645 job reads one data identifier per point. A
 * reading's ts is when the job's first answer arrived. A point whose request failed, or whose
 * value the metric cannot take, is left out of the reading (and counted); the reading goes out
 * with the rest. A timeout or a lost connection ends the job: the device is not answering.
 */
import { checkMetric, type MetricValue } from '../core/contract.ts';
import {
  coalesce, dlt645MetricValue, modbusMetricValue, pointSlice, type ConnectionConfig, type DeviceBinding, type Dlt645Binding, type ModbusBinding,
  type ReadBlock,
} from '../core/fieldbus/config.ts';
import { decodeRegisters } from '../core/fieldbus/modbus-values.ts';
import type { MetricDef } from '../core/model.ts';
import type { Dlt645Client } from './dlt645-client.ts';
import { FieldError } from './field-error.ts';
import type { Exchange, LineJob, PollOutcome } from './line.ts';
import type { ModbusClient, ReadFc, ReadResult } from './modbus-client.ts';

const FC: Record<ReadBlock['register'], ReadFc> = { coil: 1, discrete: 2, holding: 3, input: 4 };
const ends = (e: FieldError) => e.kind === 'timeout' || e.kind === 'connection';

function accept(out: PollOutcome, def: MetricDef | undefined, name: string, v: { value: MetricValue } | { error: string }): void {
  if ('error' in v) return void out.pointErrors.push(v.error);
  if (!def) return void out.pointErrors.push(`${name}: not declared for the device's kind`);
  const bad = checkMetric(def, v.value);
  if (bad) out.pointErrors.push(bad.reason);
  else out.metrics[name] = v.value;
}

function decodeBlock(out: PollOutcome, b: ModbusBinding, block: ReadBlock, r: ReadResult): void {
  const defs = b.device.kind.metrics;
  for (const pt of block.points) {
    const def = defs.get(pt.metric);
    try {
      const raw = 'bits' in r ? pointSlice(block, pt, r.bits)[0]! : decodeRegisters(pointSlice(block, pt, r.registers), pt.type, pt.order, pt.bit);
      accept(out, def, pt.metric, def ? modbusMetricValue(pt, raw, def) : { error: `${pt.metric}: not declared` });
    } catch (e) {
      out.pointErrors.push(`${pt.metric}: ${(e as Error).message}`);
    }
  }
}

/**
 * One job per poll group that has items: each run reads the group's items in turn (a block of
 * registers, or a DL/T 645 data identifier), stamps the reading at the first answer, and stops
 * at a failure that ends the poll (the device or the line is gone).
 */
function groupJobs<T extends { group: string }>(
  b: DeviceBinding, items: readonly T[], read: (item: T, exchange: Exchange, out: PollOutcome) => Promise<void>,
): LineJob[] {
  return [...b.profile.pollGroups.values()].flatMap((g) => {
    const mine = items.filter((x) => x.group === g.name);
    if (mine.length === 0) return [];
    return [{
      device: b.device.id, group: g.name, intervalMs: g.intervalMs,
      run: async (exchange) => {
        const out: PollOutcome = { metrics: {}, failures: [], pointErrors: [] };
        for (const item of mine) {
          try {
            await read(item, exchange, out);
          } catch (e) {
            const err = e as FieldError;
            out.failures.push(err);
            if (ends(err)) break;
          }
        }
        return out;
      },
    } satisfies LineJob];
  });
}

export function modbusJobs(conn: ConnectionConfig, b: ModbusBinding, client: ModbusClient): LineJob[] {
  const blocks = coalesce(b.profile.points, conn.maxRegistersPerRequest, conn.maxBitsPerRequest, conn.maxGap);
  return groupJobs(b, blocks, async (block, exchange, out) => {
    const r = await exchange(() => client.read(b.unitId, FC[block.register], block.address, block.count, conn.timeoutMs));
    out.ts ??= Date.now();
    decodeBlock(out, b, block, r);
  });
}

export function dlt645Jobs(conn: ConnectionConfig, b: Dlt645Binding, client: Dlt645Client): LineJob[] {
  const defs = b.device.kind.metrics;
  return groupJobs(b, b.profile.points, async (pt, exchange, out) => {
    const v = await exchange(() => client.read(b.address, pt.di, conn.timeoutMs));
    out.ts ??= Date.now();
    const def = defs.get(pt.metric);
    accept(out, def, pt.metric, def ? dlt645MetricValue(pt, v, def) : { error: `${pt.metric}: not declared` });
  });
}
