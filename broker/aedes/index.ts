/**
 * The one seam between our broker and Aedes 1.2.0: every change to how Aedes, its persistences or
 * mqemitter behave is applied here, each patch checked against the version it was written for.
 */
import { Aedes, type AedesOptions } from 'aedes';
import type { AckAfterStore } from './ack-after-store.ts';
import { holdDeliveriesUntilConnack } from './connack-hold.ts';
import { checkDrainWait } from './drain-wait.ts';
import { useFifoInMqEmitter } from './mq-fifo.ts';
import { publishOrphanWills } from './orphan-wills.ts';
import type { AsyncPersistence } from './outgoing-persistence.ts';
import type { VersionOf } from '../../core/dependency-patch.ts';
import { syncSubscriptions, type SubscriptionBus } from './redis-subscription-sync.ts';
import { checkAedesVersions } from './versions.ts';

export { ackAfterStore, type AckAfterStore } from './ack-after-store.ts';
export { chainAuthorizePublish, type AuthorizePublish, type PublishStage } from './authorize-chain.ts';
export { isClosed, isPersistentSession, waitForDrainUnbounded } from './drain-wait.ts';
export { OutgoingQueuePersistence, type AsyncPersistence } from './outgoing-persistence.ts';
export { REDIS_QUEUE_PREFIX, redisQueueStore, type RedisLike } from './redis-queue-store.ts';
export { type SubscriptionBus } from './redis-subscription-sync.ts';
export { checkAedesVersions } from './versions.ts';

export interface SeamOptions {
  persistence: AsyncPersistence;
  /** Installed when its stage is in options.authorizePublish (durable profile). */
  ackAfterStore?: AckAfterStore;
  /** Shared Redis: relay subscription changes to the other brokers on it. */
  subscriptionBus?: SubscriptionBus;
  /** Durable store: publish the wills a killed broker left behind. */
  publishOrphanWills?: boolean;
  onError?: (err: Error) => void;
  /** Tests: a fake installed version. */
  versionOf?: VersionOf;
}

/**
 * Checks the installed versions (SP_ERR_AEDES_PATCH naming the patch to review), creates the
 * broker with our persistence and applies the overrides; ready to take connections.
 */
export async function createPatchedBroker(options: Partial<AedesOptions>, seam: SeamOptions): Promise<Aedes> {
  checkAedesVersions(seam.versionOf);
  checkDrainWait(seam.versionOf);
  const aedes = await Aedes.createBroker({ ...options, persistence: seam.persistence as unknown as AedesOptions['persistence'] });
  holdDeliveriesUntilConnack(aedes, seam.versionOf);
  useFifoInMqEmitter(aedes, seam.versionOf);
  seam.ackAfterStore?.install(aedes);
  if (seam.subscriptionBus) await syncSubscriptions(aedes, seam.subscriptionBus, seam.onError ?? (() => {}), seam.versionOf);
  if (seam.publishOrphanWills) await publishOrphanWills(aedes, seam.persistence, seam.versionOf);
  return aedes;
}
