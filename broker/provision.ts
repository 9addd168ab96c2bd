/**
 * Creates the broker's credential store for every device of the park model and the service
 * accounts, printing nothing secret unless asked:
 *   node --import tsx broker/provision.ts [--store FILE] [--secrets FILE] [--rotate ID,...] [--print]
 *                                         [--password-files DIR]
 * New plain secrets go to --secrets (default data/secrets/credentials.json, mode 0600): the
 * simulators and services read theirs from there; a real device's is handed to its installer.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadParkModel } from '../core/model-file.ts';
import { generateSecret, hashSecret } from '../core/secrets.ts';
import { DEFAULT_HOST_ACCOUNT, edgeNodeAccounts, loadSparkplugConfig } from '../core/sparkplug/config.ts';
import { DEFAULTS } from './config.ts';
import { provisionCredentials } from './credentials.ts';

const model = loadParkModel();
// Sparkplug B: the host application's service account, and each mapped edge node's account (kept with the devices')
const sparkplug = process.env.SPARKPLUG_CONFIG === 'none' ? undefined : loadSparkplugConfig(model);
const SERVICE_ACCOUNTS = ['svc-ingest', 'svc-api', sparkplug?.hostAccount ?? DEFAULT_HOST_ACCOUNT];

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: process.env.MQTT_CREDENTIALS_FILE ?? DEFAULTS.credentialsFile },
    secrets: { type: 'string', default: process.env.SECRETS_FILE ?? 'data/secrets/credentials.json' },
    rotate: { type: 'string' },
    print: { type: 'boolean', default: false },
    'password-files': { type: 'string' },
  },
});
const created = provisionCredentials({
  storeFile: values.store!, secretsFile: values.secrets, deviceIds: [...model.devices.keys(), ...(sparkplug ? edgeNodeAccounts(sparkplug) : [])],
  gatewayIds: [...model.gateways.keys()], serviceAccounts: SERVICE_ACCOUNTS, rotate: values.rotate?.split(',').filter(Boolean),
  generate: generateSecret, hash: (s) => hashSecret(s),
});
const n = Object.keys(created).length;
console.log(`${n} credential${n === 1 ? '' : 's'} created or rotated; store ${values.store}; plain secrets in ${values.secrets}`);
// One file per service account (`svc-ingest.password`), for *_PASSWORD_FILE in containers.
if (values['password-files']) {
  const all = JSON.parse(readFileSync(values.secrets!, 'utf8')) as Record<string, string>;
  mkdirSync(values['password-files'], { recursive: true, mode: 0o700 });
  for (const name of [...SERVICE_ACCOUNTS, ...model.gateways.keys()]) writeFileSync(join(values['password-files'], `${name}.password`), `${all[name]}\n`, { mode: 0o600 });
}
if (values.print) for (const [id, s] of Object.entries(created)) console.log(`${id}\t${s}`);
