/** ingest's one reach into mqtt.js (ingest/mqtt-puback.ts) refuses a version or a client it was not written for. */
import { expect, it } from 'vitest';
import { installedVersion } from '../core/dependency-patch.ts';
import { MQTT_PUBACK_PATCH, tapPubacks } from '../ingest/mqtt-puback.ts';

it('is written for the installed mqtt.js, and refuses one patch version up naming itself', () => {
  expect(installedVersion('mqtt')).toBe(MQTT_PUBACK_PATCH.targets[0]!.version);
  const fake = { _sendPacket() {}, stream: undefined, connected: false } as never;
  expect(() => tapPubacks(fake, () => {}, (p) => (p === 'mqtt' ? '5.16.1' : installedVersion(p))))
    .toThrow(/ingest\/mqtt-puback\.ts.*written for mqtt 5\.16\.0, installed 5\.16\.1/);
  expect(() => tapPubacks({} as never, () => {})).toThrow(/no _sendPacket/);
});

it('takes successful PUBACKs off the send path and passes everything else through', () => {
  const sent: string[] = [];
  const stream = { write: () => true };
  const client = { stream, connected: true, _sendPacket: (p: { cmd: string; messageId?: number }) => sent.push(`${p.cmd}:${p.messageId}`) };
  const held: number[] = [];
  const tap = tapPubacks(client as never, (id, s) => { expect(s).toBe(stream); held.push(id); });
  const c = client as unknown as { _sendPacket(p: object, cb?: () => void): void };
  let done = 0;
  c._sendPacket({ cmd: 'puback', messageId: 5 }, () => done++);
  c._sendPacket({ cmd: 'puback', messageId: 6, reasonCode: 16 });
  c._sendPacket({ cmd: 'pingreq' });
  expect(held).toEqual([5]);
  expect(done).toBe(1);
  expect(sent).toEqual(['puback:6', 'pingreq:undefined']);
  expect(tap.write(stream, Buffer.alloc(4))).toBe(true);
  expect(tap.write({}, Buffer.alloc(4))).toBe(false); // another connection's
  tap.restore();
  c._sendPacket({ cmd: 'puback', messageId: 7 });
  expect(sent.at(-1)).toBe('puback:7');
});
