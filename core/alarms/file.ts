/** Reads the alarm rules file (YAML or JSON) named by the caller; validation is rules.ts. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PlatformError } from '../errors.ts';
import type { ParkModel } from '../model.ts';
import { parseAlarmRules, type AlarmRules } from './rules.ts';

export const DEFAULT_ALARM_RULES = fileURLToPath(new URL('../../config/alarms.yaml', import.meta.url));

export function loadAlarmRules(file: string, model: ParkModel): AlarmRules {
  let data: unknown;
  try {
    data = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PlatformError('SP_ERR_ALARM_RULES', `cannot read alarm rules ${file}: ${(e as Error).message}`);
  }
  try {
    return parseAlarmRules(data, model);
  } catch (e) {
    if (e instanceof PlatformError) throw new PlatformError(e.code, `${file}: ${e.message}`);
    throw e;
  }
}
