/**
 * Opens the console users file; on the first run (no file) it creates the `admin` user with a
 * generated password and writes that password, once, to `console-admin.password` beside the users
 * file (mode 0600) — never to a log. `npm run up` prints it; delete the file once it is changed.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserStore } from './user-store.ts';

export const firstAdminPasswordFile = (usersFile: string): string => join(dirname(usersFile), 'console-admin.password');

export function openUsers(usersFile: string): { store: UserStore; firstAdminPassword?: string } {
  const opened = UserStore.open(usersFile);
  if (opened.firstAdminPassword) writeFileSync(firstAdminPasswordFile(usersFile), `${opened.firstAdminPassword}\n`, { mode: 0o600 });
  return opened;
}
