import { ConfigError, type ConfigProblem } from './config/errors.js';

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

/** What an edge makes of an error: the one mapping of errors to exit codes, shared by the CLI and the action. */
export type ClassifiedError =
  | { kind: 'configuration'; exitCode: typeof EXIT.usage; message: string; problems: ConfigProblem[] }
  | { kind: 'usage' | 'operation'; exitCode: typeof EXIT.usage | typeof EXIT.failed; message: string; hint?: string }
  /** Not a user mistake: a bug or an unexpected server answer (the stack is for debug output only). */
  | { kind: 'unexpected'; exitCode: typeof EXIT.failed; error: Error };

export function classifyError(error: unknown): ClassifiedError {
  if (error instanceof ConfigError) return { kind: 'configuration', exitCode: EXIT.usage, message: error.message, problems: error.problems };
  if (error instanceof UserError || error instanceof OperationError) {
    return { kind: error instanceof UserError ? 'usage' : 'operation', exitCode: error.exitCode, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  }
  return { kind: 'unexpected', exitCode: EXIT.failed, error: error instanceof Error ? error : new Error(String(error)) };
}

/** The message of anything thrown (a rejection need not be an Error). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
