/** The validated, defaulted form of migration.yaml. Mirrors schemas/migration.schema.json. */
export interface Config {
  version: 1;
  name: string;
  /** Absolute path of the file this came from (for messages), or a label for embedded configs. */
  file: string;
  /** sha256 of the normalised config: a resumed migration refuses a config that changed what moves. */
  hash: string;
  source: Endpoint;
  destination: Endpoint;
  namespaces: NamespaceRules;
  sync: SyncOptions;
  tail: TailOptions;
  cutover: CutoverOptions;
  report: ReportOptions;
}

export interface Endpoint {
  /** The connection string after ${VAR} substitution. A secret: print only through redactUri. */
  uri: string;
}

export interface NamespaceRules {
  include: string[];
  exclude: string[];
  rename: Record<string, string>;
}

export interface SyncOptions {
  parallelCollections: number;
  batchSize: number;
  partitionSizeMB: number;
  dropDestination: boolean;
}

export interface TailOptions {
  maxDurationMs: number;
  batchSize: number;
}

export type WriteBlockMode = 'source' | 'none';
export type VerifyMode = 'none' | 'count' | 'hash';

export interface CutoverOptions {
  maxLagSeconds: number;
  lagHoldSeconds: number;
  writeBlock: WriteBlockMode;
  verify: VerifyMode;
}

export interface ReportOptions {
  pullRequestComment: boolean;
}
