/** ${VAR} references in configuration strings. `$${` stands for a literal `${`. */
const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type SubstitutionResult =
  | { ok: true; value: string }
  | { ok: false; problem: string };

export function substituteEnv(text: string, env: NodeJS.ProcessEnv): SubstitutionResult {
  let problem: string | undefined;
  const value = text.replace(REFERENCE, (whole, name: string | undefined) => {
    if (whole === '$${') return '${';
    if (problem) return '';
    if (name === undefined || !NAME.test(name)) {
      problem = `"${whole}" is not a valid reference; write \${NAME} with letters, digits and underscores`;
      return '';
    }
    const found = env[name];
    if (found === undefined || found === '') {
      problem = `environment variable ${name} is not set (referenced as \${${name}})`;
      return '';
    }
    return found;
  });
  return problem ? { ok: false, problem } : { ok: true, value };
}

/** True when the text references at least one variable. */
export function hasReference(text: string): boolean {
  return /\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(text.replace(/\$\$\{/g, ''));
}

/**
 * A password written into the file itself (as opposed to coming from a variable) would end up in the
 * repository. Accepts `mongodb://${URI}`-style and `mongodb://user:${PASSWORD}@host`-style references.
 */
export function hasLiteralPassword(rawUri: string): boolean {
  const match = /^mongodb(?:\+srv)?:\/\/([^@/]*)@/i.exec(rawUri);
  const userInfo = match?.[1];
  if (!userInfo) return false;
  const colon = userInfo.indexOf(':');
  if (colon < 0) return false;
  const password = userInfo.slice(colon + 1);
  return password !== '' && !/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(password);
}
