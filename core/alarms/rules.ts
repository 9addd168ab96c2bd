/**
 * Alarm rules (config/alarms.yaml, docs/alarms.md): their types, validation against the park
 * model, and binding to devices. A bad file is refused with every problem listed as
 * `path: value — expected …`, like the park model. Binding resolves each rule once per device
 * (rated figures, scope), so evaluation does no lookups beyond a Map get. Pure.
 */
import { PlatformError } from '../errors.ts';
import { ID_PATTERN, METRIC_PATTERN } from '../ids.ts';
import { durationMs } from '../influx/influxql.ts';
import type { DeviceModel, ParkModel } from '../model.ts';
import { isObj, Problems, type Obj } from '../problems.ts';

export const SEVERITIES = ['info', 'warning', 'major', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
/**
 * Rule types. `increase` is the simple quota (a counter's rise over a rolling window); energy
 * accounting can add its own type here and an observation for it in engine.ts (`observe`).
 */
export const RULE_TYPES = ['threshold', 'deviation', 'silence', 'increase'] as const;
export type RuleType = (typeof RULE_TYPES)[number];

/** A limit: a number, or a rated figure of the device (with a fallback for devices without it). */
export type Limit = { value: number } | { rated: string; default?: number };

export interface Scope {
  parks?: readonly string[];
  enterprises?: readonly string[];
  workshops?: readonly string[];
  /** Only these devices. */
  devices?: readonly string[];
  /** Never these devices. */
  exclude?: readonly string[];
  /** Only devices whose rated figure lies in [min, max] (e.g. cleanroom grade). */
  rated?: Readonly<Record<string, { min?: number; max?: number }>>;
}

/** Evaluate only while a metric has one of these values (e.g. run_state: running). */
export interface Gate { metric: string; in: readonly (string | number | boolean)[] }

interface RuleBase {
  readonly id: string;
  readonly description?: string;
  readonly severity: Severity;
  /** Device kinds the rule applies to (silence: empty = every kind). */
  readonly kinds: readonly string[];
  readonly scope: Scope;
  /** The condition must hold this long (device time) before the alarm is raised. */
  readonly forMs: number;
  /** The clear condition must hold this long before the alarm clears. */
  readonly clearForMs: number;
  /** Dead band, in the metric's unit: clears only this far inside the limit. */
  readonly hysteresis: number;
  /** A gap between readings longer than this restarts the duration; default 3 × the device's interval. */
  readonly maxGapMs?: number;
}
export interface ThresholdRule extends RuleBase {
  readonly type: 'threshold';
  /** Any of these beyond a limit raises; all back inside (less hysteresis) clears. */
  readonly metrics: readonly string[];
  readonly above?: Limit;
  readonly below?: Limit;
  readonly when?: Gate;
}
export interface DeviationRule extends RuleBase {
  readonly type: 'deviation';
  readonly metric: string;
  /** Set point: another metric of the same device, a rated figure, or a number. */
  readonly setpoint: Limit | { metric: string };
  readonly maxDeviation: number;
  readonly when?: Gate;
}
export interface SilenceRule extends RuleBase {
  readonly type: 'silence';
  /** Raised after factor × the device's intervalMs without a reading (platform time). */
  readonly factor: number;
  /** Never sooner than this. */
  readonly minMs: number;
}
export interface IncreaseRule extends RuleBase {
  readonly type: 'increase';
  /** A counter metric. */
  readonly metric: string;
  readonly windowMs: number;
  readonly above: Limit;
}
export type AlarmRule = ThresholdRule | DeviationRule | SilenceRule | IncreaseRule;

/** A rule bound to one device: limits resolved from its rated figures. */
export interface BoundRule {
  readonly rule: AlarmRule;
  readonly device: DeviceModel;
  readonly above?: number;
  readonly below?: number;
  /** deviation with a fixed set point */
  readonly setpoint?: number;
  readonly silenceMs?: number;
  readonly maxGapMs: number;
}

export interface AlarmRules {
  readonly rules: readonly AlarmRule[];
  /** Bound rules per device id (devices with none are absent). */
  readonly byDevice: ReadonlyMap<string, readonly BoundRule[]>;
}


function keys(p: Problems, path: string, o: Obj, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) p.add(`${path}.${k}`, k, `one of the keys ${allowed.join(', ')}`);
}
function num(p: Problems, path: string, v: unknown, min = -Infinity): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= min) return v;
  p.add(path, v, min === 0 ? 'a number ≥ 0' : 'a finite number');
  return undefined;
}
function dur(p: Problems, path: string, v: unknown, def: number): number {
  if (v === undefined) return def;
  if (v === 0 || v === '0') return 0;
  if (typeof v === 'string' && /^[1-9][0-9]{0,8}(ms|s|m|h|d|w)$/.test(v)) return durationMs(v);
  p.add(path, v, 'a duration like 30s, 5m, 1h (or 0)');
  return def;
}
function ids(p: Problems, path: string, v: unknown, known: (id: string) => boolean, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) {
    p.add(path, v, `a ${what} id or a non-empty list of them`);
    return undefined;
  }
  list.forEach((x, i) => { if (typeof x !== 'string' || !known(x)) p.add(`${path}[${i}]`, x, `a ${what} in the park model`); });
  return list as string[];
}

