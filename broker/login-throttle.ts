/**
 * Password-guessing protection that cannot be turned against the park: it throttles per
 * account, delays instead of blocking, and never refuses a correct generated secret.
 *
 * - Chosen secrets (scrypt hashes, the only ones a guess could find): after `freeFailures`
 *   failed logins of an account within `windowMs`, its attempts are checked one after the other,
 *   spaced by a delay that doubles with each further failure (from `delayMinMs` up to
 *   `delayMaxMs`): an attacker gets about 60 s / delayMaxMs guesses a minute at that account,
 *   however many connections it opens. An attempt whose turn would come later than `maxWaitMs`
 *   is refused at once (rate limited); one that waits is checked at its turn, so the device that
 *   knows the secret gets in after the delay.
 * - Generated secrets (256-bit, sha256 hashes) are checked at once: no guess can find them, so
 *   holding the real device back would buy nothing.
 * - Every failure's answer is held back (a tarpit) by the same doubling delay, counted per
 *   account and, from `addressFailures` failures a window on, per address as well — a much
 *   higher bound, because a whole factory may share one NAT address. At most `maxHeldPerAddress`
 *   answers are held at once per address; beyond that they go out at once (held sockets cost
 *   memory, and a correct login is never held).
 * Memory is bounded by `maxTracked` accounts and addresses.
 */
export interface ThrottleOptions {
  freeFailures: number;
  windowMs: number;
  delayMinMs: number;
  delayMaxMs: number;
  maxWaitMs: number;
  addressFailures: number;
  maxHeldPerAddress: number;
  maxTracked?: number;
  now?: () => number;
}

/** `pending`: checks reserved for later; they count as failures to come when the next slot is spaced. */
interface Track { failures: number; pending: number; since: number; nextAt: number; held: number }

export class LoginThrottle {
  private readonly accounts = new Map<string, Track>();
  private readonly addresses = new Map<string, Track>();
  constructor(private readonly o: ThrottleOptions) {}

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  private track(map: Map<string, Track>, key: string, create: boolean): Track | undefined {
    const now = this.now();
    let t = map.get(key);
    if (t && now - t.since > this.o.windowMs && t.held === 0 && t.pending === 0 && t.nextAt <= now) {
      map.delete(key);
      t = undefined;
    }
    if (!t && create) {
      if (map.size >= (this.o.maxTracked ?? 100_000)) map.clear();
      t = { failures: 0, pending: 0, since: now, nextAt: 0, held: 0 };
      map.set(key, t);
    }
    return t;
  }

  /** Delay after `failures` failures against a free allowance of `free`: 0 while within it. */
  private delay(failures: number, free: number): number {
    if (failures < free) return 0;
    return Math.min(this.o.delayMaxMs, this.o.delayMinMs * 2 ** Math.min(30, failures - free));
  }

  /**
   * For an attempt at an account with a chosen secret: how long to wait before checking it
   * (0 = now), or -1 when its turn is further away than maxWaitMs (refuse it, rate limited).
   */
  reserve(account: string): number {
    const t = this.track(this.accounts, account, false);
    const d = t ? this.delay(t.failures + t.pending, this.o.freeFailures) : 0;
    if (!t || d === 0) return 0;
    const now = this.now();
    const at = Math.max(now, t.nextAt);
    if (at - now > this.o.maxWaitMs) return -1;
    t.nextAt = at + d;
    if (at > now) t.pending++;
    return at - now;
  }

  /** A check reserved by `reserve` (a wait > 0) is being made now. */
  settle(account: string): void {
    const t = this.accounts.get(account);
    if (t && t.pending > 0) t.pending--;
  }

  /** Records a failed login; returns how long to hold its answer (0 = at once). */
  failed(account: string, ip: string | undefined): number {
    const a = this.track(this.accounts, account, true)!;
    a.failures++;
    const byAccount = this.delay(a.failures, this.o.freeFailures);
    let byAddress = 0;
    let addr: Track | undefined;
    if (ip) {
      addr = this.track(this.addresses, ip, true)!;
      addr.failures++;
      byAddress = this.delay(addr.failures, this.o.addressFailures);
    }
    const hold = Math.max(byAccount, byAddress);
    if (hold === 0 || !addr || addr.held >= this.o.maxHeldPerAddress) return 0;
    addr.held++;
    return hold;
  }

  /** A held answer has gone out. */
  released(ip: string | undefined): void {
    const t = ip ? this.addresses.get(ip) : undefined;
    if (t && t.held > 0) t.held--;
  }

  /** Failures counted in the current window (for counters and tests). */
  failures(account: string): number {
    return this.track(this.accounts, account, false)?.failures ?? 0;
  }
}
