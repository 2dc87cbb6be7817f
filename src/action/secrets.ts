import { registerSecret, registerUriSecrets } from '../redact.js';
import type { ActionIO } from './io.js';

/**
 * Registers secrets with both maskers (the runner's, through setSecret, and our own `scrub`) before anything
 * can print them. Called first with the token and every connection string found in the environment (the
 * configuration's ${VAR}s are not known before it is read), then again with the configuration's URIs.
 */
const MONGO_URI_WITH_PASSWORD = /^mongodb(?:\+srv)?:\/\/[^@/:]*:([^@/]+)@/i;

/** Masked once each: every ::add-mask:: line is one more line in the log. */
const masked = new Set<string>();

function mask(io: ActionIO, secret: string): void {
  if (masked.has(secret)) return;
  masked.add(secret);
  io.setSecret(secret);
}

export function maskToken(io: ActionIO, token: string): void {
  if (!token) return;
  mask(io, token);
  registerSecret(token);
}

/** Masks the password of every MongoDB connection string among the environment variables. */
export function maskEnvironmentUris(io: ActionIO, env: NodeJS.ProcessEnv): void {
  for (const value of Object.values(env)) if (value) maskUri(io, value);
}

export function maskUri(io: ActionIO, uri: string): void {
  const password = MONGO_URI_WITH_PASSWORD.exec(uri.trim())?.[1];
  if (!password) return;
  mask(io, password);
  try {
    const decoded = decodeURIComponent(password);
    if (decoded !== password) mask(io, decoded);
  } catch {
    // a malformed escape: the raw form is masked above
  }
  registerUriSecrets(uri.trim());
}
