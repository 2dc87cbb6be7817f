/**
 * A time-boxed slice of a long command (sync, tail, cutover). A GitHub job dies at its time limit and loses
 * whatever it did not save, so a slice stops itself at its max-duration the same way a cancellation stops it:
 * through the abort signal that every long loop already checks (copy batches, replay, tailing), after which
 * the command saves its position and returns. `timedOut` tells "the time box ended it" from "a signal did".
 */
export interface Slice {
  /** Aborted by the parent signal or at the deadline, whichever comes first. */
  signal: AbortSignal;
  /** Milliseconds since epoch at which the slice ends. */
  deadline: number;
  timedOut(): boolean;
  dispose(): void;
}

export function startSlice(parent: AbortSignal, durationMs: number, started = Date.now()): Slice {
  const controller = new AbortController();
  let timedOut = false;
  const onParent = (): void => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', onParent, { once: true });
  const timer = setTimeout(
    () => {
      timedOut = !controller.signal.aborted;
      controller.abort(new Error('max-duration reached'));
    },
    Math.max(0, started + durationMs - Date.now()),
  );
  // The deadline must never keep a finished process alive.
  timer.unref();
  return {
    signal: controller.signal,
    deadline: started + durationMs,
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    },
  };
}
