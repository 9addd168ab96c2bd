/**
 * Environment tables. Every variable a service reads is declared once, in its service's table,
 * with its default, unit, range and whether it is a secret. `readEnv` validates a whole table at
 * start (every problem named at once: key, value, what was expected) and returns the values
 * frozen. scripts/env-docs.ts writes each folder README's configuration table and `.env.example`
 * from the same tables; test/env-docs.test.ts fails when they drift.
 */
import { readFileSync } from 'node:fs';
import { PlatformError } from './errors.ts';
import { show } from './ids.ts';

interface Common {
  /** What it does, for the README (markdown). */
  doc: string;
  /** Never printed; NAME_FILE may name a file holding it instead (Docker/systemd secrets). */
  secret?: boolean;
  /** Must be set: what to say it should be when it is not. */
  required?: string;
}
export interface IntVar extends Common {
  type: 'int';
  default: number;
  range: readonly [number, number];
  unit?: 'ms' | 's' | 'bytes' | 'messages' | 'hours' | 'count' | 'points';
}
export interface TextVar extends Common {
  type: 'text' | 'path';
  /** '' = unset (the doc says what unset means). */
  default: string;
  /** A check of a set value: the expectation to report, or undefined when it is fine. */
  check?: (value: string) => string | undefined;
}
export interface UrlVar extends Common {
  type: 'url';
  default: string;
  protocols: readonly string[];
  /** What to say a wrong value should be, instead of the list of schemes. */
  expected?: string;
}
export interface EnumVar extends Common {
  type: 'enum';
  default: string;
  values: readonly string[];
}
export type EnvVar = IntVar | TextVar | UrlVar | EnumVar;
export type EnvTable = Readonly<Record<string, EnvVar>>;

export type EnvValues<T extends EnvTable> = { readonly [K in keyof T]: T[K] extends IntVar ? number : string };

/** Declares a table (identity, typed): `const ENV = envTable({ MQTT_PORT: { type: 'int', … } })`. */
export const envTable = <T extends EnvTable>(t: T): T => Object.freeze(t);

/** URL schemes mqtt.js connects with. */
export const MQTT_PROTOCOLS = ['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ssl:', 'ws:', 'wss:'] as const;

/** The variables every service reads alike. */
export const SHARED_ENV = envTable({
  LOG_LEVEL: { type: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], doc: 'pino log level' },
  PARK_MODEL: { type: 'path', default: 'config/park.yaml', doc: 'the park model (devices, kinds, places); `docs/park-model.md`' },
});

export const INFLUX_ENV = envTable({
  INFLUX_URL: { type: 'url', default: 'http://127.0.0.1:8086', protocols: ['http:', 'https:'], doc: 'InfluxDB base URL (1.x, or 2.x/3.x through their v1-compatible endpoints)' },
  INFLUX_DB: { type: 'text', default: 'smartpark', check: (v) => (/^[A-Za-z0-9_.-]{1,64}$/.test(v) ? undefined : 'a database name (letters, digits, _ . -)'), doc: 'database (2.x: the DBRP-mapped name)' },
  INFLUX_RP: { type: 'text', default: '', doc: 'retention policy; unset = the database default' },
  INFLUX_TOKEN: { type: 'text', default: '', secret: true, doc: 'token (InfluxDB 2.x/3.x), sent as `Authorization: Token …`' },
  INFLUX_USERNAME: { type: 'text', default: '', doc: 'user (InfluxDB 1.x with auth-enabled)' },
  INFLUX_PASSWORD: { type: 'text', default: '', secret: true, doc: "that user's password" },
});

const file = (f: string) => readFileSync(f, 'utf8').trim();

