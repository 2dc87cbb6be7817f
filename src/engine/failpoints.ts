/**
 * Named crash points for tests (the idea of MongoDB's own failpoints): when the edge's settings arm one
 * (MLM_FAILPOINT), the process kills itself there with SIGKILL — no cleanup, no flush, like a runner that dies.
 * `name#N` kills at the Nth time the point is reached (to land inside a batch). Inert otherwise.
 */
const hits = new Map<string, number>();
let wanted: string | undefined;

/** Arms the crash point the edge's settings name (openRun does, with the run's ports), or disarms. */
export function armFailpoint(spec: string | undefined): void {
  wanted = spec;
}

export function failpoint(name: string): void {
  if (!wanted) return;
  const [point, nth] = wanted.split('#');
  if (point !== name) return;
  const count = (hits.get(name) ?? 0) + 1;
  hits.set(name, count);
  if (count >= Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}

/**
 * Named pause points for in-process tests: a test registers an async action at a point (kill the destination's
 * primary between the data writes and the position save, say) and the engine awaits it there. Inert otherwise.
 */
const pauses = new Map<string, () => Promise<void>>();

export function setPausePoint(name: string, action: (() => Promise<void>) | undefined): void {
  if (action) pauses.set(name, action);
  else pauses.delete(name);
}

export async function pausePoint(name: string): Promise<void> {
  const action = pauses.get(name);
  if (action) await action();
}
