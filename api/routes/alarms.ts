/**
 * Alarms raised by ingest's rules (stored in InfluxDB `alarm_events`), and their acknowledgements
 * (`alarm_acks`, written here):
 *   GET  /api/v1/alarms?state=open|all&park=&enterprise=&workshop=&device=&rule=&severity=&from=&to=&limit=   (viewer)
 *   POST /api/v1/alarms/:id/ack  {"note"?}                                                                     (engineer)
 * Open alarms = the newest event of each (rule, device) is a raise: one statement, whatever their
 * age. `state=all` lists alarms with an event in [from, to]. Each costs two InfluxDB requests
 * (events, then the acks of the alarms found).
 */
import type { FastifyPluginAsync } from 'fastify';
import {
  ALARM_ACKS_MEASUREMENT, ALARM_EVENTS_MEASUREMENT, ALARM_ID_PATTERN, alarmAckPoint, eventFromRow, eventPlace, parseAlarmId, type AlarmEvent,
} from '../../core/alarms/events.ts';
import { SEVERITIES } from '../../core/alarms/rules.ts';
import { ident, influxql, join, keyword, statements, type Fragment } from '../../core/influx/influxql.ts';
import { SECURITY } from '../auth.ts';
import { ApiError, badParam, notFound } from '../errors.ts';
import { ID } from '../schemas.ts';
import { parseTimeParam, TIME_FORMS } from '../time-params.ts';

const PLACE = ['park', 'enterprise', 'workshop', 'device'] as const;
interface ListQuery {
  state?: 'open' | 'all'; park?: string; enterprise?: string; workshop?: string; device?: string;
  rule?: string; severity?: string; from?: string; to?: string; limit?: number;
}
interface Ack { at: number; by: string; note?: string }
const err = { $ref: 'ApiError#' };

const alarmSchema = {
  type: 'object',
  required: ['id', 'rule', 'severity', 'device', 'park', 'enterprise', 'workshop', 'kind', 'state', 'raisedAt', 'clearedAt', 'acknowledged'],
  properties: {
    id: { type: 'string', description: '{rule}:{device}:{raisedAt}' },
    rule: { type: 'string' }, severity: { type: 'string', enum: [...SEVERITIES] },
    device: { type: 'string' }, park: { type: 'string' }, enterprise: { type: 'string' }, workshop: { type: 'string' },
    line: { type: 'string' }, kind: { type: 'string' },
    state: { type: 'string', enum: ['open', 'cleared'] },
    metric: { type: 'string' },
    value: { type: ['number', 'null'], description: 'Value compared with the threshold at the raise (or at the clear when the raise is before from)' },
    threshold: { type: ['number', 'null'] },
    message: { type: 'string' },
    raisedAt: { type: 'integer', description: 'epoch ms (device time of the reading; platform time for silence)' },
    clearedAt: { type: ['integer', 'null'] },
    acknowledged: { type: 'boolean' },
    ackedAt: { type: ['integer', 'null'] }, ackedBy: { type: ['string', 'null'] }, ackNote: { type: 'string' },
  },
} as const;

