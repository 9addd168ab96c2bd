/** How the park model is shown to API users (plain JSON, in the shapes of api/schemas.ts). */
import { metricConstraints } from '../core/contract.ts';
import type { DeviceKind, DeviceModel, MetricDef, ParkModel } from '../core/model.ts';

export function metricView(m: MetricDef): Record<string, unknown> {
  const v: Record<string, unknown> = { name: m.name, type: m.type };
  if (m.unit !== undefined) v.unit = m.unit;
  if (m.description !== undefined) v.description = m.description;
  if (m.values !== undefined) v.values = [...m.values];
  if (m.carrier !== undefined) v.carrier = m.carrier;
  if (m.maxLength !== undefined) v.maxLength = m.maxLength;
  v.value = metricConstraints(m); // exactly what ingest accepts
  return v;
}

export function kindView(k: DeviceKind): Record<string, unknown> {
  return { id: k.id, description: k.description, intervalMs: k.intervalMs, metrics: [...k.metrics.values()].map(metricView), rated: { ...k.rated } };
}

const ref = (d: DeviceModel) => ({ id: d.id, name: d.name, kind: d.kind.id });

export function parkTree(model: ParkModel): Record<string, unknown> {
  const { zone } = model;
  return {
    zone: { id: zone.id, name: zone.name, ...(zone.nameZh ? { nameZh: zone.nameZh } : {}) },
    parks: model.parks.map((p) => ({
      id: p.id, name: p.name, ...(p.nameZh ? { nameZh: p.nameZh } : {}),
      enterprises: p.enterprises.map((e) => ({
        id: e.id, name: e.name, ...(e.nameZh ? { nameZh: e.nameZh } : {}), sector: e.sector,
        workshops: e.workshops.map((w) => ({
          id: w.id, name: w.name,
          lines: w.lines.map((l) => ({ id: l.id, name: l.name, devices: l.devices.map(ref) })),
          devices: w.devices.map(ref),
        })),
      })),
    })),
  };
}

export function modelSummary(model: ParkModel): Record<string, unknown> {
  let enterprises = 0, workshops = 0, lines = 0;
  for (const p of model.parks) {
    enterprises += p.enterprises.length;
    for (const e of p.enterprises) {
      workshops += e.workshops.length;
      for (const w of e.workshops) lines += w.lines.length;
    }
  }
  return { zone: model.zone.id, parks: model.parks.length, enterprises, workshops, lines, devices: model.devices.size, kinds: model.kinds.size };
}

export function devicePlace(d: DeviceModel): Record<string, unknown> {
  return {
    id: d.id, name: d.name, kind: d.kind.id, park: d.park, enterprise: d.enterprise, workshop: d.workshop,
    ...(d.line ? { line: d.line } : {}),
  };
}