function parse(name: string, v: EnvVar, env: NodeJS.ProcessEnv, problems: string[]): number | string {
  let raw = env[name];
  if ((raw === undefined || raw === '') && v.secret && env[`${name}_FILE`]) {
    try {
      raw = file(env[`${name}_FILE`]!);
    } catch (e) {
      problems.push(`${name}_FILE=${show(env[`${name}_FILE`])}: expected a readable file holding ${name} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      return v.default;
    }
  }
  if (raw === undefined || raw === '') {
    if (v.required) problems.push(`${name} is not set: expected ${v.required}${v.secret ? ` (or ${name}_FILE naming a file that holds it)` : ''}`);
    return v.default;
  }
  const said = v.secret ? '(secret)' : show(raw);
  const bad = (expected: string) => {
    problems.push(`${name}=${said}: expected ${expected}`);
    return v.default;
  };
  switch (v.type) {
    case 'int': {
      const n = Number(raw);
      const [lo, hi] = v.range;
      return /^-?\d+$/.test(raw.trim()) && n >= lo && n <= hi ? n : bad(`an integer from ${lo} to ${hi}`);
    }
    case 'enum':
      return v.values.includes(raw) ? raw : bad(`one of ${v.values.join(', ')}`);
    case 'url': {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        return bad(v.expected ?? `a URL (${v.protocols.join(', ')})`);
      }
      return v.protocols.includes(u.protocol) ? raw : bad(v.expected ?? `a URL with scheme ${v.protocols.join(', ')}`);
    }
    default: {
      const expected = v.check?.(raw);
      return expected ? bad(expected) : raw;
    }
  }
}

/**
 * Reads and validates every variable of a table. Unset (or empty) means the default. Throws one
 * SP_ERR_CONFIG naming every problem; a single problem is the whole message, as before tables.
 */
export function readEnv<T extends EnvTable>(table: T, env: NodeJS.ProcessEnv = process.env, what = 'environment'): EnvValues<T> {
  const problems: string[] = [];
  const out: Record<string, number | string> = {};
  for (const [name, v] of Object.entries(table)) out[name] = parse(name, v, env, problems);
  if (problems.length === 1) throw new PlatformError('SP_ERR_CONFIG', problems[0]!);
  if (problems.length > 1) throw new PlatformError('SP_ERR_CONFIG', `${what} refused (${problems.length} problems):\n  ${problems.join('\n  ')}`);
  return Object.freeze(out) as EnvValues<T>;
}

// ---- documentation -------------------------------------------------------------------------

const UNIT: Record<string, string> = { ms: 'ms', s: 's', bytes: 'bytes', messages: 'messages', hours: 'hours', count: '', points: 'points' };

function defaultCell(v: EnvVar): string {
  if (v.required) return '**required**';
  if (v.secret) return 'none (secret)';
  if (v.default === '') return 'unset';
  return `\`${v.default}\``;
}

function rangeCell(v: EnvVar): string {
  switch (v.type) {
    case 'int': return `${v.range[0]} … ${v.range[1]}${v.unit && UNIT[v.unit] ? ` ${UNIT[v.unit]}` : ''}`;
    case 'enum': return v.values.join(', ');
    case 'url': return v.protocols.map((p) => `${p}//`).join(' ');
    case 'path': return 'file path';
    default: return '';
  }
}

/** The README table of a service: key, default, range and unit, meaning. */
export function envMarkdown(table: EnvTable): string {
  const rows = Object.entries(table).map(([name, v]) => {
    const key = v.secret ? `\`${name}\` (or \`${name}_FILE\`)` : `\`${name}\``;
    return `| ${key} | ${defaultCell(v)} | ${rangeCell(v)} | ${v.doc.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`;
  });
  return ['| key | default | range | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** A section of `.env.example`: every variable commented at its default (secrets by their _FILE form). */
export function envExample(title: string, table: EnvTable, seen = new Set<string>()): string {
  const lines = [`# ---- ${title} ----`];
  for (const [name, v] of Object.entries(table)) {
    if (seen.has(name)) continue;
    seen.add(name);
    const range = rangeCell(v);
    lines.push(`# ${v.doc.replace(/`/g, '').replace(/\n/g, ' ')}${range ? ` [${range}]` : ''}`);
    lines.push(v.secret ? `# ${name}_FILE=` : `# ${name}=${v.default}`);
  }
  return lines.join('\n');
}
