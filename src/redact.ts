/**
 * One place that knows every secret of the running process and scrubs it from any text that leaves it:
 * log lines, error messages, reports, PR comments, state documents. Edges register secrets as soon as they
 * learn them (the URIs from the environment); everything that prints goes through `scrub`.
 */

const secrets = new Set<string>();

/** Matches the user-info part of a MongoDB connection string, whatever the password holds. */
const URI_CREDENTIALS = /(mongodb(?:\+srv)?:\/\/)([^@/\s]*)@/gi;

/** Remembers a secret and the encodings in which it may show up in text (URL-encoded, JSON-escaped). */
export function registerSecret(secret: string | undefined): void {
  if (!secret || secret.length < 3) return; // too short to scrub without mangling ordinary words
  secrets.add(secret);
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) secrets.add(encoded);
  const json = JSON.stringify(secret).slice(1, -1);
  if (json !== secret) secrets.add(json);
}

/** Registers the password (and user:password pair) of a connection string. */
export function registerUriSecrets(uri: string | undefined): void {
  if (!uri) return;
  const match = /^mongodb(?:\+srv)?:\/\/([^@/]*)@/i.exec(uri);
  const userInfo = match?.[1];
  if (!userInfo) return;
  const colon = userInfo.indexOf(':');
  if (colon < 0) return;
  const password = userInfo.slice(colon + 1);
  registerSecret(password);
  try {
    registerSecret(decodeURIComponent(password));
  } catch {
    // a malformed escape is still scrubbed in its raw form above
  }
}

/** Redacts connection-string credentials (keeping the user name) and every registered secret. */
export function scrub(text: string): string {
  let out = text.replace(URI_CREDENTIALS, (_all, scheme: string, userInfo: string) => {
    const colon = userInfo.indexOf(':');
    return colon < 0 ? `${scheme}${userInfo}@` : `${scheme}${userInfo.slice(0, colon)}:****@`;
  });
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('****');
  }
  return out;
}

/** A connection string fit for display: credentials replaced, query options kept. */
export function redactUri(uri: string): string {
  return scrub(uri);
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
}
