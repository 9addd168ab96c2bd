/**
 * Last wills stored by a broker that is gone (this one, before it was killed) are published at
 * start, before any device can reconnect. Left to aedes 1.2.0, its will sweep (every 4 heartbeats)
 * publishes them after the devices are back, and its storeWill cannot delete them first
 * (aedes-persistence-redis looks a will up under a `brokerId` a reconnecting Client lacks): a
 * retained "offline" will would mark online devices offline.
 */
import type { Aedes, PublishPacket } from 'aedes';
import type { AsyncPersistence } from './outgoing-persistence.ts';
import { verifyPatch, type Patch, type VersionOf } from '../../core/dependency-patch.ts';

export const ORPHAN_WILLS_PATCH: Patch = {
  file: 'broker/aedes/orphan-wills.ts',
  what: "last wills of a killed broker's connections published at start",
  targets: [
    { pkg: 'aedes', version: '1.2.0', files: { 'aedes.js': '5b4b483b749c0eb5', 'lib/handlers/connect.js': 'c522097e13a72a63' } },
    { pkg: 'aedes-persistence-redis', version: '12.0.0', files: { 'asyncPersistence.js': 'aab2883e175dca86' } },
  ],
};

type Will = PublishPacket & { clientId: string; brokerId: string };

/** Publishes and deletes every stored will not of this broker's own (live) connections. */
export async function publishOrphanWills(aedes: Aedes, persistence: AsyncPersistence, versionOf?: VersionOf): Promise<void> {
  verifyPatch(ORPHAN_WILLS_PATCH, versionOf);
  for await (const will of persistence.streamWill({ [aedes.id]: Date.now() }) as AsyncIterable<Will>) {
    await new Promise<void>((resolve, reject) => aedes.publish(will, (err) => (err ? reject(err) : resolve())));
    await persistence.delWill({ id: will.clientId, brokerId: will.brokerId });
  }
}
