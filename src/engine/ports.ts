import type { Logger } from '../log.js';
import type { Progress } from '../model.js';

/** What the edges hand the engine: no terminal, no GitHub, only these. */
export interface EnginePorts {
  log: Logger;
  /** Aborted on SIGINT / SIGTERM or by the caller: long operations save their position and return. */
  signal: AbortSignal;
  /** Identifies this runner in the lease and in the history (host/pid, or the GitHub run). */
  runner: string;
  /** Called with fresh progress now and then (bars in a terminal, log lines elsewhere). */
  onProgress?: (progress: Progress) => void;
  /** Injected for tests; Date.now by default. */
  now?: () => number;
}