function limit(p: Problems, path: string, v: unknown): Limit | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? { value: v } : (p.add(path, v, 'a finite number'), undefined);
  if (isObj(v) && typeof v.rated === 'string') {
    keys(p, path, v, ['rated', 'default']);
    if (!/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/.test(v.rated)) p.add(`${path}.rated`, v.rated, 'a rated-figure name');
    const d = v.default === undefined ? undefined : num(p, `${path}.default`, v.default);
    return d === undefined ? { rated: v.rated } : { rated: v.rated, default: d };
  }
  p.add(path, v, 'a number or {rated: <figure>, default?: <number>}');
  return undefined;
}

function metricOf(p: Problems, path: string, v: unknown, kinds: readonly string[], model: ParkModel, types?: readonly string[]): string | undefined {
  if (typeof v !== 'string' || !METRIC_PATTERN.test(v)) {
    p.add(path, v, 'a metric name');
    return undefined;
  }
  for (const k of kinds) {
    const def = model.kinds.get(k)?.metrics.get(v);
    if (!def) p.add(path, v, `a metric declared for kind ${k} (declared: ${[...(model.kinds.get(k)?.metrics.keys() ?? [])].join(', ')})`);
    else if (types && !types.includes(def.type)) p.add(path, v, `a ${types.join(' or ')} metric (${v} of ${k} is ${def.type})`);
  }
  return v;
}

const NUMERIC = ['number', 'counter', 'integer'] as const;

