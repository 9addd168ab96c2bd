/** The message of the PlatformError a loader refuses its input with (fails the test if it accepts it or throws something else). */
import { expect } from 'vitest';
import { PlatformError } from '../../core/errors.ts';

export function refusalMessage(load: () => unknown, code: string, what: string): string {
  try {
    load();
  } catch (e) {
    expect(e).toBeInstanceOf(PlatformError);
    expect((e as PlatformError).code).toBe(code);
    return (e as Error).message;
  }
  throw new Error(`${what} accepted`);
}
