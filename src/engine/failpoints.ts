/**
 * Named crash points for tests (the idea of MongoDB's own failpoints): when MLM_FAILPOINT names one, the
 * process kills itself there with SIGKILL — no cleanup, no flush, like a runner that dies. `name#N` kills at
 * the Nth time the point is reached (to land inside a batch). Inert otherwise.
 */
const hits = new Map<string, number>();

export function failpoint(name: string): void {
  const wanted = process.env.MLM_FAILPOINT;
  if (!wanted) return;
  const [point, nth] = wanted.split('#');
  if (point !== name) return;
  const count = (hits.get(name) ?? 0) + 1;
  hits.set(name, count);
  if (count >= Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
