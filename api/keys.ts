/**
 * Manages API keys (CLI). The key is printed once; only its hash is stored.
 *   node --import tsx api/keys.ts add --id ops --role viewer [--file data/secrets/api-keys.json]
 *   node --import tsx api/keys.ts list [--file ...]
 *   node --import tsx api/keys.ts remove --id ops [--file ...]
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isId } from '../core/ids.ts';
import { generateSecret, hashSecret } from '../core/secrets.ts';
import { API_ENV } from './env.ts';
import { readKeyFile, ROLES, writeKeyFile, type ApiKeyFile, type Role } from './key-store.ts';

const USAGE = `usage: keys.ts add --id <id> --role ${ROLES.join('|')} [--file <path>]
       keys.ts list [--file <path>]
       keys.ts remove --id <id> [--file <path>]
(default file: API_KEYS_FILE or ${API_ENV.API_KEYS_FILE.default})`;

function main(argv: string[]): number {
  const { positionals, values } = parseArgs({
    args: argv, allowPositionals: true,
    options: { id: { type: 'string' }, role: { type: 'string' }, file: { type: 'string' } },
  });
  const cmd = positionals[0];
  const file = values.file ?? process.env.API_KEYS_FILE ?? API_ENV.API_KEYS_FILE.default;
  const current: ApiKeyFile = existsSync(file) ? readKeyFile(file) : { keys: [] };
  if (cmd === 'list') {
    for (const k of current.keys) process.stdout.write(`${k.id}\t${k.role}\n`);
    return 0;
  }
  if (!isId(values.id)) {
    process.stderr.write(`--id ${values.id ?? '(missing)'}: expected an id (lower-case letters, digits, - or _)\n${USAGE}\n`);
    return 2;
  }
  const id = values.id;
  if (cmd === 'remove') {
    const keys = current.keys.filter((k) => k.id !== id);
    if (keys.length === current.keys.length) {
      process.stderr.write(`no key with id ${id} in ${file}\n`);
      return 1;
    }
    writeKeyFile(file, { keys });
    process.stderr.write(`removed key ${id} from ${file}\n`);
    return 0;
  }
  if (cmd !== 'add') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (!ROLES.includes(values.role as Role)) {
    process.stderr.write(`--role ${values.role ?? '(missing)'}: expected one of ${ROLES.join(', ')}\n`);
    return 2;
  }
  if (current.keys.some((k) => k.id === id)) {
    process.stderr.write(`a key with id ${id} already exists in ${file}; remove it first to replace it\n`);
    return 1;
  }
  const key = generateSecret();
  writeKeyFile(file, { keys: [...current.keys, { id, role: values.role as Role, hash: hashSecret(key) }] });
  process.stderr.write(`added key ${id} (${values.role}) to ${file}; it is shown once, store it now:\n`);
  process.stdout.write(`${key}\n`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
}
