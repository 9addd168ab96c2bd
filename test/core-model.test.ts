import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { loadParkModel } from '../core/model-file.ts';
import { parseParkModel } from '../core/model.ts';
import { refusalMessage } from './harness/refusal.ts';

const base = () => parse(readFileSync('config/park.yaml', 'utf8')) as Record<string, any>;

const refusal = (data: unknown): string => refusalMessage(() => parseParkModel(data), 'SP_ERR_MODEL', 'model was');

describe('park model', () => {
  it('loads the zone: three parks, the ceramic and vaccine workshops in full, every device placed', () => {
    const m = loadParkModel();
    expect(m.parks.map((p) => p.id)).toEqual(['guangfu', 'banqiao', 'ronglong']);
    expect(m.devices.size).toBeGreaterThanOrEqual(40);
    const kinds = new Set([...m.devices.values()].map((d) => d.kind.id));
    for (const k of ['ball_mill', 'spray_dryer', 'hydraulic_press', 'tile_dryer', 'glazing_line', 'roller_kiln', 'polishing_line', 'sorting_line',
      'bioreactor', 'freeze_dryer', 'cold_room', 'cleanroom_ahu', 'pure_steam_generator', 'filling_line', 'electricity_meter', 'gas_meter']) {
      expect(kinds.has(k), k).toBe(true);
    }
    const kiln = m.devices.get('wm-kiln-1')!;
    expect(kiln).toMatchObject({ park: 'guangfu', enterprise: 'weimei', workshop: 'tile', line: 'line1' });
    expect(kiln.kind.metrics.get('gas_flow')?.unit).toBe('m3/h');
    expect(kiln.rated.capacityM2h).toBe(500);
    // device overrides merge over kind defaults
    expect(m.devices.get('rf-cold-1')!.rated).toMatchObject({ setpointC: 2, compressorKw: 15 });
    expect(Object.isFrozen(kiln)).toBe(true);
  });

  it('names the path, the value and what was expected for each bad entry', () => {
    const d = base();
    d.parks[0].enterprises[0].workshops[0].lines[0].devices[7].kind = 'roller_kilnn';
    d.parks[1].enterprises[0].workshops[0].devices[0].id = 'al+cold';
    d.kinds.cold_room.metrics.temp.unit = '';
    d.kinds.loom.metrics.seq = { type: 'counter', unit: '1' };
    d.parks[2].enterprises[1].workshops[0].lines[0].devices[1].id = 'xb-loom-1';
    d.kinds.gas_meter.intervalMs = 5;
    delete d.gateways; // they name wm-kiln-1 and al-cold-1, refused above: that would add two problems
    const msg = refusal(d);
    expect(msg).toContain('parks[0].enterprises[0].workshops[0].lines[0].devices[7].kind: "roller_kilnn" — expected a device kind declared under kinds');
    expect(msg).toContain('parks[1].enterprises[0].workshops[0].devices[0].id: "al+cold" — expected an id matching');
    expect(msg).toContain('kinds.cold_room.metrics.temp.unit: "" — expected a unit symbol');
    expect(msg).toContain('kinds.loom.metrics.seq: "seq" — expected a metric name other than seq, time');
    expect(msg).toContain('parks[2].enterprises[1].workshops[0].lines[0].devices[1].id: "xb-loom-1" — expected a device id unique across the whole zone');
    expect(msg).toContain('kinds.gas_meter.intervalMs: 5 — expected an integer number of milliseconds');
    expect(msg).toMatch(/^park model refused \(6 problems\)/);
  });

  it('gives each gateway its devices, and refuses unknown, shared or badly named gateway entries', () => {
    const m = loadParkModel();
    const gw = m.gateways.get('gw-weimei-1')!;
    expect(gw.devices.map((d) => d.id)).toContain('wm-kiln-1');
    expect(m.devices.get('wm-kiln-1')!.gateway).toBe('gw-weimei-1');
    expect(m.devices.get('wm-mill-1')!.gateway).toBeUndefined();
    const d = base();
    d.gateways = [
      { id: 'gw-a', devices: ['wm-kiln-1', 'no-such-device'] },
      { id: 'gw-b', devices: ['wm-kiln-1'] },
      { id: 'edge-1', devices: [] },
      { id: 'gw-a', devices: [] },
    ];
    const msg = refusal(d);
    expect(msg).toContain('gateways[0].devices[1]: "no-such-device" — expected the id of a device in the park model');
    expect(msg).toContain('gateways[1].devices[0]: "wm-kiln-1" — expected a device not already owned by gateway gw-a');
    expect(msg).toContain('gateways[2].id: "edge-1" — expected a gateway id starting with gw-');
    expect(msg).toContain('gateways[3].id: "gw-a" — expected a gateway id not used by another gateway or a device');
  });

  it('refuses ids that would break topics, a reserved park id, unknown keys and an empty zone', () => {
    const d = base();
    d.parks[0].id = '_sys';
    d.parks[1].enterprises[0].workshops[0].lines[0].devices[0].id = 'al/bio/1';
    d.parks[1].enterprises[0].workshops[0].lines[0].devices[1].id = '#';
    d.parks[1].enterprises[0].workshops[0].colour = 'red';
    const msg = refusal(d);
    expect(msg).toContain('parks[0].id: "_sys"');
    expect(msg).toContain('"al/bio/1"');
    expect(msg).toContain('"#"');
    expect(msg).toContain('parks[1].enterprises[0].workshops[0].colour: "colour" — expected one of the keys');
    expect(refusal({ zone: { id: 'z', name: 'Z' }, kinds: {}, parks: [] })).toContain('expected at least one device');
    expect(refusal(null)).toContain('(root): null — expected an object');
  });

  it('reports an unreadable or invalid YAML file with its name', () => {
    expect(() => loadParkModel('/nonexistent/park.yaml')).toThrow(/cannot read park model \/nonexistent\/park.yaml/);
  });
});

describe('error codes', () => {
  it('are all documented in README', async () => {
    const { ERROR_CODES } = await import('../core/errors.ts');
    const readme = readFileSync('README.md', 'utf8');
    for (const code of Object.keys(ERROR_CODES)) expect(readme, code).toContain(`| \`${code}\` |`);
  });
});
