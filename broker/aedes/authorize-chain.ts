/** The authorizePublish hook as a chain of stages, composed once, run in the order given. */
import type { AedesOptions, Client, PublishPacket } from 'aedes';

export type AuthorizePublish = NonNullable<AedesOptions['authorizePublish']>;
/** One stage: calls `next` with an error to refuse, with none to pass the publish on. */
export type PublishStage = (client: Client | null, packet: PublishPacket, next: (err?: Error | null) => void) => void;

/** Stages left out (undefined) are skipped; the publish is authorized once the last one passes it. */
export function chainAuthorizePublish(...stages: (PublishStage | undefined)[]): AuthorizePublish {
  const list = stages.filter((s): s is PublishStage => s !== undefined);
  const run = (i: number): AuthorizePublish => {
    const stage = list[i];
    if (!stage) return (_client, _packet, cb) => cb(null);
    const rest = run(i + 1);
    return (client, packet, cb) => stage(client, packet, (err) => (err ? cb(err) : rest(client, packet, cb)));
  };
  return run(0);
}
