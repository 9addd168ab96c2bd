/** Reads config/standards.yaml (STANDARDS_FILE) and config/production.yaml (PRODUCTION_FILE). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PlatformError } from '../errors.ts';
import type { ParkModel } from '../model.ts';
import { emptyProduction, parseProduction, type Production } from './production.ts';
import { parseStandards, type Standards } from './standards.ts';

export const DEFAULT_STANDARDS_FILE = fileURLToPath(new URL('../../config/standards.yaml', import.meta.url));
export const DEFAULT_PRODUCTION_FILE = fileURLToPath(new URL('../../config/production.yaml', import.meta.url));

function readYaml(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  try {
    return parse(text);
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `${what} ${file} is not valid YAML: ${(e as Error).message}`);
  }
}

function named<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PlatformError) throw new PlatformError(e.code, `${file}: ${e.message}`);
    throw e;
  }
}

export function loadStandards(file: string = process.env.STANDARDS_FILE || DEFAULT_STANDARDS_FILE): Standards {
  return named(file, () => parseStandards(readYaml(file, 'standards file')));
}

/**
 * PRODUCTION_FILE when set (validated strictly). Otherwise config/production.yaml when its `zone`
 * is the model's zone; for another zone (a park model without its own production file) no
 * production data: energy, carbon and data quality work, products and OEE are empty.
 */
export function loadProduction(model: ParkModel, standards: Standards, file: string | undefined = process.env.PRODUCTION_FILE || undefined): Production {
  const f = file ?? DEFAULT_PRODUCTION_FILE;
  const data = readYaml(f, 'production file');
  if (file === undefined && (data as { zone?: unknown } | null)?.zone !== model.zone.id) return emptyProduction();
  return named(f, () => parseProduction(data, model, standards));
}
