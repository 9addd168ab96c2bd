/**
 * All field listeners of a gateway configuration: one per connection entry, each serving the
 * devices bound to it with their physical models (simulators/models, same seed rules as the
 * MQTT fleet). For simulators/field-main.ts, tests and benches.
 */
import type { ConnectionConfig, GatewayConfig } from '../../core/fieldbus/config.ts';
import type { ParkModel } from '../../core/model.ts';
import { createSim } from '../models/index.ts';
import { FieldDevice } from './device.ts';
import { dlt645Handler } from './dlt645-server.ts';
import { listen, type FieldListener, type ProtocolHandler } from './listener.ts';
import { modbusRtuHandler, modbusTcpHandler } from './modbus-server.ts';

export const FIELD_DEFAULTS = Object.freeze({
  seed: '1',
  /** Registers refresh from the model once per scan, ms. */
  scanMs: 1000,
  /** Extra time each answer takes on a serial line (RTU, DL/T 645), ms. */
  lineDelayMs: 0,
  tickMs: 1000,
});

export interface FieldSimOptions {
  config: GatewayConfig;
  model: ParkModel;
  seed?: string;
  /** Only these gateways' connections (default: all). */
  gateways?: readonly string[];
  /** Listen on the configured host and port ('config', the CLI's default) or on ephemeral loopback ports ('ephemeral', for tests). */
  ports?: 'config' | 'ephemeral';
  scanMs?: number;
  lineDelayMs?: number;
  /** Start of the physics, epoch ms (default: now, to the second). */
  originMs?: number;
  tickMs?: number;
  /** Clock of the registers (default Date.now). */
  now?: () => number;
}

export interface FieldSimulators {
  readonly listeners: readonly FieldListener[];
  /** The listener of a connection id. */
  listener(connectionId: string): FieldListener;
  /** A simulated device by device id. */
  device(deviceId: string): FieldDevice;
  /** connection id → the port it listens on (equal to the configured one unless ephemeral). */
  ports(): Map<string, number>;
  close(): Promise<void>;
}

const HANDLERS: Readonly<Record<ConnectionConfig['protocol'], ProtocolHandler>> = {
  'modbus-tcp': modbusTcpHandler, 'modbus-rtu-tcp': modbusRtuHandler, 'dlt645-tcp': dlt645Handler,
};

export async function startFieldSimulators(o: FieldSimOptions): Promise<FieldSimulators> {
  const now = o.now ?? Date.now;
  const ctx = {
    seed: o.seed ?? FIELD_DEFAULTS.seed, model: o.model, tickMs: o.tickMs ?? FIELD_DEFAULTS.tickMs,
    originMs: o.originMs ?? Math.floor(now() / 1000) * 1000,
  };
  const scanMs = o.scanMs ?? FIELD_DEFAULTS.scanMs;
  const listeners: FieldListener[] = [];
  const devices = new Map<string, FieldDevice>();
  try {
    for (const g of o.config.gateways.values()) {
      if (o.gateways && !o.gateways.includes(g.id)) continue;
      for (const conn of g.connections) {
        const devs = conn.devices.map((b) => new FieldDevice(b, createSim(b.device, ctx), scanMs, now));
        for (const d of devs) devices.set(d.id, d);
        const ephemeral = o.ports === 'ephemeral';
        listeners.push(await listen(conn, devs, HANDLERS[conn.protocol], {
          host: ephemeral ? '127.0.0.1' : conn.host, port: ephemeral ? 0 : conn.port,
          serial: conn.protocol !== 'modbus-tcp', lineDelayMs: o.lineDelayMs ?? FIELD_DEFAULTS.lineDelayMs,
        }));
      }
    }
  } catch (e) {
    await Promise.all(listeners.map((l) => l.close()));
    throw e;
  }
  return {
    listeners,
    listener(id) {
      const l = listeners.find((x) => x.connection.id === id);
      if (!l) throw new Error(`no field listener for connection ${id}`);
      return l;
    },
    device(id) {
      const d = devices.get(id);
      if (!d) throw new Error(`no simulated field device ${id}`);
      return d;
    },
    ports: () => new Map(listeners.map((l) => [l.connection.id, l.port])),
    close: async () => { await Promise.all(listeners.map((l) => l.close())); },
  };
}

/**
 * A copy of raw (parsed, not yet validated) gateway config data with the connections' hosts and
 * ports replaced by the listeners' — for a gateway under test polling ephemeral simulators.
 */
export function withListenerPorts(data: unknown, ports: ReadonlyMap<string, number>, host = '127.0.0.1'): unknown {
  const copy = structuredClone(data) as { gateways?: Record<string, { connections?: { id?: string; host?: string; port?: number }[] }> };
  for (const g of Object.values(copy.gateways ?? {})) {
    for (const c of g.connections ?? []) {
      const p = c.id !== undefined ? ports.get(c.id) : undefined;
      if (p !== undefined) Object.assign(c, { host, port: p });
    }
  }
  return copy;
}
