/**
 * Errors that carry their exit code. A user mistake (bad usage, bad config, bad input) exits 2 and an
 * operation that ran and failed (a check, a verification, an unreachable host) exits 1; neither prints a
 * stack trace. Anything else is a bug and is reported as one.
 */
export class UserError extends Error {
  readonly exitCode = 2;
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'UserError';
  }
}

export class OperationError extends Error {
  readonly exitCode = 1;
  constructor(message: string, readonly hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OperationError';
  }
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
