/**
 * Failed console logins, limited per username and per client address — the idea of the broker's
 * login throttle (broker/login-throttle.ts), answered the HTTP way: instead of holding a socket, an
 * attempt that comes before its turn is refused at once with 429 and Retry-After.
 *
 * After `freeFailures` failures of one username within `windowMs`, its next attempt is checked no
 * earlier than `delayMinMs` after the last failure, doubling with each further failure up to
 * `delayMaxMs`: about 60 s / delayMaxMs guesses a minute at one account, however many addresses
 * are used, while the person who knows the password waits at most delayMaxMs. An address gets a
 * much larger allowance (`addressFailures`: a factory shares one NAT address). A success clears the
 * username's count. Memory is bounded by `maxTracked` usernames and addresses.
 */
export interface LoginLimitOptions {
  freeFailures: number;
  addressFailures: number;
  windowMs: number;
  delayMinMs: number;
  delayMaxMs: number;
  maxTracked?: number;
  now?: () => number;
}

interface Track { failures: number; since: number; nextAt: number }

export class LoginLimit {
  private readonly users = new Map<string, Track>();
  private readonly addresses = new Map<string, Track>();
  constructor(private readonly o: LoginLimitOptions) {}

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  private track(map: Map<string, Track>, key: string, create: boolean): Track | undefined {
    const now = this.now();
    let t = map.get(key);
    if (t && now - t.since > this.o.windowMs && t.nextAt <= now) {
      map.delete(key);
      t = undefined;
    }
    if (!t && create) {
      if (map.size >= (this.o.maxTracked ?? 100_000)) map.clear();
      t = { failures: 0, since: now, nextAt: 0 };
      map.set(key, t);
    }
    return t;
  }

  private delay(failures: number, free: number): number {
    if (failures < free) return 0;
    return Math.min(this.o.delayMaxMs, this.o.delayMinMs * 2 ** Math.min(30, failures - free));
  }

  /** Milliseconds before an attempt at `user` from `ip` may be checked; 0 = check it now. */
  wait(user: string, ip: string): number {
    const now = this.now();
    const u = this.track(this.users, user, false);
    const a = this.track(this.addresses, ip, false);
    return Math.max(0, (u?.nextAt ?? 0) - now, (a?.nextAt ?? 0) - now);
  }

  /** Records a failed attempt (wrong password or unknown user). */
  failed(user: string, ip: string): void {
    const now = this.now();
    const u = this.track(this.users, user, true)!;
    u.failures++;
    u.nextAt = now + this.delay(u.failures, this.o.freeFailures);
    const a = this.track(this.addresses, ip, true)!;
    a.failures++;
    a.nextAt = now + this.delay(a.failures, this.o.addressFailures);
  }

  succeeded(user: string): void {
    this.users.delete(user);
  }

  /** Failures of a username in the current window (for counters and tests). */
  failures(user: string): number {
    return this.track(this.users, user, false)?.failures ?? 0;
  }
}
