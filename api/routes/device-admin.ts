/**
 * Device administration (admin), used by the console's devices page:
 *   GET  /api/v1/admin/devices               -> which devices are disabled (by whom, when), which are read by a gateway
 *   POST /api/v1/devices/:id/disable         -> the broker refuses the device from now on; its open session is closed
 *   POST /api/v1/devices/:id/enable          -> its previous secret works again
 *   POST /api/v1/devices/:id/rotate-secret   -> {secret}: shown once, stored only as a hash; the old one stops working
 * The mechanism is api/console/device-admin.ts (the broker's store + SIGHUP). Devices read by an
 * edge gateway have no MQTT account of their own: they are refused here (400, param id).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { SECURITY } from '../auth.ts';
import type { DeviceAdmin } from '../console/device-admin.ts';
import { badParam, notFound } from '../errors.ts';
import { ID } from '../schemas.ts';

const err = { $ref: 'ApiError#' };
const effect = {
  reloaded: { type: 'boolean', description: 'the broker was signalled to reload its credential store' },
  sessionClosed: { type: 'boolean', description: "the device's open MQTT session (if any) was closed" },
  note: { type: 'string' },
} as const;
const params = { type: 'object', required: ['id'], properties: { id: ID } } as const;

export const deviceAdminRoutes: FastifyPluginAsync = async (app) => {
  const admin = (req: FastifyRequest<{ Params: { id: string } }>): DeviceAdmin => {
    const id = req.params.id;
    if (!app.model.devices.has(id)) throw notFound(`device "${id}" is not in the park model`, 'id');
    const gw = app.model.devices.get(id)!.gateway;
    if (gw) throw badParam('id', `device "${id}" is read by gateway ${gw} and has no MQTT account of its own`);
    const d = app.consoleServices.devices;
    if (!d) throw notFound(`device administration is off on this API: the broker's credential store (MQTT_CREDENTIALS_FILE) is not on this machine`);
    return d;
  };

  app.get('/admin/devices', {
    config: { role: 'admin' },
    schema: {
      summary: 'Disabled devices', tags: ['admin'], security: SECURITY,
      response: {
        200: {
          type: 'object', required: ['enabled', 'disabled', 'viaGateway'],
          properties: {
            enabled: { type: 'boolean', description: 'device administration is on (the broker\'s credential store is on this machine)' },
            disabled: { type: 'object', additionalProperties: { type: 'object', properties: { at: { type: 'integer' }, by: { type: 'string' } } } },
            viaGateway: { type: 'object', additionalProperties: { type: 'string' }, description: 'devices read by an edge gateway (no MQTT account of their own): device -> gateway' },
          },
        },
        401: err, 403: err,
      },
    },
  }, async () => ({
    enabled: app.consoleServices.devices !== undefined,
    disabled: app.consoleServices.devices?.disabled() ?? {},
    viaGateway: Object.fromEntries([...app.model.devices.values()].filter((d) => d.gateway).map((d) => [d.id, d.gateway!])),
  }));

  const changed = { type: 'object', required: ['id', 'disabled'], properties: { id: { type: 'string' }, disabled: { type: 'boolean' }, already: { type: 'boolean' }, ...effect } } as const;

  app.post<{ Params: { id: string } }>('/devices/:id/disable', {
    config: { role: 'admin' },
    schema: { summary: 'Disable a device: the broker refuses it and closes its session', tags: ['admin'], security: SECURITY, params, response: { 200: changed, 400: err, 401: err, 403: err, 404: err } },
  }, async (req) => {
    const r = await admin(req).disable(req.params.id, req.apiKey!.id);
    req.log.info({ device: req.params.id, action: 'disable', by: req.apiKey!.id, ...r }, 'device admin'); // an audit line per change
    return { id: req.params.id, disabled: true, ...r };
  });

  app.post<{ Params: { id: string } }>('/devices/:id/enable', {
    config: { role: 'admin' },
    schema: { summary: 'Enable a disabled device (its previous secret works again)', tags: ['admin'], security: SECURITY, params, response: { 200: changed, 400: err, 401: err, 403: err, 404: err } },
  }, async (req) => {
    const r = await admin(req).enable(req.params.id);
    req.log.info({ device: req.params.id, action: 'enable', by: req.apiKey!.id, ...r }, 'device admin');
    return { id: req.params.id, disabled: false, ...r };
  });

  app.post<{ Params: { id: string } }>('/devices/:id/rotate-secret', {
    config: { role: 'admin' },
    schema: {
      summary: 'A new secret for a device, shown once in this answer; the old one stops working', tags: ['admin'], security: SECURITY, params,
      response: { 200: { type: 'object', required: ['id', 'secret'], properties: { id: { type: 'string' }, secret: { type: 'string' }, ...effect } }, 400: err, 401: err, 403: err, 404: err },
    },
  }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const { secret, ...effect } = await admin(req).rotate(req.params.id);
    req.log.info({ device: req.params.id, action: 'rotate-secret', by: req.apiKey!.id, ...effect }, 'device admin'); // never the secret
    return { id: req.params.id, secret, ...effect };
  });
};
