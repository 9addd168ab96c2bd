/**
 * What every override of a dependency's internals declares: the exact version it was written for
 * and a fingerprint (sha256, first 16 hex digits) of each file whose code it replaces or relies on.
 * `verifyPatch` throws SP_ERR_AEDES_PATCH at start when either differs, naming the patch to review
 * (docs/aedes-patches.md tells its story and how to re-check it).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PlatformError } from './errors.ts';

export interface PatchTarget {
  /** npm package name. */
  pkg: string;
  /** Exact version the patch was written and tested against. */
  version: string;
  /** Files of the package (relative to its folder) -> sha256 prefix of their content. */
  files: Readonly<Record<string, string>>;
}

export interface Patch {
  /** Our file that holds the patch, e.g. broker/aedes/ack-after-store.ts. */
  file: string;
  /** What it changes, in a few words. */
  what: string;
  targets: readonly PatchTarget[];
}

export type VersionOf = (pkg: string) => string | undefined;

const require = createRequire(import.meta.url);

/** The folder of an installed package (its package.json names it), or undefined. */
export function packageDir(pkg: string): string | undefined {
  let dir: string;
  try {
    dir = dirname(require.resolve(pkg));
  } catch {
    return undefined;
  }
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === pkg) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The installed version of a package, read from its package.json. */
export const installedVersion: VersionOf = (pkg) => {
  const dir = packageDir(pkg);
  return dir ? (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version : undefined;
};

export function fingerprint(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
}

export function patchError(patch: Patch, detail: string): PlatformError {
  return new PlatformError('SP_ERR_AEDES_PATCH', `${patch.file} (${patch.what}): ${detail}; review it against the new code and re-run its test (docs/aedes-patches.md)`);
}

/** Throws SP_ERR_AEDES_PATCH when an installed version or a fingerprinted file is not what the patch was written for. */
export function verifyPatch(patch: Patch, versionOf: VersionOf = installedVersion): void {
  for (const t of patch.targets) {
    const v = versionOf(t.pkg);
    if (v !== t.version) throw patchError(patch, `written for ${t.pkg} ${t.version}, installed ${v ?? 'none'}`);
    const dir = packageDir(t.pkg);
    for (const [file, sum] of Object.entries(t.files)) {
      const path = dir ? join(dir, file) : '';
      const got = path && existsSync(path) ? fingerprint(path) : 'missing';
      if (got !== sum) throw patchError(patch, `${t.pkg}/${file} has changed (sha256 ${got}, expected ${sum})`);
    }
  }
}
