/**
 * Start-up guard: the broker refuses to start on versions of aedes, its persistences or mqemitter
 * that our patches were not written and tested against, naming each patch to review.
 */
import { PlatformError } from '../../core/errors.ts';
import { ACK_AFTER_STORE_PATCH } from './ack-after-store.ts';
import { CONNACK_HOLD_PATCH } from './connack-hold.ts';
import { DRAIN_WAIT_PATCH } from './drain-wait.ts';
import { MQ_FIFO_PATCH } from './mq-fifo.ts';
import { ORPHAN_WILLS_PATCH } from './orphan-wills.ts';
import { OUTGOING_QUEUE_PATCH } from './outgoing-persistence.ts';
import { installedVersion, type Patch, type VersionOf } from '../../core/dependency-patch.ts';
import { REDIS_QUEUE_PATCH } from './redis-queue-store.ts';
import { SUBSCRIPTION_SYNC_PATCH } from './redis-subscription-sync.ts';

/** Every patch of the seam. */
export const PATCHES: readonly Patch[] = [
  OUTGOING_QUEUE_PATCH, REDIS_QUEUE_PATCH, SUBSCRIPTION_SYNC_PATCH, ACK_AFTER_STORE_PATCH,
  CONNACK_HOLD_PATCH, DRAIN_WAIT_PATCH, MQ_FIFO_PATCH, ORPHAN_WILLS_PATCH,
];

/** package -> the one version every patch that touches it was tested against. */
export function testedVersions(patches: readonly Patch[] = PATCHES): Map<string, string> {
  const tested = new Map<string, string>();
  for (const p of patches) for (const t of p.targets) tested.set(t.pkg, t.version);
  return tested;
}

/** Throws SP_ERR_AEDES_PATCH listing every package whose installed version differs, and the patches to review. */
export function checkAedesVersions(versionOf: VersionOf = installedVersion, patches: readonly Patch[] = PATCHES): void {
  const problems: string[] = [];
  for (const [pkg, version] of testedVersions(patches)) {
    const got = versionOf(pkg);
    if (got === version) continue;
    const review = patches.filter((p) => p.targets.some((t) => t.pkg === pkg)).map((p) => `${p.file} (${p.what})`);
    problems.push(`${pkg} ${got ?? '(not installed)'} is installed, the patches were tested with ${version}: review ${review.join(', ')}`);
  }
  if (problems.length > 0) {
    throw new PlatformError('SP_ERR_AEDES_PATCH', `${problems.join('; ')}. Pin the tested version in package.json, or re-check each patch (docs/aedes-patches.md) and update its version`);
  }
}
