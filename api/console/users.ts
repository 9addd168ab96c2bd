/**
 * Manages console users (CLI). A password is generated and printed once unless --password-stdin
 * gives one; only its scrypt hash is stored. The API re-reads the file when it changes (at the next login).
 *   node --import tsx api/console/users.ts add --name alice --role engineer [--password-stdin] [--file F]
 *   node --import tsx api/console/users.ts passwd --name admin [--password-stdin] [--file F]
 *   node --import tsx api/console/users.ts list | remove --name alice [--file F]
 * Default file: CONSOLE_USERS_FILE, else console-users.json beside API_KEYS_FILE (data/secrets/).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadApiConfig } from '../config.ts';
import { ROLES, type Role } from '../key-store.ts';
import { UserStore } from './user-store.ts';

const USAGE = `usage: users.ts add --name <name> --role ${ROLES.join('|')} [--password-stdin] [--file <path>]
       users.ts passwd --name <name> [--password-stdin] [--file <path>]
       users.ts list | remove --name <name> [--file <path>]`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { name: { type: 'string' }, role: { type: 'string' }, file: { type: 'string' }, 'password-stdin': { type: 'boolean', default: false } },
});
const file = values.file ?? loadApiConfig({ ...process.env, API_PORT: process.env.API_PORT ?? '8080' }).console.usersFile;
const { store } = UserStore.open(file);
const cmd = positionals[0];
const password = () => (values['password-stdin'] ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : randomBytes(12).toString('base64url'));

let code = 0;
if (cmd === 'list') {
  for (const u of store.list()) process.stdout.write(`${u.name}\t${u.role}\n`);
} else if (cmd === 'add' || cmd === 'passwd') {
  const had = store.list().find((u) => u.name === values.name);
  const role = (cmd === 'add' ? values.role : had?.role) as Role | undefined;
  if (!values.name || !role || !ROLES.includes(role) || (cmd === 'passwd' && !had)) {
    process.stderr.write(`${cmd === 'passwd' && !had ? `no user ${values.name ?? '(missing)'} in ${file}\n` : ''}${USAGE}\n`);
    code = 2;
  } else {
    const pw = password();
    store.add(values.name, role, pw);
    if (!values['password-stdin']) process.stdout.write(`${pw}\n`);
    process.stderr.write(`${cmd === 'add' ? 'user' : 'password of'} ${values.name} (${role}) stored in ${file}; the API takes it up at the next login\n`);
  }
} else if (cmd === 'remove' && values.name) {
  if (!store.remove(values.name)) {
    process.stderr.write(`no user ${values.name} in ${file}\n`);
    code = 1;
  }
} else {
  process.stderr.write(`${USAGE}\n`);
  code = 2;
}
process.exitCode = code;
