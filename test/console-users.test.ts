import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserStore, checkUsers, hashPassword, verifyPassword } from '../api/console/user-store.ts';

describe('console user store', () => {
  it('scrypt hashes verify the right password only and are salted', () => {
    const h = hashPassword('correct horse');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(verifyPassword('correct horse', h)).toBe(true);
    expect(verifyPassword('correct hors', h)).toBe(false);
    expect(hashPassword('correct horse')).not.toBe(h);
  });

  it('first run creates one admin with a generated password, stored only as a hash, mode 0600', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'users-')), 'secrets', 'console-users.json');
    const first = UserStore.open(file);
    expect(first.firstAdminPassword).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(first.firstAdminPassword);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = UserStore.open(file);
    expect(again.firstAdminPassword).toBeUndefined();
    expect(again.store.check('admin', first.firstAdminPassword!)).toEqual({ name: 'admin', role: 'admin' });
    expect(again.store.check('admin', 'wrong')).toBeUndefined();
    expect(again.store.check('nobody', first.firstAdminPassword!)).toBeUndefined();
  });

  it('refuses a bad users file naming path and value', () => {
    expect(checkUsers({ users: [{ name: 'A B', role: 'boss', hash: 'x' }] })).toEqual([
      'users[0].name: "A B", expected /^[a-z0-9][a-z0-9._-]{0,63}$/',
      'users[0].role: "boss", expected one of viewer, engineer, admin',
      'users[0].hash: expected "scrypt$..."',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'sp-users-bad-'));
    const file = join(dir, 'users.json');
    writeFileSync(file, JSON.stringify({ users: [{ name: 'ok', role: 'boss', hash: 'x' }] }));
    expect(() => UserStore.open(file)).toThrow(expect.objectContaining({ code: 'SP_ERR_CONFIG', message: expect.stringContaining('users[0].role: "boss"') }));
    rmSync(dir, { recursive: true, force: true });
  });
});
