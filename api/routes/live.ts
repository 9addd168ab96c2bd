/**
 * WebSocket GET /api/v1/live (viewer): every telemetry reading and status change of the devices
 * that match the filter, as JSON text frames, from the API's one MQTT subscription (LiveSource).
 * Frames: {"type":"hello",...} once, then {"type":"telemetry",device,park,enterprise,workshop,ts,metrics}
 * and {"type":"status",device,...,state,ts}. A client whose socket has more than wsMaxBufferedBytes
 * unsent is skipped for that message (counted in /stats as live.dropped): it never holds up others.
 */
import type { FastifyPluginAsync } from 'fastify';
import WebSocket from 'ws';
import { SECURITY } from '../auth.ts';
import { ApiError, badParam } from '../errors.ts';
import type { LiveEvent } from '../live-hub.ts';
import { ID } from '../schemas.ts';

interface LiveQuery { park?: string; enterprise?: string; workshop?: string; device?: string; key?: string }
const FILTERS = ['park', 'enterprise', 'workshop', 'device'] as const;
/** A socket that has not answered the previous ping by the next one is closed. */
const HEARTBEAT_INTERVAL_MS = 30_000;

export const liveRoutes: FastifyPluginAsync = async (app) => {
  const { stats, live, model } = app;
  const all = [...model.devices.values()];
  const limit = app.apiOptions.wsMaxBufferedBytes;
  const alive = new WeakMap<WebSocket, boolean>();
  const heartbeat = setInterval(() => {
    for (const s of app.websocketServer.clients) {
      if (alive.get(s) === false) s.terminate();
      else if (alive.has(s)) {
        alive.set(s, false);
        s.ping();
      }
    }
  }, HEARTBEAT_INTERVAL_MS).unref();
  app.addHook('onClose', async () => clearInterval(heartbeat));

  app.route<{ Querystring: LiveQuery }>({
    method: 'GET',
    url: '/live',
    config: { role: 'viewer', keyInQuery: true },
    schema: {
      summary: 'WebSocket: live telemetry and status of matching devices',
      description: 'Connect with a WebSocket upgrade. The key may also be given as ?key= (browsers cannot set headers on WebSockets).',
      tags: ['live'], security: SECURITY,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          ...Object.fromEntries(FILTERS.map((f) => [f, { ...ID, description: `only devices of this ${f}` }])),
          key: { type: 'string', maxLength: 256, description: 'API key (WebSocket clients only)' },
        },
      },
      response: { 400: { $ref: 'ApiError#' }, 401: { $ref: 'ApiError#' }, 403: { $ref: 'ApiError#' }, 426: { $ref: 'ApiError#' } },
    },
    preHandler: async (req) => {
      for (const f of FILTERS) {
        const v = req.query[f];
        if (v !== undefined && !all.some((d) => (f === 'device' ? d.id : d[f]) === v)) {
          throw badParam(f, `${f} "${v}" is not in the park model; see GET /api/v1/park`);
        }
      }
    },
    handler: async () => {
      throw new ApiError('SP_ERR_API_PARAM', 'this route is a WebSocket: connect with "Upgrade: websocket"', 'upgrade', 426);
    },
    wsHandler: (socket, req) => {
      const filter = Object.fromEntries(FILTERS.filter((f) => req.query[f] !== undefined).map((f) => [f, req.query[f]!]));
      const match = (ev: LiveEvent) => FILTERS.every((f) => filter[f] === undefined || ev[f] === filter[f]);
      alive.set(socket, true);
      socket.on('pong', () => alive.set(socket, true));
      stats.liveClients++;
      stats.liveConnections++;
      let early: string[] | undefined = []; // events before the hello frame, sent right after it
      const off = live.subscribe((ev, json) => {
        if (!match(ev) || socket.readyState !== WebSocket.OPEN) return;
        if (early) return void early.push(json);
        if (socket.bufferedAmount > limit) {
          stats.liveDropped++;
          return;
        }
        socket.send(json);
        stats.liveSent++;
      });
      socket.once('close', () => {
        off();
        stats.liveClients--;
      });
      socket.on('message', () => { /* the stream is one-way; client frames are ignored */ });
      // hello once telemetry flows to this client (the first listener makes the feed subscribe)
      void (live.telemetryFlowing?.() ?? Promise.resolve()).then(() => {
        if (socket.readyState !== WebSocket.OPEN) return;
        socket.send(JSON.stringify({ type: 'hello', filter, mqttConnected: live.connected }));
        const queued = early ?? [];
        early = undefined;
        for (const json of queued) {
          socket.send(json);
          stats.liveSent++;
        }
      });
    },
  });
};
