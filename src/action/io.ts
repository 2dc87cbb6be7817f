import * as core from '@actions/core';
import { scrub } from '../redact.js';

/**
 * Everything the action says to the runner goes through here, scrubbed: log lines, annotations, outputs,
 * the job summary, the failure message. Secrets are registered with the runner's masking first (setSecret),
 * so even text that escapes our scrubbing (a library's own output) is masked in the log.
 */
export interface Annotation {
  title?: string;
  file?: string;
  startLine?: number;
  startColumn?: number;
}

export interface ActionIO {
  info(message: string): void;
  debug(message: string): void;
  warning(message: string, where?: Annotation): void;
  error(message: string, where?: Annotation): void;
  setOutput(name: string, value: string): void;
  /** Masks a secret in the runner's log from here on. */
  setSecret(secret: string): void;
  /** Appends markdown to this step's job summary. */
  appendSummary(markdown: string): Promise<void>;
  /** Replaces this step's job summary (the live report of a long step, then its outcome). */
  replaceSummary?(markdown: string): Promise<void>;
  setFailed(message: string): void;
}

export const coreIO: ActionIO = {
  info: (message) => core.info(scrub(message)),
  debug: (message) => core.debug(scrub(message)),
  warning: (message, where) => core.warning(scrub(message), where),
  error: (message, where) => core.error(scrub(message), where),
  setOutput: (name, value) => core.setOutput(name, scrub(value)),
  setSecret: (secret) => core.setSecret(secret),
  appendSummary: async (markdown) => {
    await core.summary.addRaw(scrub(markdown), true).write(); // write() appends, then empties the buffer
  },
  replaceSummary: async (markdown) => {
    await core.summary.addRaw(scrub(markdown), true).write({ overwrite: true });
  },
  setFailed: (message) => core.setFailed(scrub(message)),
};
