/**
 * Authentication brute-force guard: after `maxFailures` failed logins from one address within
 * `windowMs`, further attempts from it are refused without checking the password until the
 * window has passed (a success does not reset the count: many devices may share one NAT
 * address with an attacker). Other addresses are unaffected. Memory is bounded by `maxTracked`.
 */
export interface LimiterOptions { maxFailures: number; windowMs: number; maxTracked?: number; now?: () => number }

export class FailureLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();
  constructor(private readonly opts: LimiterOptions) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  blocked(ip: string | undefined): boolean {
    if (!ip) return false;
    const f = this.failures.get(ip);
    if (!f) return false;
    if (this.now() - f.since > this.opts.windowMs) {
      this.failures.delete(ip);
      return false;
    }
    return f.count >= this.opts.maxFailures;
  }

  fail(ip: string | undefined): void {
    if (!ip) return;
    const now = this.now();
    const f = this.failures.get(ip);
    if (!f || now - f.since > this.opts.windowMs) {
      if (this.failures.size >= (this.opts.maxTracked ?? 100_000)) this.failures.clear();
      this.failures.set(ip, { count: 1, since: now });
    } else f.count++;
  }
}