function parseRule(p: Problems, path: string, o: Obj, model: ParkModel): AlarmRule | undefined {
  const common = ['id', 'description', 'type', 'kind', 'kinds', 'severity', 'scope', 'for', 'clearFor', 'hysteresis', 'maxGap'];
  const type = o.type as RuleType;
  if (!RULE_TYPES.includes(type)) {
    p.add(`${path}.type`, o.type, `one of ${RULE_TYPES.join(', ')}`);
    return undefined;
  }
  const extra: Record<RuleType, string[]> = {
    threshold: ['metric', 'metrics', 'above', 'below', 'when'],
    deviation: ['metric', 'setpoint', 'maxDeviation', 'when'],
    silence: ['factor', 'min'],
    increase: ['metric', 'window', 'above'],
  };
  keys(p, path, o, [...common, ...extra[type]]);
  const id = typeof o.id === 'string' && ID_PATTERN.test(o.id) ? o.id : (p.add(`${path}.id`, o.id, `an id matching ${ID_PATTERN}`), undefined);
  const kindList = o.kinds ?? o.kind;
  let kinds: string[] = [];
  if (kindList === undefined && type === 'silence') kinds = [];
  else kinds = ids(p, `${path}.${o.kinds === undefined ? 'kind' : 'kinds'}`, kindList ?? null, (k) => model.kinds.has(k), 'device kind') ?? [];
  const severity = SEVERITIES.includes(o.severity as Severity) ? o.severity as Severity
    : (p.add(`${path}.severity`, o.severity, `one of ${SEVERITIES.join(', ')}`), 'warning' as const);
  const base = {
    id: id ?? '?', severity, kinds, scope: parseScope(p, `${path}.scope`, o.scope, model),
    forMs: dur(p, `${path}.for`, o.for, 0), clearForMs: dur(p, `${path}.clearFor`, o.clearFor, 0),
    hysteresis: o.hysteresis === undefined ? 0 : num(p, `${path}.hysteresis`, o.hysteresis, 0) ?? 0,
    ...(o.maxGap === undefined ? {} : { maxGapMs: dur(p, `${path}.maxGap`, o.maxGap, 0) }),
    ...(typeof o.description === 'string' ? { description: o.description.slice(0, 200) } : {}),
  };
  const gate = (v: unknown): Gate | undefined => {
    if (v === undefined) return undefined;
    if (!isObj(v) || !Array.isArray(v.in) || v.in.length === 0) {
      p.add(`${path}.when`, v, '{metric: <name>, in: [<values>]}');
      return undefined;
    }
    const metric = metricOf(p, `${path}.when.metric`, v.metric, kinds, model);
    if (!metric) return undefined;
    for (const k of kinds) {
      const def = model.kinds.get(k)?.metrics.get(metric);
      (v.in as unknown[]).forEach((x, i) => {
        const fits = def?.type === 'enum' ? def.values?.includes(x as string) : def?.type === 'boolean' ? typeof x === 'boolean' : typeof x === (def?.type === 'text' ? 'string' : 'number');
        if (def && !fits) p.add(`${path}.when.in[${i}]`, x, def.values ? `one of ${def.values.join(', ')} (${metric} of ${k})` : `a ${def.type} value of ${metric}`);
      });
    }
    return { metric, in: v.in as Gate['in'] };
  };
  switch (type) {
    case 'threshold': {
      const list = o.metrics ?? (o.metric === undefined ? undefined : [o.metric]);
      if (!Array.isArray(list) || list.length === 0) {
        p.add(`${path}.metrics`, list, 'a metric name or a non-empty list of them (metric: / metrics:)');
        return undefined;
      }
      const metrics = list.map((m, i) => metricOf(p, `${path}.${o.metrics ? `metrics[${i}]` : 'metric'}`, m, kinds, model, NUMERIC)).filter((m): m is string => !!m);
      const above = limit(p, `${path}.above`, o.above);
      const below = limit(p, `${path}.below`, o.below);
      if (!above && !below) p.add(path, o.id, 'above, below or both');
      const when = gate(o.when);
      return { ...base, type, metrics, ...(above ? { above } : {}), ...(below ? { below } : {}), ...(when ? { when } : {}) };
    }
    case 'deviation': {
      const metric = metricOf(p, `${path}.metric`, o.metric, kinds, model, NUMERIC);
      let setpoint: DeviationRule['setpoint'] | undefined;
      if (isObj(o.setpoint) && o.setpoint.metric !== undefined) {
        keys(p, `${path}.setpoint`, o.setpoint, ['metric']);
        const m = metricOf(p, `${path}.setpoint.metric`, o.setpoint.metric, kinds, model, NUMERIC);
        if (m) setpoint = { metric: m };
      } else setpoint = limit(p, `${path}.setpoint`, o.setpoint ?? null);
      const maxDeviation = num(p, `${path}.maxDeviation`, o.maxDeviation, 0);
      const when = gate(o.when);
      if (!metric || !setpoint || maxDeviation === undefined) return undefined;
      return { ...base, type, metric, setpoint, maxDeviation, ...(when ? { when } : {}) };
    }
    case 'silence': {
      const factor = num(p, `${path}.factor`, o.factor ?? 3, 1);
      return { ...base, type, factor: factor ?? 3, minMs: dur(p, `${path}.min`, o.min, 0) };
    }
    case 'increase': {
      const metric = metricOf(p, `${path}.metric`, o.metric, kinds, model, ['counter']);
      const windowMs = dur(p, `${path}.window`, o.window ?? null, 0);
      if (windowMs <= 0 && o.window !== undefined) p.add(`${path}.window`, o.window, 'a window longer than 0');
      const above = limit(p, `${path}.above`, o.above ?? null);
      if (!metric || !above || windowMs <= 0) return undefined;
      return { ...base, type, metric, windowMs, above };
    }
  }
}

function parseScope(p: Problems, path: string, v: unknown, model: ParkModel): Scope {
  if (v === undefined) return {};
  if (!isObj(v)) {
    p.add(path, v, 'an object with parks, enterprises, workshops, devices, exclude or rated');
    return {};
  }
  keys(p, path, v, ['parks', 'enterprises', 'workshops', 'devices', 'exclude', 'rated']);
  const all = [...model.devices.values()];
  const s: { -readonly [K in keyof Scope]: Scope[K] } = {};
  s.parks = ids(p, `${path}.parks`, v.parks, (x) => all.some((d) => d.park === x), 'park');
  s.enterprises = ids(p, `${path}.enterprises`, v.enterprises, (x) => all.some((d) => d.enterprise === x), 'enterprise');
  s.workshops = ids(p, `${path}.workshops`, v.workshops, (x) => all.some((d) => d.workshop === x), 'workshop');
  s.devices = ids(p, `${path}.devices`, v.devices, (x) => model.devices.has(x), 'device');
  s.exclude = ids(p, `${path}.exclude`, v.exclude, (x) => model.devices.has(x), 'device');
  if (v.rated !== undefined) {
    const r: Record<string, { min?: number; max?: number }> = {};
    if (!isObj(v.rated)) p.add(`${path}.rated`, v.rated, '{<figure>: {min?, max?}}');
    else for (const [k, x] of Object.entries(v.rated)) {
      if (!isObj(x)) { p.add(`${path}.rated.${k}`, x, '{min?: <number>, max?: <number>}'); continue; }
      keys(p, `${path}.rated.${k}`, x, ['min', 'max']);
      r[k] = {
        ...(x.min === undefined ? {} : { min: num(p, `${path}.rated.${k}.min`, x.min) }),
        ...(x.max === undefined ? {} : { max: num(p, `${path}.rated.${k}.max`, x.max) }),
      };
    }
    s.rated = r;
  }
  for (const k of Object.keys(s) as (keyof Scope)[]) if (s[k] === undefined) delete s[k];
  return s;
}

