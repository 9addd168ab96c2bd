/**
 * One simulated field device: the physical model of simulators/models seen through the register
 * map of its profile in config/gateway.yaml (the profile is the device's manual). Its registers
 * are refreshed once per scan (like a PLC's scan cycle or a meter's measurement cycle) from the
 * model sampled at wall-clock time, so all reads of one poll see the same values.
 */
import type { DeviceBinding, ModbusPoint, RegisterType } from '../../core/fieldbus/config.ts';
import { dlt645MeterValue, modbusRawValue } from '../../core/fieldbus/point-values.ts';
import { encodeRegisters } from '../../core/fieldbus/modbus-values.ts';
import type { DeviceSim, Metrics } from '../sim.ts';

/** Test hooks: a device that stops answering, answers every read with an exception, or with a corrupted frame. */
export type FieldFault = 'none' | 'silent' | 'exception' | 'garbage';
export const FIELD_FAULTS: readonly FieldFault[] = ['none', 'silent', 'exception', 'garbage'];

export type ModbusRead = { readonly registers: number[] } | { readonly bits: boolean[] } | { readonly exception: number };
export type MeterRead = { readonly value: number } | { readonly errorWord: number };

/** Exception 02 / DL/T 645 error word bit 1: the address or identifier is not served. */
const ILLEGAL_ADDRESS = 0x02;
const SERVER_FAILURE = 0x04;
const NO_DATA = 0x02;

export class FieldDevice {
  fault: FieldFault = 'none';
  /** Requests this device answered (normally or with an exception). */
  served = 0;
  private scan: { t: number; metrics: Metrics } | undefined;

  constructor(
    readonly binding: DeviceBinding,
    private readonly sim: DeviceSim,
    private readonly scanMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get id(): string {
    return this.binding.device.id;
  }

  /** The model's metrics of the current scan: what the registers hold now, in metric units. */
  snapshot(): { readonly t: number; readonly metrics: Metrics } {
    const t = Math.floor(this.now() / this.scanMs) * this.scanMs;
    if (!this.scan || this.scan.t !== t) this.scan = { t, metrics: this.sim.sample(Math.max(t, this.scan?.t ?? t)) }; // physics never runs backwards
    return this.scan;
  }

  /** Reads `quantity` registers or bits of one data space; addresses outside the span the profile maps are illegal (02). */
  readModbus(space: RegisterType, address: number, quantity: number): ModbusRead {
    if (this.binding.protocol !== 'modbus') return { exception: ILLEGAL_ADDRESS };
    const points = this.binding.profile.points.filter((p) => p.register === space);
    if (points.length === 0) return { exception: ILLEGAL_ADDRESS };
    const lo = Math.min(...points.map((p) => p.address));
    const hi = Math.max(...points.map((p) => p.address + p.count));
    if (address < lo || address + quantity > hi) return { exception: ILLEGAL_ADDRESS };
    const { metrics } = this.snapshot();
    const inWindow = (p: ModbusPoint): boolean => p.address < address + quantity && p.address + p.count > address;
    if (space === 'coil' || space === 'discrete') {
      const bits = new Array<boolean>(quantity).fill(false);
      for (const p of points) if (inWindow(p)) bits[p.address - address] = metrics[p.metric] === true;
      return { bits };
    }
    const words = new Array<number>(quantity).fill(0);
    for (const p of points) {
      if (!inWindow(p)) continue;
      let regs: number[];
      try {
        regs = encodeRegisters(modbusRawValue(p, metrics[p.metric] ?? 0), p.type, p.order, p.bit);
      } catch {
        return { exception: SERVER_FAILURE }; // a value the register map cannot hold (enum without a code)
      }
      regs.forEach((w, i) => {
        const k = p.address - address + i;
        if (k >= 0 && k < quantity) words[k] = p.type === 'bit' ? (words[k] as number) | w : w;
      });
    }
    return { registers: words };
  }

  /** Reads one data identifier as the meter shows it (÷ the point's ratio); unknown identifiers have no data. */
  readMeter(di: string): MeterRead {
    if (this.binding.protocol !== 'dlt645') return { errorWord: NO_DATA };
    const point = this.binding.profile.points.find((p) => p.di === di);
    if (!point) return { errorWord: NO_DATA };
    const v = this.snapshot().metrics[point.metric];
    if (typeof v !== 'number') return { errorWord: NO_DATA };
    const counter = this.binding.device.kind.metrics.get(point.metric)?.type === 'counter';
    return { value: dlt645MeterValue(point, v, counter) };
  }
}
