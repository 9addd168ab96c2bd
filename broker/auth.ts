/**
 * Aedes hooks: authenticate, authorizePublish, authorizeSubscribe. Every refusal is counted
 * and reported through `onRefused` with a stable code; the library itself does not log.
 */
import { createHash } from 'node:crypto';
import type { AedesOptions, AuthenticateError, Client, Subscription, PublishPacket } from 'aedes';
import { isId } from '../core/ids.ts';
import { PlatformError, type ErrorCode } from '../core/errors.ts';
import { GATEWAY_PREFIX, type ParkModel } from '../core/model.ts';
import { verifySecret } from '../core/secrets.ts';
import { EDGE_ACCOUNT_PREFIX, loadSparkplugConfig, type SparkplugConfig } from '../core/sparkplug/config.ts';
import { devicePrincipal, edgeNodePrincipal, gatewayPrincipal, mayPublish, maySubscribe, sparkplugHostRights, type Principal } from './acl.ts';
import { SERVICE_PREFIX, type CredentialStore } from './credentials.ts';
import { LoginThrottle } from './login-throttle.ts';

export interface Refusal { code: ErrorCode; clientId: string; ip?: string; detail: string }

export interface AuthOptions {
  model: ParkModel;
  store: () => CredentialStore;
  throttle: LoginThrottle;
  onRefused: (r: Refusal) => void;
  /**
   * The Sparkplug B mapping: its edge-node accounts (hashes in the store's `devices`, provisioned
   * like devices) and the host application's account. Default: config/sparkplug.yaml (or
   * SPARKPLUG_CONFIG; `none`: no Sparkplug accounts), read once here.
   */
  sparkplug?: SparkplugConfig | null;
}

