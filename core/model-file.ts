/** Reads the park model file (YAML or JSON) named by PARK_MODEL or the default. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PlatformError } from './errors.ts';
import { parseParkModel, type MetricType, type ParkModel } from './model.ts';

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

// ---- The file as written (config/park.yaml): the raw shape `parseParkModel` reads. Types only;
// scripts/config-schemas.ts generates config/schema/park.schema.json from `ParkModelFile`. The
// cross-references (a device's kind is declared, ids are unique, a gateway owns existing
// devices) are the parser's: `npm run check-config` runs it.

/** An id: lower-case letters, digits, '-' or '_' (no MQTT wildcards or separators); ID_PATTERN in core/ids.ts. @pattern ^[a-z0-9][a-z0-9_-]{0,47}$ */
export type ModelFileId = string;
/** A non-empty name of at most 200 characters. @minLength 1 @maxLength 200 */
export type ModelFileText = string;
/** Reporting interval, milliseconds. @asType integer @minimum 100 @maximum 86400000 */
export type ModelFileIntervalMs = number;
/** Rated figures: name (letters, digits, _) to a finite number. @propertyNames {"pattern": "^[a-zA-Z][a-zA-Z0-9_]{0,63}$"} */
export type ModelFileRated = Record<string, number>;
/** An enum value: a lower-case word. @pattern ^[a-z0-9_]{1,32}$ */
export type ModelFileEnumValue = string;

/**
 * A metric of a device kind. number, counter and integer need a unit; enum needs values; text
 * may declare maxLength (default TEXT_MAX_LENGTH_DEFAULT); carrier only on counters.
 * @if {"properties": {"type": {"enum": ["number", "counter", "integer"]}}}
 * @then {"required": ["unit"]}
 */
export interface MetricFile {
  type: MetricType;
  /** Unit symbol such as kWh, degC or m3/h. @minLength 1 @maxLength 32 */
  unit?: string;
  description?: ModelFileText;
  /** enum: the allowed values. @minItems 1 */
  values?: ModelFileEnumValue[];
  /** text: longest value in characters. @asType integer @minimum 1 @maximum 4096 */
  maxLength?: number;
  /** counter: the energy carrier it meters (a carrier of config/standards.yaml). */
  carrier?: ModelFileId;
}

export interface DeviceKindFile {
  description: ModelFileText;
  /** Default reporting interval of devices of this kind (5000 when absent). */
  intervalMs?: ModelFileIntervalMs;
  /** Metric name (`^[a-z][a-z0-9_]{0,47}$`, not seq or time) to its declaration. @minProperties 1 @propertyNames {"pattern": "^[a-z][a-z0-9_]{0,47}$", "not": {"enum": ["seq", "time"]}} */
  metrics: Record<string, MetricFile>;
  rated?: ModelFileRated;
}

export interface DeviceFile {
  /** Unique across the whole zone; also the device's MQTT client id and username. */
  id: ModelFileId;
  name?: ModelFileText;
  /** A kind declared under `kinds`. */
  kind: ModelFileId;
  intervalMs?: ModelFileIntervalMs;
  /** Overrides of the kind's rated figures. */
  rated?: ModelFileRated;
}

export interface LineFile { id: ModelFileId; name?: ModelFileText; devices?: DeviceFile[] }
export interface WorkshopFile { id: ModelFileId; name: ModelFileText; lines?: LineFile[]; devices?: DeviceFile[] }
export interface EnterpriseFile { id: ModelFileId; name: ModelFileText; nameZh?: ModelFileText; sector: ModelFileId; workshops: WorkshopFile[] }
export interface ParkSiteFile { id: ModelFileId; name: ModelFileText; nameZh?: ModelFileText; enterprises: EnterpriseFile[] }
export interface GatewayFile {
  /** @pattern ^gw-[a-z0-9_-]{0,45}$ */
  id: string;
  name?: ModelFileText;
  /** Ids of the devices this gateway publishes for (each owned by one gateway at most). */
  devices: ModelFileId[];
}

/** The park model file (config/park.yaml, docs/park-model.md). */
export interface ParkModelFile {
  zone: { id: ModelFileId; name: ModelFileText; nameZh?: ModelFileText };
  /** Device kind id to its declaration. @propertyNames {"pattern": "^[a-z0-9][a-z0-9_-]{0,47}$"} */
  kinds: Record<string, DeviceKindFile>;
  parks: ParkSiteFile[];
  gateways?: GatewayFile[];
}
