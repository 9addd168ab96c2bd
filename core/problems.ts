/**
 * Validation helpers shared by every config parser (park model, alarm rules, KPI standards and
 * production): every problem of a file is collected with its path, the value and what was expected, then refused at once.
 */
import { PlatformError } from './errors.ts';
import { show } from './ids.ts';

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export class Problems {
  readonly list: string[] = [];
  add(path: string, value: unknown, expected: string): void {
    this.list.push(`${path}: ${show(value)} — expected ${expected}`);
  }
  obj(path: string, v: unknown): Obj | undefined {
    if (isObj(v)) return v;
    this.add(path, v, 'an object');
    return undefined;
  }
  arr(path: string, v: unknown, optional = false): unknown[] {
    if (v === undefined && optional) return [];
    if (Array.isArray(v)) return v;
    this.add(path, v, 'a list');
    return [];
  }
  num(path: string, v: unknown, opts: { min?: number; exclusiveMin?: number; optional?: boolean } = {}): number | undefined {
    if (v === undefined && opts.optional) return undefined;
    const ok = typeof v === 'number' && Number.isFinite(v) && (opts.min === undefined || v >= opts.min) && (opts.exclusiveMin === undefined || v > opts.exclusiveMin);
    if (ok) return v;
    const range = opts.exclusiveMin !== undefined ? ` > ${opts.exclusiveMin}` : opts.min !== undefined ? ` >= ${opts.min}` : '';
    this.add(path, v, `a finite number${range}`);
    return undefined;
  }
  text(path: string, v: unknown, optional = false): string | undefined {
    if (v === undefined && optional) return undefined;
    if (typeof v === 'string' && v.length > 0 && v.length <= 300) return v;
    this.add(path, v, 'a non-empty string of at most 300 characters');
    return undefined;
  }
  oneOf<T extends string>(path: string, v: unknown, allowed: readonly T[]): T | undefined {
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.add(path, v, `one of ${allowed.join(', ')}`);
    return undefined;
  }
  keys(path: string, o: Obj, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) this.add(`${path}.${k}`, k, `one of the keys ${allowed.join(', ')}`);
  }
  /** Throws SP_ERR_CONFIG listing every problem, if any. */
  check(what: string): void {
    if (this.list.length > 0) {
      throw new PlatformError('SP_ERR_CONFIG', `${what} refused (${this.list.length} problem${this.list.length > 1 ? 's' : ''}):\n  ${this.list.join('\n  ')}`);
    }
  }
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    if (o instanceof Map) for (const v of o.values()) deepFreeze(v);
    else for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
