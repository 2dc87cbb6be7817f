/**
 * Named crash points for tests (the idea of MongoDB's own failpoints): when MLM_FAILPOINT names one, the
 * process kills itself there with SIGKILL — no cleanup, no flush, like a runner that dies. Inert otherwise.
 */
export function failpoint(name: string): void {
  if (process.env.MLM_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
