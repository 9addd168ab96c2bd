/**
 * Writes docs/asyncapi.yaml, the AsyncAPI 3.0 document of the MQTT contract (docs/contract.md is
 * its prose), generated from the code that enforces it: topics from core/contract.ts,
 * core/alarms/events.ts and core/sparkplug/topic.ts; payload schemas built from the contract's
 * own constants and value constraints (`metricConstraints`), the dead-letter and alarm-event
 * schemas from their TypeScript types (ts-json-schema-generator); ports from the broker's env
 * table. test/asyncapi.test.ts holds the payload schemas and `parseTelemetry` / `parseStatus`
 * to the same verdicts over a corpus of valid and hostile payloads.
 *   node --import tsx scripts/asyncapi.ts           rewrite it
 *   node --import tsx scripts/asyncapi.ts --check   exit 1 when it differs
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createGenerator } from 'ts-json-schema-generator';
import { stringify } from 'yaml';
import { BROKER_ENV } from '../broker/config.ts';
import { ALARM_TOPIC } from '../core/alarms/events.ts';
import { DEFAULT_LIMITS, DLQ_TOPIC, metricConstraints, RFC3339, STATUS_INFO_MAX_LENGTH, SYS_PREFIX, TOPIC_ROOT, type ContractLimits } from '../core/contract.ts';
import { ID_PATTERN, METRIC_PATTERN } from '../core/ids.ts';
import { RESERVED_METRICS, type DeviceKind } from '../core/model.ts';
import { DEVICE_MESSAGE_TYPES, NODE_TYPES, SPB_NAMESPACE } from '../core/sparkplug/topic.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ASYNCAPI_FILE = 'docs/asyncapi.yaml';

type Json = Record<string, unknown>;

/** ECMAScript's largest time value (ms): the bound `parseTs` puts on an epoch-ms `ts`. */
const MAX_TIME_MS = 8.64e15;
/** No NUL character: the pattern `metricConstraints` gives text metrics. */
const NO_NUL = metricConstraints({ name: 'text', type: 'text' }).pattern as string;

function timestampSchema(window: ContractLimits | undefined): Json {
  const windowText = window
    ? ` At most ${window.maxFutureMs / 60_000} minutes ahead of the platform clock and at most ${window.maxPastMs / 86_400_000} days old: a rule relative to the clock that JSON Schema cannot state (ingest refuses with SP_ERR_TS_FUTURE / SP_ERR_TS_PAST).`
    : '';
  return {
    description: `Device time of the measurement: epoch milliseconds (integer, UTC) or an RFC 3339 time with zone.${windowText} An RFC 3339 string must also name a time Date.parse accepts (month 01-12, seconds below 60, zone below 24 h), which the pattern does not check.`,
    oneOf: [
      { type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: MAX_TIME_MS, description: 'epoch milliseconds' },
      { type: 'string', pattern: RFC3339.source, description: 'RFC 3339 date-time with zone (Z or +hh:mm)' },
    ],
    examples: [1764072000000, '2026-11-25T12:00:00Z'],
  };
}

function metricsSchema(kind: DeviceKind | undefined): Json {
  if (kind) {
    return {
      type: 'object', minProperties: 1, additionalProperties: false,
      description: `Metrics of kind ${kind.id}: any non-empty subset.`,
      properties: Object.fromEntries([...kind.metrics.values()].map((m) => [m.name, metricConstraints(m)])),
    };
  }
  return {
    type: 'object', minProperties: 1,
    description: 'Metric name to value, at least one. Which names a device may send, and the type of each value, are '
      + 'declared per device kind in the park model and cannot be stated in one schema for every device: GET /api/v1/kinds '
      + 'gives, for every metric of every kind, `value`, the JSON Schema ingest applies (number; counter: minimum 0; integer: '
      + 'safe integer; boolean; enum values; text: maxLength, default 256, no NUL). A number must be a finite IEEE-754 double '
      + '(a literal such as 1e400 is refused). Text length is counted in UTF-16 code units, where JSON Schema\'s maxLength '
      + 'counts code points: text with characters outside the Basic Multilingual Plane can be refused below maxLength code points.',
    propertyNames: { pattern: METRIC_PATTERN.source, not: { enum: [...RESERVED_METRICS] } },
    additionalProperties: { type: ['number', 'boolean', 'string'], pattern: NO_NUL },
  };
}

