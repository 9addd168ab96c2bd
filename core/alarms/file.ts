/** Reads the alarm rules file (YAML or JSON) named by the caller; validation is rules.ts. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PlatformError } from '../errors.ts';
import type { ParkModel } from '../model.ts';
import { parseAlarmRules, type AlarmRules, type Severity } from './rules.ts';

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

// ---- The file as written (config/alarms.yaml): the raw shape `parseAlarmRules` reads. Types only;
// scripts/config-schemas.ts generates config/schema/alarms.schema.json from `AlarmRulesFile`. What
// the parser checks against the park model (kinds, devices, metrics and their types, rated
// figures, a scope that matches a device) `npm run check-config` reports.

/** A duration like 30s, 5m, 1h, 7d (units ms s m h d w), or 0. */
export type AlarmFileDuration = 0 | AlarmFileDurationText;
/** @pattern ^(0|[1-9][0-9]{0,8}(ms|s|m|h|d|w))$ */
export type AlarmFileDurationText = string;
/** @pattern ^[a-z0-9][a-z0-9_-]{0,47}$ */
export type AlarmFileId = string;
/** A metric name of the rule's kinds. @pattern ^[a-z][a-z0-9_]{0,47}$ */
export type AlarmFileMetric = string;
/** One id or a non-empty list of them. */
export type AlarmFileIds = AlarmFileId | [AlarmFileId, ...AlarmFileId[]];
/** A number, or a rated figure of the device with a fallback for devices without it. */
export type AlarmFileLimit = number | {
  /** @pattern ^[a-zA-Z][a-zA-Z0-9_]{0,63}$ */
  rated: string;
  default?: number;
};
export interface AlarmFileGate {
  metric: AlarmFileMetric;
  /** @minItems 1 */
  in: (string | number | boolean)[];
}
export interface AlarmFileScope {
  parks?: AlarmFileIds;
  enterprises?: AlarmFileIds;
  workshops?: AlarmFileIds;
  devices?: AlarmFileIds;
  exclude?: AlarmFileIds;
  rated?: Record<string, { min?: number; max?: number }>;
}
interface AlarmFileRuleBase {
  id: AlarmFileId;
  /** At most 200 characters are kept. */
  description?: string;
  /** The device kind (or kinds) the rule applies to; one of kind / kinds is required except for silence. */
  kind?: AlarmFileIds;
  kinds?: AlarmFileIds;
  severity: Severity;
  scope?: AlarmFileScope;
  for?: AlarmFileDuration;
  clearFor?: AlarmFileDuration;
  /** @minimum 0 */
  hysteresis?: number;
  maxGap?: AlarmFileDuration;
}
export interface ThresholdRuleFile extends AlarmFileRuleBase {
  type: 'threshold';
  metric?: AlarmFileMetric;
  /** @minItems 1 */
  metrics?: AlarmFileMetric[];
  above?: AlarmFileLimit;
  below?: AlarmFileLimit;
  when?: AlarmFileGate;
}
export interface DeviationRuleFile extends AlarmFileRuleBase {
  type: 'deviation';
  metric: AlarmFileMetric;
  setpoint: AlarmFileLimit | { metric: AlarmFileMetric };
  /** @minimum 0 */
  maxDeviation: number;
  when?: AlarmFileGate;
}
export interface SilenceRuleFile extends AlarmFileRuleBase {
  type: 'silence';
  /** Raised after factor × the device's intervalMs without a reading (default 3). @minimum 1 */
  factor?: number;
  min?: AlarmFileDuration;
}
export interface IncreaseRuleFile extends AlarmFileRuleBase {
  type: 'increase';
  metric: AlarmFileMetric;
  window: AlarmFileDurationText;
  above: AlarmFileLimit;
}
export type AlarmRuleFile = ThresholdRuleFile | DeviationRuleFile | SilenceRuleFile | IncreaseRuleFile;
/** The alarm rules file (config/alarms.yaml, docs/alarms.md). */
export interface AlarmRulesFile { rules: AlarmRuleFile[] }
