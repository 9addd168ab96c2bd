/**
 * JSON schemas shared by several routes, added once with `addSchema` (OpenAPI components) and
 * referenced as `Name#`. Route-specific schemas sit with their route.
 */
import { ID_PATTERN, METRIC_PATTERN } from '../core/ids.ts';
import { METRIC_TYPES } from '../core/model.ts';

/** Pattern strings for querystring/params schemas. */
export const ID = { type: 'string', pattern: ID_PATTERN.source, maxLength: 48 } as const;
export const METRIC = METRIC_PATTERN.source;

export const VALUE = { type: ['number', 'string', 'boolean', 'null'] } as const;

export const shared = [
  {
    $id: 'Metric',
    type: 'object',
    required: ['name', 'type', 'value'],
    properties: {
      name: { type: 'string' },
      type: { type: 'string', enum: [...METRIC_TYPES] },
      unit: { type: 'string' },
      description: { type: 'string' },
      values: { type: 'array', items: { type: 'string' }, description: 'enum: the allowed values' },
      carrier: { type: 'string', description: 'energy carrier of a cumulative counter' },
      maxLength: { type: 'integer', description: 'text: the longest value accepted, in characters' },
      value: {
        type: 'object', additionalProperties: true,
        description: 'JSON Schema of the values ingest accepts for this metric (type, minimum/maximum, enum, maxLength, pattern)',
      },
    },
  },
  {
    $id: 'DeviceRef',
    type: 'object',
    required: ['id', 'name', 'kind'],
    properties: { id: { type: 'string' }, name: { type: 'string' }, kind: { type: 'string' } },
  },
  {
    $id: 'Rated',
    type: 'object',
    description: 'Rated figures (name -> number)',
    additionalProperties: { type: 'number' },
  },
  {
    $id: 'DeviceStatus',
    type: 'object',
    required: ['state', 'since'],
    properties: {
      state: { type: 'string', enum: ['online', 'offline', 'unknown'], description: 'From the retained MQTT status topic' },
      since: { type: ['integer', 'null'], description: 'Epoch ms of the status message (or of its receipt when it carried no ts)' },
      info: { type: 'string' },
    },
  },
  {
    $id: 'DeviceSummary',
    type: 'object',
    required: ['id', 'name', 'kind', 'park', 'enterprise', 'workshop', 'status', 'lastSeen', 'values'],
    properties: {
      id: { type: 'string' }, name: { type: 'string' }, kind: { type: 'string' },
      park: { type: 'string' }, enterprise: { type: 'string' }, workshop: { type: 'string' }, line: { type: 'string' },
      status: { $ref: 'DeviceStatus#' },
      lastSeen: { type: ['integer', 'null'], description: 'Epoch ms of the newest reading in InfluxDB within the look-back' },
      values: { type: 'object', additionalProperties: VALUE, description: 'Last value of each metric' },
    },
  },
] as const;