interface AlarmView {
  id: string; rule: string; severity: string; device: string; park: string; enterprise: string; workshop: string; line?: string; kind: string;
  state: 'open' | 'cleared'; metric: string; value: number | null; threshold: number | null; message: string;
  raisedAt: number; clearedAt: number | null; acknowledged: boolean; ackedAt: number | null; ackedBy: string | null; ackNote?: string;
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

function view(raise: AlarmEvent | undefined, clear: AlarmEvent | undefined): AlarmView {
  const e = (raise ?? clear)!;
  const v: AlarmView = {
    id: e.id, rule: e.rule, severity: e.severity, device: e.device, park: e.park, enterprise: e.enterprise, workshop: e.workshop, kind: e.kind,
    state: clear ? 'cleared' : 'open', metric: e.metric, value: finite(e.value), threshold: finite(e.threshold), message: e.message,
    raisedAt: e.raisedAt, clearedAt: clear?.ts ?? null, acknowledged: false, ackedAt: null, ackedBy: null,
  };
  if (e.line) v.line = e.line;
  return v;
}

const LEADS = ['WHERE', 'AND'] as const;

/**
 * ` WHERE|AND "tag" = $p ...` for the given filters: tag keys fixed here, values bound (and checked
 * by the route schema: ids, enum).
 */
function filters(q: ListQuery, lead: (typeof LEADS)[number], skip: readonly string[] = []): Fragment {
  const parts: Fragment[] = [];
  for (const tag of [...PLACE, 'rule', 'severity'] as const) {
    const v = q[tag];
    if (v !== undefined && !skip.includes(tag)) parts.push(influxql`${ident(tag)} = ${v}`);
  }
  if (parts.length === 0) return influxql``;
  return influxql` ${keyword(lead, LEADS)} ${join(parts, ' AND ')}`;
}

export const alarmRoutes: FastifyPluginAsync = async (app) => {
  const all = [...app.model.devices.values()];
  const events = ident(ALARM_EVENTS_MEASUREMENT);
  const acksM = ident(ALARM_ACKS_MEASUREMENT);

  async function acksFor(ids: Set<string>, since: number, q: ListQuery): Promise<Map<string, Ack>> {
    const out = new Map<string, Ack>();
    if (ids.size === 0) return out;
    const stmt = influxql`SELECT "alarm_id", "by", "note" FROM ${acksM} WHERE time >= ${new Date(since)}${filters(q, 'AND', ['severity'])} ORDER BY time ASC`;
    const [series = []] = await app.influx.query(stmt);
    for (const s of series) {
      const [t, id, by, note] = [s.columns.indexOf('time'), s.columns.indexOf('alarm_id'), s.columns.indexOf('by'), s.columns.indexOf('note')];
      for (const row of s.values) {
        const a = row[id];
        if (typeof a !== 'string' || !ids.has(a) || out.has(a)) continue;
        const ack: Ack = { at: row[t] as number, by: String(row[by] ?? '') };
        if (typeof row[note] === 'string') ack.note = row[note] as string;
        out.set(a, ack);
      }
    }
    return out;
  }

  app.get<{ Querystring: ListQuery }>('/alarms', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Open alarms, or all alarms with an event in a time range, with their acknowledgement',
      description: `state=open (default): alarms raised and not cleared, whatever their age. state=all: alarms raised or cleared between from and to (${TIME_FORMS}; default the last 24 h). Newest first.`,
      tags: ['alarms'], security: SECURITY,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          state: { type: 'string', enum: ['open', 'all'] },
          ...Object.fromEntries(PLACE.map((f) => [f, { ...ID, description: `only alarms of this ${f}` }])),
          rule: { ...ID, description: 'only alarms of this rule (config/alarms.yaml)' },
          severity: { type: 'string', enum: [...SEVERITIES] },
          from: { type: 'string', maxLength: 40 }, to: { type: 'string', maxLength: 40 },
          limit: { type: 'integer', minimum: 1, maximum: 10_000, description: 'most alarms (default 1000)' },
        },
      },
      response: {
        200: { type: 'object', required: ['alarms', 'truncated'], properties: { alarms: { type: 'array', items: alarmSchema }, truncated: { type: 'boolean' } } },
        400: err, 401: err, 403: err, 502: err,
      },
    },
  }, async (req) => {
    const q = req.query;
    for (const f of PLACE) {
      const v = q[f];
      if (v !== undefined && !all.some((d) => (f === 'device' ? d.id : d[f]) === v)) throw badParam(f, `${f} "${v}" is not in the park model; see GET /api/v1/park`);
    }
    const limit = q.limit ?? 1000;
    let list: AlarmView[];
    if ((q.state ?? 'open') === 'open') {
      if (q.from !== undefined || q.to !== undefined) throw badParam(q.from !== undefined ? 'from' : 'to', 'from/to apply to state=all; open alarms are listed whatever their age');
      const stmt = influxql`SELECT * FROM ${events}${filters(q, 'WHERE')} GROUP BY "rule", "device" ORDER BY time DESC LIMIT 1`;
      const [series = []] = await app.influx.query(stmt);
      list = series.flatMap((s) => s.values.map((row) => eventFromRow(app.model, s.columns, row, s.tags)))
        .filter((e): e is AlarmEvent => e?.state === 'raised').map((e) => view(e, undefined));
    } else {
      const now = Date.now();
      const from = parseTimeParam('from', q.from ?? '-1d', now);
      const to = parseTimeParam('to', q.to ?? 'now', now);
      if (from > to) throw badParam('from', 'from is after to');
      const stmt = influxql`SELECT * FROM ${events} WHERE time >= ${new Date(from)} AND time <= ${new Date(to)}${filters(q, 'AND')} ORDER BY time ASC`;
      const [series = []] = await app.influx.query(stmt);
      const byId = new Map<string, { raise?: AlarmEvent; clear?: AlarmEvent }>();
      for (const s of series) {
        for (const row of s.values) {
          const e = eventFromRow(app.model, s.columns, row, s.tags);
          if (!e) continue;
          const x = byId.get(e.id) ?? {};
          if (e.state === 'raised') x.raise = e;
          else x.clear = e;
          byId.set(e.id, x);
        }
      }
      list = [...byId.values()].map((x) => view(x.raise, x.clear));
    }
    list.sort((a, b) => b.raisedAt - a.raisedAt || a.id.localeCompare(b.id));
    const truncated = list.length > limit;
    list = list.slice(0, limit);
    if (list.length > 0) {
      const acks = await acksFor(new Set(list.map((a) => a.id)), Math.min(...list.map((a) => a.raisedAt)), q);
      for (const a of list) {
        const ack = acks.get(a.id);
        if (!ack) continue;
        a.acknowledged = true;
        a.ackedAt = ack.at;
        a.ackedBy = ack.by;
        if (ack.note !== undefined) a.ackNote = ack.note;
      }
    }
    return { alarms: list, truncated };
  });

  app.post<{ Params: { id: string }; Body: { note?: string } | undefined }>('/alarms/:id/ack', {
    config: { role: 'engineer' },
    schema: {
      summary: 'Acknowledge an alarm (open or cleared); stored in InfluxDB alarm_acks. Idempotent.',
      tags: ['alarms'], security: SECURITY,
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 120, pattern: ALARM_ID_PATTERN } } },
      body: { type: 'object', additionalProperties: false, properties: { note: { type: 'string', maxLength: 500 } } },
      response: {
        200: {
          type: 'object', required: ['id', 'acknowledged', 'ackedAt', 'ackedBy', 'already'],
          properties: {
            id: { type: 'string' }, acknowledged: { type: 'boolean' }, ackedAt: { type: 'integer' }, ackedBy: { type: 'string' }, ackNote: { type: 'string' },
            already: { type: 'boolean', description: 'true when the alarm had been acknowledged before (nothing written)' },
          },
        },
        400: err, 401: err, 403: err, 404: err, 502: err,
      },
    },
    preValidation: async (req) => { req.body ??= {}; }, // the body is optional
  }, async (req) => {
    const id = req.params.id;
    const parts = parseAlarmId(id)!; // the schema's pattern guarantees the form
    const d = app.model.devices.get(parts.device);
    if (!d) throw notFound(`device "${parts.device}" of alarm ${id} is not in the park model`, 'id');
    const [ev = [], acks = []] = await app.influx.query(
      statements([
        influxql`SELECT "alarm_id", "state" FROM ${events} WHERE "device" = ${d.id} AND "rule" = ${parts.rule} AND time = ${new Date(parts.raisedAt)}`,
        influxql`SELECT "alarm_id", "by", "note" FROM ${acksM} WHERE "device" = ${d.id} AND "rule" = ${parts.rule} AND time >= ${new Date(parts.raisedAt)} ORDER BY time ASC`,
      ]),
    );
    const raised = ev.some((s) => s.values.some((r) => r[s.columns.indexOf('alarm_id')] === id && r[s.columns.indexOf('state')] === 'raised'));
    if (!raised) throw notFound(`no alarm ${id}; see GET /api/v1/alarms?state=all`, 'id');
    for (const s of acks) {
      const row = s.values.find((r) => r[s.columns.indexOf('alarm_id')] === id);
      if (!row) continue;
      const note = row[s.columns.indexOf('note')];
      return { id, acknowledged: true, ackedAt: row[s.columns.indexOf('time')] as number, ackedBy: String(row[s.columns.indexOf('by')]), ...(typeof note === 'string' ? { ackNote: note } : {}), already: true };
    }
    const at = Date.now();
    const by = req.apiKey?.id ?? 'unknown';
    const note = req.body?.note;
    const res = await app.influx.write(`${alarmAckPoint(d, parts.rule, id, by, note, at)}\n`);
    if (res.kind !== 'ok') throw new ApiError('SP_ERR_API_UPSTREAM', `InfluxDB did not store the acknowledgement (${res.error.slice(0, 200)}); try again`);
    app.live.alarmAcknowledged?.({ ...eventPlace(d), id, rule: parts.rule, ackedAt: at, ackedBy: by, ...(note ? { note } : {}) });
    return { id, acknowledged: true, ackedAt: at, ackedBy: by, ...(note ? { ackNote: note } : {}), already: false };
  });
};