function readingSchema(kind: DeviceKind | undefined, limits: ContractLimits): Json {
  return {
    type: 'object', required: ['ts', 'metrics'], additionalProperties: false,
    properties: {
      ts: timestampSchema(limits),
      seq: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Optional count of the device\'s readings, stored and used to account for loss.' },
      metrics: metricsSchema(kind),
    },
  };
}

/**
 * The telemetry payload: one reading or a batch. With a device kind, the metrics are that
 * kind's (what ingest checks for a device of it); without, any metric (the document's form).
 */
export function telemetryPayloadSchema(kind?: DeviceKind, limits: ContractLimits = DEFAULT_LIMITS): Json {
  const reading = readingSchema(kind, limits);
  return {
    description: `UTF-8 JSON of at most ${limits.maxPayloadBytes} bytes (a limit on the bytes, before JSON: SP_ERR_PAYLOAD_SIZE), one reading or a batch of 1-${limits.maxBatch}. The whole message is refused if any reading is bad.`,
    oneOf: [
      { ...reading, title: 'Reading' },
      {
        title: 'Batch', type: 'object', required: ['readings'], additionalProperties: false,
        properties: { readings: { type: 'array', minItems: 1, maxItems: limits.maxBatch, items: reading } },
      },
    ],
  };
}

export function statusPayloadSchema(): Json {
  return {
    type: 'object', required: ['state'],
    description: 'Keys other than these are ignored.',
    properties: {
      state: { type: 'string', enum: ['online', 'offline'] },
      ts: timestampSchema(undefined),
      info: { type: 'string', maxLength: STATUS_INFO_MAX_LENGTH, pattern: NO_NUL, description: 'Free text (firmware, reason); stored, never parsed. Length in UTF-16 code units.' },
    },
  };
}

/** Schemas of types the platform publishes, from their TypeScript declarations. */
function typeSchemas(root: string): { deadLetter: Json; alarmEvent: Json } {
  const gen = createGenerator({
    path: `${root}/core/{contract,alarms/events}.ts`, tsconfig: `${root}/tsconfig.json`,
    skipTypeCheck: true, expose: 'none', topRef: false, jsDoc: 'extended', additionalProperties: false, sortProps: true,
  });
  const clean = (s: Json): Json => Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$schema'));
  return { deadLetter: clean(gen.createSchema('DeadLetter') as Json), alarmEvent: clean(gen.createSchema('AlarmEvent') as Json) };
}

const idParam = (what: string, example: string): Json => ({
  description: `${what} id from the park model (config/park.yaml); matches ${ID_PATTERN.source}.`, examples: [example],
});
const mqtt = (qos: 0 | 1, retain: boolean): Json => ({ mqtt: { qos, retain, bindingVersion: '0.2.0' } });
const ref = (path: string): Json => ({ $ref: path });
const port = (key: 'MQTT_PORT' | 'MQTT_TLS_PORT' | 'MQTT_WS_PORT' | 'MQTT_WSS_PORT'): number => BROKER_ENV[key].default as number;

