import { readFileSync } from 'node:fs';
import type { EventPayload } from './pull-request.js';

/** The webhook payload the runner saved at GITHUB_EVENT_PATH; {} when absent (a local run). */
export function readEventPayload(path: string | undefined): EventPayload {
  if (!path) return {};
  const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
  return value && typeof value === 'object' ? (value as EventPayload) : {};
}
