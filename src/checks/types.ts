import type { MongoClient } from 'mongodb';
import type { Config } from '../config/types.js';
import type { NamespaceFilter } from '../namespaces.js';
import type { Side } from '../mongo/connect.js';
import type { CheckResult } from '../model.js';
import type { Facts } from './facts.js';

/** What a check concludes; the registry adds its id and title. */
export type Finding = Omit<CheckResult, 'id' | 'title'>;

export interface SideConnection {
  side: Side;
  /** The connection string; a secret (print through redactUri only). */
  uri: string;
  /** Null when the side could not be reached; connectFailure says why. */
  client: MongoClient | null;
  connectFailure: { kind: string; message: string; remedy: string } | null;
  connectMs: number;
}

export interface CheckContext {
  config: Config;
  filter: NamespaceFilter;
  source: SideConnection;
  destination: SideConnection;
  /** Memoised server facts shared by every check (one listCollections per database, not one per check). */
  facts: Facts;
  now: () => number;
}

export interface Check {
  /** Stable identifier: reports, PR comments and users' scripts refer to it. */
  id: string;
  title: string;
  /** Sides that must be reachable for the check to run; otherwise it reports "not run". */
  needs: Side[];
  run(context: CheckContext): Promise<Finding>;
}

export const pass = (message: string): Finding => ({ status: 'pass', message });
export const warn = (message: string, remedy: string): Finding => ({ status: 'warn', message, remedy });
export const fail = (message: string, remedy: string): Finding => ({ status: 'fail', message, remedy });

// One formatting for every message: "1 collection", "1,200 documents".
export { plural } from '../format.js';

/** A short list for a one-line message: "a, b, c and 4 more". */
export function listSome(items: string[], max = 3): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