/** The AsyncAPI document as data. */
export function asyncApiDocument(root = ROOT): Json {
  const { version, license } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string; license?: string };
  const { deadLetter, alarmEvent } = typeSchemas(root);
  const server = (host: string, protocol: string, title: string, description: string, pathname?: string): Json => ({
    host, protocol, protocolVersion: '3.1.1', title, description, ...(pathname ? { pathname } : {}),
    variables: { host: { default: 'localhost', description: 'the broker\'s host name' } },
    security: [ref('#/components/securitySchemes/deviceCredentials')],
  });
  const tls = 'TLS with the operator\'s server certificate (only where one is configured); the same username and password.';
  const devicePath = `${TOPIC_ROOT}/{park}/{enterprise}/{workshop}/{device}`;
  const placeParams = {
    park: idParam('Park', 'guangfu'), enterprise: idParam('Enterprise', 'weimei'),
    workshop: idParam('Workshop', 'tile'), device: idParam('Device', 'wm-kiln-1'),
  };
  const now = 1764072000000;
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Smart-park telemetry: MQTT contract',
      version,
      ...(license ? { license: { name: license } } : {}),
      description: [
        'What a device (or an edge gateway speaking for devices) sends to the platform, and what the platform publishes itself. ',
        'docs/contract.md is the prose of this contract; this document is generated from the code that enforces it (scripts/asyncapi.ts). ',
        'Operations named `device…` / `edgeNode…` are what a device or a Sparkplug edge node does (send); `platform…` are what the platform ',
        '(broker and ingest) does: receive readings, send status, dead letters and alarms.\n\n',
        'A device may publish only to its own two topics (anything else closes the connection: MQTT 3.1.1 cannot refuse one PUBLISH) and ',
        'subscribe only below its own prefix. Every message on a device topic is validated by ingest; a refused one is published on the dead-letter ',
        `topic with its code. Topics under ${SYS_PREFIX}/ are the platform's: devices can neither publish nor subscribe there.`,
      ].join(''),
    },
    defaultContentType: 'application/json',
    servers: {
      mqtt: server(`{host}:${port('MQTT_PORT')}`, 'mqtt', 'MQTT over TCP', 'Plain TCP. MQTT 3.1.1 (3.1 accepted, 5 not supported).'),
      mqtts: server(`{host}:${port('MQTT_TLS_PORT')}`, 'secure-mqtt', 'MQTT over TLS', tls),
      ws: server(`{host}:${port('MQTT_WS_PORT')}`, 'ws', 'MQTT over WebSocket', 'WebSocket, subprotocol `mqtt`, at /mqtt.', '/mqtt'),
      wss: server(`{host}:${port('MQTT_WSS_PORT')}`, 'wss', 'MQTT over secure WebSocket', `WebSocket at /mqtt over ${tls}`, '/mqtt'),
    },
    channels: {
      telemetry: {
        address: `${devicePath}/telemetry`, title: 'Device telemetry',
        description: 'Readings of one device. Publish with QoS 1; a reading is identified by (device, ts), so resending one is harmless.',
        parameters: placeParams, messages: { telemetry: ref('#/components/messages/telemetry') },
      },
      status: {
        address: `${devicePath}/status`, title: 'Device status',
        description: 'Retained online / offline state. The broker publishes it when a device\'s connection opens and closes; a device may too (QoS 1, retain, and as its last will).',
        parameters: placeParams, messages: { status: ref('#/components/messages/status') },
      },
      deadLetters: {
        address: DLQ_TOPIC, title: 'Dead letters',
        description: 'Every refused message with its code and reason (platform only; read-only for services).',
        messages: { deadLetter: ref('#/components/messages/deadLetter') },
      },
      alarms: {
        address: ALARM_TOPIC, title: 'Alarm events',
        description: 'Raise and clear events of the alarm rules (config/alarms.yaml), QoS 1, not retained (docs/alarms.md).',
        messages: { alarmEvent: ref('#/components/messages/alarmEvent') },
      },
      sparkplugNode: {
        address: `${SPB_NAMESPACE}/{group}/{nodeMessageType}/{edgeNode}`, title: 'Sparkplug B edge node',
        description: 'Sparkplug 3.0 edge-node messages (docs/sparkplug.md); config/sparkplug.yaml maps group, node and metrics to park devices. An edge node publishes NBIRTH, NDATA, NDEATH; the host sends NCMD (rebirth).',
        parameters: {
          group: { description: 'Sparkplug group id.', examples: ['rongchang'] },
          nodeMessageType: { enum: [...NODE_TYPES], description: 'Message type.' },
          edgeNode: { description: 'Edge node id.', examples: ['rf-edge-1'] },
        },
        messages: { sparkplugPayload: ref('#/components/messages/sparkplugPayload') },
      },
      sparkplugDevice: {
        address: `${SPB_NAMESPACE}/{group}/{deviceMessageType}/{edgeNode}/{sparkplugDevice}`, title: 'Sparkplug B device',
        description: 'Sparkplug 3.0 device messages: DBIRTH, DDATA, DDEATH from the edge node, DCMD from the host.',
        parameters: {
          group: { description: 'Sparkplug group id.', examples: ['rongchang'] },
          deviceMessageType: { enum: [...DEVICE_MESSAGE_TYPES], description: 'Message type.' },
          edgeNode: { description: 'Edge node id.', examples: ['rf-edge-1'] },
          sparkplugDevice: { description: 'Sparkplug device id.', examples: ['ChilledStore1'] },
        },
        messages: { sparkplugPayload: ref('#/components/messages/sparkplugPayload') },
      },
      sparkplugState: {
        address: `${SPB_NAMESPACE}/STATE/{hostId}`, title: 'Sparkplug primary host state',
        description: 'Retained, QoS 1; the will carries online: false with the same timestamp (Sparkplug 3.0 §7.1).',
        parameters: { hostId: { description: 'hostId of config/sparkplug.yaml.', examples: ['smart-park-host'] } },
        messages: { sparkplugState: ref('#/components/messages/sparkplugState') },
      },
    },
    operations: {
      deviceSendTelemetry: {
        action: 'send', channel: ref('#/channels/telemetry'), title: 'A device publishes readings',
        description: 'Keep a reading until its PUBACK arrives; resend on reconnect.',
        bindings: mqtt(1, false), messages: [ref('#/channels/telemetry/messages/telemetry')],
      },
      deviceSendStatus: {
        action: 'send', channel: ref('#/channels/status'), title: 'A device publishes its status (optional)',
        bindings: mqtt(1, true), messages: [ref('#/channels/status/messages/status')],
      },
      platformReceiveTelemetry: {
        action: 'receive', channel: ref('#/channels/telemetry'), title: 'Ingest receives readings',
        description: 'Persistent session, QoS 1; acknowledged only after validation and the spool write.',
        bindings: mqtt(1, false), messages: [ref('#/channels/telemetry/messages/telemetry')],
      },
      platformReceiveStatus: {
        action: 'receive', channel: ref('#/channels/status'), title: 'Ingest receives status',
        bindings: mqtt(1, true), messages: [ref('#/channels/status/messages/status')],
      },
      platformSendStatus: {
        action: 'send', channel: ref('#/channels/status'), title: 'The broker publishes a device\'s status on connect and disconnect',
        bindings: mqtt(1, true), messages: [ref('#/channels/status/messages/status')],
      },
      platformSendDeadLetter: {
        action: 'send', channel: ref('#/channels/deadLetters'), title: 'Ingest publishes a refused message',
        bindings: mqtt(1, false), messages: [ref('#/channels/deadLetters/messages/deadLetter')],
      },
      platformSendAlarm: {
        action: 'send', channel: ref('#/channels/alarms'), title: 'Ingest publishes alarm raises and clears',
        bindings: mqtt(1, false), messages: [ref('#/channels/alarms/messages/alarmEvent')],
      },
      edgeNodeSendNode: {
        action: 'send', channel: ref('#/channels/sparkplugNode'), title: 'A Sparkplug edge node publishes NBIRTH / NDATA / NDEATH',
        bindings: mqtt(1, false), messages: [ref('#/channels/sparkplugNode/messages/sparkplugPayload')],
      },
      edgeNodeSendDevice: {
        action: 'send', channel: ref('#/channels/sparkplugDevice'), title: 'A Sparkplug edge node publishes DBIRTH / DDATA / DDEATH',
        bindings: mqtt(1, false), messages: [ref('#/channels/sparkplugDevice/messages/sparkplugPayload')],
      },
      platformReceiveSparkplugNode: {
        action: 'receive', channel: ref('#/channels/sparkplugNode'), title: 'The host application receives edge-node messages',
        bindings: mqtt(1, false), messages: [ref('#/channels/sparkplugNode/messages/sparkplugPayload')],
      },
      platformReceiveSparkplugDevice: {
        action: 'receive', channel: ref('#/channels/sparkplugDevice'), title: 'The host application receives device messages',
        bindings: mqtt(1, false), messages: [ref('#/channels/sparkplugDevice/messages/sparkplugPayload')],
      },
      platformSendSparkplugState: {
        action: 'send', channel: ref('#/channels/sparkplugState'), title: 'The host application publishes its STATE',
        bindings: mqtt(1, true), messages: [ref('#/channels/sparkplugState/messages/sparkplugState')],
      },
    },
    components: {
      messages: {
        telemetry: {
          name: 'telemetry', title: 'Telemetry', contentType: 'application/json', payload: telemetryPayloadSchema(),
          examples: [
            { name: 'reading', payload: { ts: now, seq: 1832, metrics: { t_firing: 1189.6, gas_flow: 648.2, run_state: 'running' } } },
            { name: 'batch', payload: { readings: [{ ts: '2026-11-25T12:00:00Z', metrics: { temp: 4.8, compressor_on: true } }, { ts: '2026-11-25T12:00:10.000Z', metrics: { temp: 4.6, compressor_on: true } }] } },
          ],
        },
        status: {
          name: 'status', title: 'Status', contentType: 'application/json', payload: statusPayloadSchema(),
          examples: [{ name: 'online', payload: { state: 'online', ts: now, info: 'fw 2.3.1' } }, { name: 'will', payload: { state: 'offline' } }],
        },
        deadLetter: {
          name: 'deadLetter', title: 'Dead letter', contentType: 'application/json', payload: deadLetter,
          description: 'The payload is cut to its first 4096 bytes. The codes are listed in README under "Error codes".',
        },
        alarmEvent: { name: 'alarmEvent', title: 'Alarm event', contentType: 'application/json', payload: alarmEvent },
        sparkplugPayload: {
          name: 'sparkplugPayload', title: 'Sparkplug B payload', contentType: 'application/octet-stream',
          description: 'A Sparkplug B Payload in protobuf (core/sparkplug/sparkplug_b.proto, the Sparkplug 3.0 schema); at most 256 KiB and 1000 metrics.',
          payload: { type: 'string', format: 'binary' },
        },
        sparkplugState: {
          name: 'sparkplugState', title: 'Sparkplug host STATE', contentType: 'application/json',
          payload: { type: 'object', required: ['online', 'timestamp'], properties: { online: { type: 'boolean' }, timestamp: { type: 'integer', description: 'epoch ms; the same in the birth and the will' } } },
          examples: [{ name: 'online', payload: { online: true, timestamp: now } }],
        },
      },
      securitySchemes: {
        deviceCredentials: {
          type: 'userPassword',
          description: 'MQTT CONNECT username and password. A device logs in with username = client id = its device id and its own secret '
            + '(issued with `npm run credentials`, stored hashed by the broker); an edge gateway (gw-…), a Sparkplug edge node (spb-…) and the '
            + 'services (svc-…) use their own accounts the same way. Refused: return code 4 for a wrong password or unknown account, 2 when the '
            + 'client id is not the username, 5 after too many failed logins from one address. On the mqtts and wss servers this runs inside TLS.',
        },
      },
    },
  };
}

