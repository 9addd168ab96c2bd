/**
 * The login throttle on a fake clock, with the broker's defaults: how many guesses an attacker
 * gets checked per minute at one account with a chosen secret, however fast it sends them; how
 * long the account's owner then waits; and that held refusals per address are bounded.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../broker/config.ts';
import { LoginThrottle } from '../broker/login-throttle.ts';

const make = (now: { t: number }) => new LoginThrottle({
  freeFailures: DEFAULTS.authFreeFailures, windowMs: DEFAULTS.authWindowMs, delayMinMs: 250, delayMaxMs: DEFAULTS.authDelayMaxMs,
  maxWaitMs: 8000, addressFailures: DEFAULTS.authAddressFailures, maxHeldPerAddress: 100, now: () => now.t,
});

describe('login throttle', () => {
  it('lets an attacker sending 100 guesses a second have about 15 checked a minute at one account', () => {
    const now = { t: 0 };
    const th = make(now);
    const due: number[] = []; // check times of admitted guesses
    let refused = 0;
    for (now.t = 0; now.t < 60_000; now.t += 10) {
      while (due.length && due[0]! <= now.t) { due.shift(); th.settle('acct'); th.failed('acct', '10.0.0.1'); }
      const w = th.reserve('acct');
      if (w < 0) refused++;
      else if (w === 0) th.failed('acct', '10.0.0.1');
      else due.push(now.t + w);
    }
    const checked = 6000 - refused;
    console.log(`chosen secret, 6,000 guesses in 60 s at one account: ${checked} checked, ${refused} refused unchecked`);
    expect(checked).toBeGreaterThanOrEqual(5);
    expect(checked).toBeLessThanOrEqual(20);
    // the owner arriving now waits its turn: at most maxWaitMs, never refused for good while the queue has room
    now.t += 10_000;
    const w = th.reserve('acct');
    expect(w).toBeGreaterThanOrEqual(0);
    expect(w).toBeLessThanOrEqual(8000);
  });

  it('starts delays only after the free failures, per account, and forgets them after the window', () => {
    const now = { t: 0 };
    const th = make(now);
    for (let i = 0; i < DEFAULTS.authFreeFailures; i++) {
      expect(th.reserve('a')).toBe(0);
      expect(th.failed('a', '10.0.0.1')).toBe(i + 1 < DEFAULTS.authFreeFailures ? 0 : 250);
      if (i + 1 === DEFAULTS.authFreeFailures) th.released('10.0.0.1');
    }
    expect(th.reserve('a')).toBe(0); // first delayed slot starts now
    expect(th.reserve('a')).toBe(250);
    expect(th.reserve('b')).toBe(0); // another account: untouched
    th.settle('a'); // the reserved check is made
    now.t += DEFAULTS.authWindowMs + 20_000;
    expect(th.failures('a')).toBe(0);
    expect(th.reserve('a')).toBe(0);
  });

  it('holds at most 100 refusals at once per address, and holds by address only past its much higher bound', () => {
    const now = { t: 0 };
    const th = make(now);
    // many accounts, one failure each: no account reaches its free allowance
    const holds = Array.from({ length: DEFAULTS.authAddressFailures + 300 }, (_, i) => th.failed(`acct-${i}`, '10.0.0.9'));
    expect(holds.slice(0, DEFAULTS.authAddressFailures - 1).every((h) => h === 0)).toBe(true);
    const held = holds.filter((h) => h > 0);
    expect(held.length).toBe(100);
    expect(th.failed('other', '10.0.0.10')).toBe(0); // another address is not held
  });
});
