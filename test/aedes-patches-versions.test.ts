/**
 * The seam's guards (broker/aedes/versions.ts, patch.ts): the broker refuses to start on a version
 * of a patched package it was not tested against — one patch version up is enough — and says
 * which patch to review; a patch whose target file changed is refused too.
 */
import { expect, it } from 'vitest';
import { ackAfterStore, checkAedesVersions, createPatchedBroker, OutgoingQueuePersistence } from '../broker/aedes/index.ts';
import { useFifoInMqEmitter } from '../broker/aedes/mq-fifo.ts';
import { installedVersion, verifyPatch, type Patch } from '../core/dependency-patch.ts';
import { PATCHES, testedVersions } from '../broker/aedes/versions.ts';
import { openPersistence } from '../broker/persistence.ts';
import { PlatformError } from '../core/errors.ts';

const bump = (v: string) => v.replace(/\d+$/, (n) => String(Number(n) + 1));
const faking = (pkg: string, version: string) => (p: string) => (p === pkg ? version : installedVersion(p));

it('passes on the installed versions, which are exactly the tested ones', () => {
  for (const [pkg, version] of testedVersions()) expect(installedVersion(pkg), pkg).toBe(version);
  expect(() => checkAedesVersions()).not.toThrow();
  for (const p of PATCHES) expect(() => verifyPatch(p), p.file).not.toThrow();
});

it.each([...testedVersions()])('refuses %s one patch version up (%s + 1), naming every patch that touches it', (pkg, version) => {
  let err: unknown;
  try {
    checkAedesVersions(faking(pkg, bump(version)));
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PlatformError);
  expect((err as PlatformError).code).toBe('SP_ERR_AEDES_PATCH');
  const message = (err as Error).message;
  expect(message).toContain(`${pkg} ${bump(version)} is installed`);
  for (const p of PATCHES.filter((x) => x.targets.some((t) => t.pkg === pkg))) expect(message).toContain(p.file);
});

it('makes the broker fail at start on aedes 1.2.1, naming the patch to review', async () => {
  const { persistence } = await openPersistence('');
  await expect(createPatchedBroker({}, { persistence, versionOf: faking('aedes', '1.2.1') }))
    .rejects.toThrow(/aedes 1\.2\.1 is installed.*broker\/aedes\/ack-after-store\.ts/);
  await expect(createPatchedBroker({}, { persistence, versionOf: faking('aedes', '1.2.1') })).rejects.toMatchObject({ code: 'SP_ERR_AEDES_PATCH' });
});

it('each override checks its own target at install: version, then the fingerprint of the code it replaces', () => {
  expect(() => ackAfterStore(faking('aedes', '1.2.1'))).toThrow(/broker\/aedes\/ack-after-store\.ts.*written for aedes 1\.2\.0, installed 1\.2\.1/);
  expect(() => useFifoInMqEmitter({} as never, faking('mqemitter', '7.1.1'))).toThrow(/broker\/aedes\/mq-fifo\.ts/);
  const changed: Patch = { file: 'broker/aedes/example.ts', what: 'example', targets: [{ pkg: 'aedes', version: '1.2.0', files: { 'lib/handlers/publish.js': '0000000000000000' } }] };
  expect(() => verifyPatch(changed)).toThrow(/aedes\/lib\/handlers\/publish\.js has changed/);
  expect(new OutgoingQueuePersistence({} as never).queued('x')).toBe(0);
});