/** YAML written to read the same under YAML 1.1 (js-yaml, PyYAML: timestamps, on/off) and 1.2: such strings are quoted. */
export function asyncApiYaml(root = ROOT): string {
  return `# generated by scripts/asyncapi.ts from core/contract.ts and the code it names; edit the code, then run npm run asyncapi\n${stringify(asyncApiDocument(root), { lineWidth: 0, aliasDuplicateObjects: false, version: '1.1' })}`;
}

/** The committed document (under docRoot) when it differs from what the code generates. */
export function drift(root = ROOT, docRoot = root): { file: string; want: string }[] {
  const want = asyncApiYaml(root);
  let have = '';
  try { have = readFileSync(`${docRoot}/${ASYNCAPI_FILE}`, 'utf8'); } catch { /* missing */ }
  return have === want ? [] : [{ file: ASYNCAPI_FILE, want }];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const d = drift();
  for (const { file, want } of d) {
    if (check) console.error(`${file}: differs from the code (run: npm run asyncapi)`);
    else {
      writeFileSync(`${ROOT}/${file}`, want);
      console.log(`wrote ${file}`);
    }
  }
  if (d.length === 0) console.log(`asyncapi: ${ASYNCAPI_FILE} matches the code`);
  process.exitCode = check && d.length > 0 ? 1 : 0;
}