export function inScope(rule: AlarmRule, d: DeviceModel): boolean {
  const s = rule.scope;
  if (rule.kinds.length > 0 && !rule.kinds.includes(d.kind.id)) return false;
  if (s.parks && !s.parks.includes(d.park)) return false;
  if (s.enterprises && !s.enterprises.includes(d.enterprise)) return false;
  if (s.workshops && !s.workshops.includes(d.workshop)) return false;
  if (s.devices && !s.devices.includes(d.id)) return false;
  if (s.exclude?.includes(d.id)) return false;
  for (const [k, { min, max }] of Object.entries(s.rated ?? {})) {
    const v = d.rated[k];
    if (v === undefined || (min !== undefined && v < min) || (max !== undefined && v > max)) return false;
  }
  return true;
}

function resolve(p: Problems, path: string, l: Limit | undefined, d: DeviceModel): number | undefined {
  if (!l) return undefined;
  if ('value' in l) return l.value;
  const v = d.rated[l.rated] ?? l.default;
  if (v === undefined) p.add(`${path}.rated`, l.rated, `a rated figure of every device in scope (${d.id} has none; give default:)`);
  return v;
}

function bind(p: Problems, path: string, rule: AlarmRule, d: DeviceModel): BoundRule {
  const maxGapMs = rule.maxGapMs ?? 3 * d.intervalMs;
  switch (rule.type) {
    case 'threshold': {
      const above = resolve(p, `${path}.above`, rule.above, d);
      const below = resolve(p, `${path}.below`, rule.below, d);
      if (above !== undefined && below !== undefined && below + rule.hysteresis > above - rule.hysteresis) {
        p.add(`${path}.hysteresis`, rule.hysteresis, `a dead band that leaves a normal range for ${d.id} (below ${below}, above ${above})`);
      }
      return { rule, device: d, maxGapMs, ...(above === undefined ? {} : { above }), ...(below === undefined ? {} : { below }) };
    }
    case 'deviation': {
      const sp = 'metric' in rule.setpoint ? undefined : resolve(p, `${path}.setpoint`, rule.setpoint, d);
      if (rule.hysteresis > rule.maxDeviation) p.add(`${path}.hysteresis`, rule.hysteresis, `at most maxDeviation (${rule.maxDeviation})`);
      return { rule, device: d, maxGapMs, ...(sp === undefined ? {} : { setpoint: sp }) };
    }
    case 'silence':
      return { rule, device: d, maxGapMs, silenceMs: Math.max(rule.minMs, rule.factor * d.intervalMs) };
    case 'increase': {
      const above = resolve(p, `${path}.above`, rule.above, d);
      return { rule, device: d, maxGapMs: Infinity, ...(above === undefined ? {} : { above }) };
    }
  }
}

/** Validates parsed rule data (from YAML or JSON) against the model and binds it to devices. */
export function parseAlarmRules(data: unknown, model: ParkModel): AlarmRules {
  const p = new Problems();
  const root = isObj(data) ? data : (p.add('(root)', data, 'an object with a rules list'), {} as Obj);
  keys(p, '(root)', root, ['rules']);
  const raw = Array.isArray(root.rules) ? root.rules : (p.add('rules', root.rules, 'a list of rules'), []);
  const rules: AlarmRule[] = [];
  const seen = new Set<string>();
  raw.forEach((r, i) => {
    const path = `rules[${i}]`;
    if (!isObj(r)) return p.add(path, r, 'a rule object');
    const rule = parseRule(p, path, r, model);
    if (!rule) return;
    if (seen.has(rule.id)) p.add(`${path}.id`, rule.id, 'an id not used by another rule');
    seen.add(rule.id);
    rules.push(rule);
  });
  const byDevice = new Map<string, BoundRule[]>();
  rules.forEach((rule) => {
    const path = `rules[${raw.findIndex((r) => isObj(r) && r.id === rule.id)}]`;
    let n = 0;
    for (const d of model.devices.values()) {
      if (!inScope(rule, d)) continue;
      n++;
      const b = bind(p, path, rule, d);
      const list = byDevice.get(d.id);
      if (list) list.push(b);
      else byDevice.set(d.id, [b]);
    }
    if (n === 0) p.add(`${path}.scope`, rule.scope, 'a scope that matches at least one device of the rule\'s kinds');
  });
  if (p.list.length > 0) {
    throw new PlatformError('SP_ERR_ALARM_RULES', `alarm rules refused (${p.list.length} problem${p.list.length > 1 ? 's' : ''}):\n  ${p.list.join('\n  ')}`);
  }
  return { rules, byDevice };
}
