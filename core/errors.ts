/**
 * Every error the platform reports to a device, a service or an API user has a stable code,
 * declared once here with the message a human reads. README's "Error codes" table repeats this list
 * and a test (test/core-model.test.ts) fails when a code is missing from it.
 */
export const ERROR_CODES = {
  // message contract (device -> broker -> ingest)
  SP_ERR_TOPIC: 'topic does not follow the scheme sp/v1/{park}/{enterprise}/{workshop}/{device}/{telemetry|status}',
  SP_ERR_UNKNOWN_DEVICE: 'the device is not in the park model',
  SP_ERR_TOPIC_PATH: "the topic's park/enterprise/workshop do not match the device's place in the park model",
  SP_ERR_PAYLOAD_SIZE: 'the payload is larger than the configured maximum',
  SP_ERR_PAYLOAD_JSON: 'the payload is not valid UTF-8 JSON',
  SP_ERR_PAYLOAD_SHAPE: 'the payload is not a reading object or a {"readings": [...]} batch',
  SP_ERR_BATCH_SIZE: 'the batch holds more readings than allowed',
  SP_ERR_TIMESTAMP: 'the reading has no valid "ts" (epoch milliseconds or an RFC 3339 string)',
  SP_ERR_TS_FUTURE: 'the reading is timestamped too far in the future (device clock ahead?)',
  SP_ERR_TS_PAST: 'the reading is timestamped too far in the past (device clock behind, or stale data)',
  SP_ERR_UNKNOWN_METRIC: 'the metric is not declared for this device kind',
  SP_ERR_METRIC_TYPE: 'the metric value has the wrong type for its declaration',
  SP_ERR_NON_FINITE: 'the metric value is not a finite number',
  SP_ERR_COUNTER_NEGATIVE: 'a cumulative counter cannot be negative',
  SP_ERR_ENUM_VALUE: 'the value is not one of the values declared for this metric',
  SP_ERR_TEXT_LENGTH: 'the text value is longer than declared',
  SP_ERR_TEXT_NUL: 'the text value contains a NUL character',
  SP_ERR_NO_METRICS: 'the reading carries no metrics',
  SP_ERR_SEQ: 'the "seq" field must be a non-negative integer',
  SP_ERR_STATUS: 'the status payload must be {"state": "online"|"offline", ...}',
  SP_ERR_DB_REJECTED: 'InfluxDB refused the point (partial write)',
  SP_ERR_INGEST_INTERNAL: 'ingest failed on this message (a defect of ours); the message is kept on the dead-letter topic',
  // Sparkplug B host application (core/sparkplug, docs/sparkplug.md)
  SP_ERR_SPB_TOPIC: 'the topic does not follow spBv1.0/{group}/{NBIRTH|NDATA|NDEATH|NCMD|DBIRTH|DDATA|DDEATH|DCMD}/{edge node}[/{device}]',
  SP_ERR_SPB_PROTOBUF: 'the payload is not a valid Sparkplug B protobuf',
  SP_ERR_SPB_METRIC_COUNT: 'the Sparkplug payload carries more metrics than allowed',
  SP_ERR_SPB_METRIC_NAME: 'a Sparkplug metric name is empty, too long, or contains control characters, "+", "#" or ".."',
  SP_ERR_SPB_DATATYPE: 'the Sparkplug metric datatype is not supported (DataSet, Template, Bytes, File, PropertySet, arrays)',
  SP_ERR_SPB_NO_BIRTH: 'Sparkplug data or a device birth arrived before the birth it depends on; not stored, a rebirth was requested',
  SP_ERR_SPB_UNKNOWN_ALIAS: 'a Sparkplug metric alias or name is not in the birth certificate; the message is not stored, a rebirth was requested',
  SP_ERR_SPB_SEQ: 'the Sparkplug message has no seq or one outside 0–255; not stored, a rebirth was requested',
  SP_ERR_SPB_STALE: 'the edge node was asked to rebirth and has not yet; its data is not stored under possibly stale aliases',
  SP_ERR_SPB_UNMAPPED: 'the Sparkplug edge node, device or metric has no mapping in config/sparkplug.yaml',
  // cluster profile (cluster/)
  SP_ERR_NATS_NOT_READY: 'the NATS JetStream cluster did not become ready: no stream with the wanted replicas could be created in time',
  SP_ERR_NATS_STREAM: 'the JetStream stream TELE exists with another layout (partition count or retention) than this process is configured for',
  // park model and configuration
  SP_ERR_MODEL: 'the park model is invalid',
  SP_ERR_CONFIG: 'a configuration value is invalid',
  SP_ERR_ALARM_RULES: 'the alarm rules file (config/alarms.yaml) is invalid',
  // broker
  SP_ERR_AUTH: 'bad username or password',
  SP_ERR_CLIENT_ID: 'the client id must equal the device id (or start with the service account name)',
  SP_ERR_FORBIDDEN_TOPIC: 'this client may not publish or subscribe to that topic',
  SP_ERR_PACKET_TOO_LARGE: 'the MQTT packet exceeds the maximum packet size',
  SP_ERR_RATE_LIMITED: 'too many connection attempts; try again later',
  SP_ERR_AEDES_PATCH: 'an installed Aedes, mqemitter or mqtt.js differs from the version our patches were written for; review the patch named (docs/aedes-patches.md)',
  // api
  SP_ERR_API_KEY: 'missing or unknown API key',
  SP_ERR_API_ROLE: 'the API key does not have the role this route needs',
  SP_ERR_API_PARAM: 'a request parameter is invalid',
  SP_ERR_API_NOT_FOUND: 'no such resource',
  SP_ERR_API_UPSTREAM: 'a service the API depends on did not answer',
  SP_ERR_API_INTERNAL: 'the API failed unexpectedly; the details are in its log',
  SP_ERR_API_LOGIN: 'wrong console username or password',
  SP_ERR_API_LOGIN_LIMITED: 'too many failed console logins for this user or address; wait (Retry-After) and try again',
  SP_ERR_API_SESSION: 'the console session is missing, expired or logged out; log in again',
  SP_ERR_API_CSRF: 'a request made with a console session lacks the x-csrf-token header or comes from another origin',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code and a message that says what was wrong. */
export class PlatformError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail: string) {
    super(detail);
    this.name = 'PlatformError';
    this.code = code;
  }
}
