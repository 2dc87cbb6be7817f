/**
 * How long one of the tail's short commands may take (a change stream read that waits 250 ms for events, a
 * lookup of a few hundred documents by _id, a write of a hundred statements acknowledged by the primary alone):
 * far above what any of them takes on a healthy cluster, even a loaded one, and far below the ~11 minutes
 * after which TCP keepalive (the driver's only other guard) finds a path that silently stopped delivering.
 */
export const DEFAULT_SHORT_COMMAND_BOUND_MS = 60_000;

/**
 * Process-wide, like the driver's own timeouts: a process runs one migration. Set when a run opens: the setting
 * (tests shorten it to see a stalled path recover within a test's time) plus the clients' server selection
 * timeout, since the bound runs from the start of server selection, a wait the connection string may rightly
 * make long (a flaky link's `serverSelectionTimeoutMS=120000`).
 */
let shortCommandBoundMs = DEFAULT_SHORT_COMMAND_BOUND_MS;

export function shortCommandBound(): number {
  return shortCommandBoundMs;
}

export function setShortCommandBound(ms: number): void {
  shortCommandBoundMs = ms;
}

/**
 * A command that neither finished nor failed within its bound. The driver closes its connection, as a cut link
 * would, and the step starts again from the saved state (like any transient error; see reconnect.ts).
 *
 * Why the bound exists: the driver waits without end by default for a reply on an open connection, and for a
 * connection from its pool. CI saw a tail slice under network cuts wait on something that neither failed nor
 * finished for minutes, while the same process reconnected everything else.
 */
export class CommandStalled extends Error {
  readonly transient = true;
  constructor(what: string, boundMs: number) {
    super(`${what} got no reply within ${Math.round(boundMs / 1000)} s; its connection was closed and the step starts again from the saved state`);
    this.name = 'CommandStalled';
  }
}

/** Runs one driver operation with a signal that aborts it (server selection, pool checkout, reply) after `boundMs`. */
export async function withinBound<T>(what: string, boundMs: number, operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new CommandStalled(what, boundMs)), boundMs);
  try {
    return await operation(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one of the tail's short driver operations within the process's command bound (shortCommandBound). */
export async function withinShortBound<T>(what: string, operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return withinBound(what, shortCommandBound(), operation);
}

/** Waits for `promise` at most `ms`; true when it settled (fulfilled or rejected) in time. */
export async function settledWithin(promise: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!promise) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Options with an abort signal, for the driver's retryable updates: the driver honours `signal` on every operation
 * (server selection, pool checkout, the reply) but declares it only on reads and commands. stalled-path.test.ts
 * fails if a driver release stops honouring it here.
 */
export function abortable<T extends object>(options: T, signal: AbortSignal): T {
  return { ...options, signal };
}
