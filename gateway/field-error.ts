/** Why a field request failed; `reason` is what a device's status says (`info`). */
export type FieldErrorKind = 'timeout' | 'exception' | 'crc' | 'bad-frame' | 'connection';

export class FieldError extends Error {
  constructor(readonly kind: FieldErrorKind, readonly reason: string) {
    super(reason);
    this.name = 'FieldError';
  }
}

export const timeoutError = (): FieldError => new FieldError('timeout', 'timeout');
export const badFrame = (detail?: string): FieldError => new FieldError('bad-frame', detail ? `bad frame: ${detail}` : 'bad frame');
