import type { Logger } from '../log.js';
import type { Progress } from '../model.js';
import { DEFAULT_SHORT_COMMAND_BOUND_MS } from '../mongo/stall-bound.js';

/** What the edges hand the engine: no terminal, no GitHub, only these. */
export interface EnginePorts {
  log: Logger;
  /** Aborted on SIGINT / SIGTERM or by the caller: long operations save their position and return. */
  signal: AbortSignal;
  /** Identifies this runner in the lease and in the history (host/pid, or the GitHub run). */
  runner: string;
  /** Called with fresh progress now and then (bars in a terminal, log lines elsewhere). */
  onProgress?: (progress: Progress) => void;
  /** What the edge read from its environment (tests shorten the lease, arm a crash point); defaults otherwise. */
  settings?: Partial<EngineSettings>;
}

/** Engine settings that are not the migration's configuration: test hooks and timing, set by the edge. */
export interface EngineSettings {
  /** How long a lease lasts without renewal. */
  leaseTtlMs: number;
  /** A named crash point (see failpoints.ts): `name` or `name#N`. */
  failpoint?: string;
  /** How long one of the tail's short commands may go without a reply before it is aborted (see stall-bound.ts). */
  shortCommandBoundMs: number;
}

export const DEFAULT_LEASE_TTL_MS = 30_000;

/**
 * The settings an edge takes from its environment: MLM_LEASE_TTL_MS (at least 1 s; tests shorten it to prove that
 * a dead runner's lease expires and a successor proceeds), MLM_COMMAND_BOUND_MS (at least 1 s; tests shorten it to
 * see a path that stopped delivering recover within a test's time) and MLM_FAILPOINT.
 */
export function settingsFromEnvironment(env: Readonly<Record<string, string | undefined>>): Partial<EngineSettings> {
  const ttl = Number(env.MLM_LEASE_TTL_MS);
  const bound = Number(env.MLM_COMMAND_BOUND_MS);
  return {
    ...(Number.isInteger(ttl) && ttl >= 1000 ? { leaseTtlMs: ttl } : {}),
    ...(Number.isInteger(bound) && bound >= 1000 ? { shortCommandBoundMs: bound } : {}),
    ...(env.MLM_FAILPOINT ? { failpoint: env.MLM_FAILPOINT } : {}),
  };
}

export function settingsOf(ports: EnginePorts): EngineSettings {
  return { leaseTtlMs: DEFAULT_LEASE_TTL_MS, shortCommandBoundMs: DEFAULT_SHORT_COMMAND_BOUND_MS, ...ports.settings };
}