const AUTH_ERR = { IDENTIFIER_REJECTED: 2, BAD_USERNAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const;

function authError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export function clientIp(client: Client): string | undefined {
  return (client.conn as { remoteAddress?: string }).remoteAddress;
}

export type AuthHooks = Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>> & {
  principalOf(client: Client): Principal | undefined;
};

/** config/sparkplug.yaml (SPARKPLUG_CONFIG) for the edge-node and host accounts; `none`: no Sparkplug. */
function sparkplugMapping(model: ParkModel): SparkplugConfig | null {
  if (process.env.SPARKPLUG_CONFIG === 'none') return null;
  try {
    return loadSparkplugConfig(model);
  } catch (e) {
    const code = e instanceof PlatformError ? e.code : 'SP_ERR_CONFIG';
    throw new PlatformError(code, `${(e as Error).message}\n(the broker reads the Sparkplug B mapping for its edge-node accounts; fix it, or set SPARKPLUG_CONFIG=none when no Sparkplug edge node connects)`);
  }
}

export function createAuth(opts: AuthOptions): AuthHooks {
  const principals = new WeakMap<Client, Principal>();
  const sparkplug = opts.sparkplug !== undefined ? opts.sparkplug : sparkplugMapping(opts.model);
  const edgeNodes = new Map([...(sparkplug?.nodes.values() ?? [])].map((n) => [n.account, n]));
  const hostRights = sparkplug ? sparkplugHostRights(sparkplug) : undefined;
  // Verified (account, sha256(password), stored hash) triples: reconnect storms cost one hash each.
  const verified = new Map<string, string>();

  const check = (account: string, password: Buffer, stored: string | undefined): boolean => {
    if (stored === undefined) return false;
    const key = `${account}\0${createHash('sha256').update(password).digest('base64')}`;
    if (verified.get(key) === stored) return true;
    const ok = verifySecret(password.toString('utf8'), stored);
    if (ok) {
      if (verified.size > 100_000) verified.clear();
      verified.set(key, stored);
    }
    return ok;
  };

  /** The stored hash an account is checked against, if the account exists. */
  const storedHash = (store: CredentialStore, username: string): string | undefined => {
    if (username.startsWith(SERVICE_PREFIX)) return store.services[username]?.hash;
    if (username.startsWith(GATEWAY_PREFIX)) return opts.model.gateways.has(username) ? store.gateways[username] : undefined;
    if (username.startsWith(EDGE_ACCOUNT_PREFIX)) return edgeNodes.has(username) ? store.devices[username] : undefined;
    return opts.model.devices.has(username) ? store.devices[username] : undefined;
  };

  const authenticate: AedesOptions['authenticate'] = (client, username, password, done) => {
    const ip = clientIp(client);
    const id = client.id ?? '';
    const account = typeof username === 'string' ? username : '';
    const refuse = (code: ErrorCode, rc: number, detail: string) => {
      // a failure's answer may be held back (login-throttle.ts); a success never is
      const hold = code === 'SP_ERR_RATE_LIMITED' ? 0 : opts.throttle.failed(account, ip);
      opts.onRefused({ code, clientId: id, ip, detail });
      if (hold === 0) return done(authError(rc, detail), false);
      setTimeout(() => {
        opts.throttle.released(ip);
        done(authError(rc, detail), false);
      }, hold);
    };
    // Client ids reach topics, logs and ACLs: refuse wildcards, separators and empty ids.
    if (!isId(id)) {
      return refuse('SP_ERR_CLIENT_ID', AUTH_ERR.IDENTIFIER_REJECTED, `client id ${JSON.stringify(id).slice(0, 60)} is not a valid id (a-z, 0-9, '-', '_'; no / + # $)`);
    }
    if (typeof username !== 'string' || !password) {
      return refuse('SP_ERR_AUTH', AUTH_ERR.BAD_USERNAME_OR_PASSWORD, 'username and password are required');
    }
    const store = opts.store();
    const stored = storedHash(store, username);
    // Only a chosen (scrypt) secret can be guessed: only its checks wait their turn.
    const wait = stored?.startsWith('scrypt$') ? opts.throttle.reserve(username) : 0;
    if (wait < 0) {
      return refuse('SP_ERR_RATE_LIMITED', AUTH_ERR.NOT_AUTHORIZED, `too many failed logins for ${username.slice(0, 60)}; try again in a few seconds`);
    }
    const decide = () => {
      if (!check(username, password, stored)) {
        return refuse('SP_ERR_AUTH', AUTH_ERR.BAD_USERNAME_OR_PASSWORD, `bad username or password for ${username.slice(0, 60)}`);
      }
      let principal: Principal;
      if (username.startsWith(SERVICE_PREFIX)) {
        if (id !== username && !id.startsWith(`${username}-`)) {
          return refuse('SP_ERR_CLIENT_ID', AUTH_ERR.IDENTIFIER_REJECTED, `service ${username} must use client id ${username} or ${username}-<suffix>, not ${id}`);
        }
        principal = { kind: 'service', id, account: username, ...(hostRights && username === sparkplug!.hostAccount && { sparkplugHost: hostRights }) };
      } else if (username.startsWith(GATEWAY_PREFIX)) {
        if (id !== username) {
          return refuse('SP_ERR_CLIENT_ID', AUTH_ERR.IDENTIFIER_REJECTED, `gateway ${username} must connect with client id ${username}, not ${id}`);
        }
        principal = gatewayPrincipal(opts.model.gateways.get(username)!);
      } else if (username.startsWith(EDGE_ACCOUNT_PREFIX)) {
        if (id !== username) {
          return refuse('SP_ERR_CLIENT_ID', AUTH_ERR.IDENTIFIER_REJECTED, `Sparkplug edge node ${username} must connect with client id ${username}, not ${id}`);
        }
        principal = edgeNodePrincipal(edgeNodes.get(username)!);
      } else {
        if (id !== username) {
          return refuse('SP_ERR_CLIENT_ID', AUTH_ERR.IDENTIFIER_REJECTED, `device ${username} must connect with client id ${username}, not ${id}`);
        }
        principal = devicePrincipal(opts.model.devices.get(username)!);
      }
      principals.set(client, principal);
      done(null, true);
    };
    if (wait === 0) decide();
    else setTimeout(() => { opts.throttle.settle(username); decide(); }, wait);
  };

  const authorizePublish: AedesOptions['authorizePublish'] = (client, packet: PublishPacket, cb) => {
    if (!client) return cb(null); // the broker's own messages
    const p = principals.get(client);
    if (p && mayPublish(p, packet.topic)) return cb(null);
    const detail = `${client.id} may not publish to ${packet.topic.slice(0, 200)}`;
    opts.onRefused({ code: 'SP_ERR_FORBIDDEN_TOPIC', clientId: client.id, ip: clientIp(client), detail });
    cb(new Error(detail)); // MQTT 3.1.1 cannot refuse a PUBLISH: the connection is closed
  };

  const authorizeSubscribe: AedesOptions['authorizeSubscribe'] = (client, sub: Subscription, cb) => {
    const p = principals.get(client);
    if (p && maySubscribe(p, sub.topic)) return cb(null, sub);
    opts.onRefused({ code: 'SP_ERR_FORBIDDEN_TOPIC', clientId: client.id, ip: clientIp(client), detail: `${client.id} may not subscribe to ${sub.topic.slice(0, 200)}` });
    cb(null, null); // SUBACK return code 0x80 (failure) for this filter; the connection stays
  };

  return { authenticate, authorizePublish, authorizeSubscribe, principalOf: (c) => principals.get(c) };
}
