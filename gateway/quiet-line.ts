/**
 * After a failed exchange, bytes that still arrive on a field line belong to no request (a late
 * answer, a tail of garbage): they are dropped until the line has been quiet for a while, so
 * they can never be taken for the next answer. Shared by the Modbus and DL/T 645 clients.
 */
export class QuietLine {
  private since: number | undefined;

  /** A new request starts: nothing is being dropped any more. */
  reset(): void {
    this.since = undefined;
  }

  /** True when `chunk` is to be dropped: the line is settling, or no request waits for it. */
  drops(waiting: boolean): boolean {
    if (this.since !== undefined) {
      this.since = Date.now(); // still talking: quiet starts again from now
      return true;
    }
    return !waiting;
  }

  /** Resolves once no byte arrived for quietMs (at most 10 × quietMs). */
  async settle(quietMs: number): Promise<void> {
    const start = Date.now();
    this.since = start;
    while (Date.now() - this.since < quietMs && Date.now() - start < 10 * quietMs) {
      await new Promise((r) => setTimeout(r, Math.max(1, quietMs - (Date.now() - this.since!))));
    }
    this.since = undefined;
  }
}
