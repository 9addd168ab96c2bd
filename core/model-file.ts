/** Reads the park model file (YAML or JSON) named by PARK_MODEL or the default. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PlatformError } from './errors.ts';
import { parseParkModel, type ParkModel } from './model.ts';

export const DEFAULT_PARK_MODEL = fileURLToPath(new URL('../config/park.yaml', import.meta.url));

export function loadParkModel(file: string = process.env.PARK_MODEL ?? DEFAULT_PARK_MODEL): ParkModel {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PlatformError('SP_ERR_MODEL', `cannot read park model ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (e) {
    throw new PlatformError('SP_ERR_MODEL', `park model ${file} is not valid YAML: ${(e as Error).message}`);
  }
  try {
    return parseParkModel(data);
  } catch (e) {
    if (e instanceof PlatformError) throw new PlatformError(e.code, `${file}: ${e.message}`);
    throw e;
  }
}
